#include "io/unpickler.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace wtp::io::detail {
namespace {

using Kind = PickleValue::Kind;
using A = NodeAccess;

std::string hex_byte(unsigned char c) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

/// Appends code point `cp` to `out` as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// UTF-8 -> code points; returns false on invalid UTF-8.
bool decode_utf8(std::string_view s, std::vector<std::uint32_t>& out) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + static_cast<std::size_t>(n) >= s.size()) return false;
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out.push_back(cp);
    i += n + 1;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Machine {
 public:
  Machine(PickleDocument& doc, std::string_view data, std::size_t pos, UnpicklerHooks* hooks)
      : doc_(doc), data_(data), pos_(pos), hooks_(hooks) {}

  const PickleValue* run();
  std::size_t pos() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("pickle opcode at byte " + std::to_string(op_pos_) + ": " + what);
  }

  // ---- reading ----
  std::string_view take(std::size_t n) {
    if (n > data_.size() - pos_)
      fail("truncated: needs " + std::to_string(n) + " more bytes, only " +
           std::to_string(data_.size() - pos_) + " left");
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::uint64_t read_le(std::size_t n) {
    auto b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
      v |= std::uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
    return v;
  }
  std::string_view line() {
    auto end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated: text argument without a newline");
    auto out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  std::int64_t parse_decimal(std::string_view text) {
    std::string s(text);
    if (s.empty()) fail("empty integer");
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end != s.c_str() + s.size() || errno == ERANGE)
      fail("bad or too large integer '" + s.substr(0, 40) + "'");
    return v;
  }

  /// A decimal integer of any size (text opcodes INT/LONG) as int or big int.
  PickleValue* decimal_value(std::string_view text) {
    bool negative = !text.empty() && text[0] == '-';
    std::string_view digits = text.substr(negative || (!text.empty() && text[0] == '+') ? 1 : 0);
    if (digits.empty() || digits.size() > 4300)
      fail("bad integer '" + std::string(text.substr(0, 40)) + "'");
    std::vector<unsigned char> mag;  // little-endian magnitude
    for (char c : digits) {
      if (c < '0' || c > '9') fail("bad integer '" + std::string(text.substr(0, 40)) + "'");
      unsigned carry = static_cast<unsigned>(c - '0');
      for (auto& b : mag) {
        unsigned v = b * 10u + carry;
        b = static_cast<unsigned char>(v & 0xFF);
        carry = v >> 8;
      }
      if (carry) mag.push_back(static_cast<unsigned char>(carry));
    }
    mag.push_back(0);  // room for the sign bit
    if (negative) {
      unsigned carry = 1;
      for (auto& b : mag) {
        unsigned v = static_cast<unsigned char>(~b) + carry;
        b = static_cast<unsigned char>(v & 0xFF);
        carry = v >> 8;
      }
    }
    // Minimal two's complement, as Python writes it: drop redundant sign bytes.
    while (mag.size() > 1) {
      unsigned char top = mag.back(), next = mag[mag.size() - 2];
      if ((top == 0x00 && !(next & 0x80)) || (top == 0xFF && (next & 0x80)))
        mag.pop_back();
      else
        break;
    }
    return make_long(std::string_view(reinterpret_cast<const char*>(mag.data()), mag.size()));
  }

  /// Counts work that is not paid for by input bytes (copies of containers, hashing of
  /// dict keys); a hostile pickle could otherwise make it quadratic in the input size.
  void charge(std::size_t units) {
    work_ += units;
    if (work_ > 64 * static_cast<std::uint64_t>(data_.size()) + (1u << 20))
      fail("the pickle copies far more data than it contains (malformed or hostile file)");
  }

  // ---- values ----
  PickleValue* make(Kind kind) { return A::make(doc_, kind); }
  PickleValue* make_int(std::int64_t v) {
    auto* n = make(Kind::kInt);
    A::int_value(n) = v;
    return n;
  }
  PickleValue* make_text(Kind kind, std::string_view text) {
    auto* n = make(kind);
    A::text(n) = std::string(text);
    return n;
  }
  PickleValue* make_bool(bool b) {
    PickleValue*& cached = b ? true_ : false_;
    if (!cached) {
      cached = make(Kind::kBool);
      A::int_value(cached) = b ? 1 : 0;
    }
    return cached;
  }
  PickleValue* none() {
    if (!none_) none_ = make(Kind::kNone);
    return none_;
  }
  PickleValue* make_long(std::string_view bytes) {
    std::int64_t v = 0;
    if (small_int_from_bytes(bytes, v)) return make_int(v);
    return make_text(Kind::kBigInt, bytes);
  }
  PickleValue* make_seq(Kind kind, std::vector<PickleValue*> items) {
    auto* n = make(kind);
    auto& el = A::elements(n);
    el.assign(items.begin(), items.end());
    return n;
  }

  // ---- stack ----
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PickleValue* v) { stack_.push_back(v); }
  PickleValue* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    auto* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<PickleValue*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  void memo_put(std::uint64_t index) { memo_[index] = top(); }
  void memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo key " + std::to_string(index) + " was never stored");
    push(it->second);
  }

  // ---- containers ----
  static std::string dict_key_id(const PickleValue* key) {
    switch (key->kind()) {
      case Kind::kString:
        return "s" + key->as_string();
      case Kind::kBytes:
        return "b" + key->as_bytes();
      case Kind::kInt:
      case Kind::kBool:
        return "i" + std::to_string(key->as_int());
      case Kind::kNone:
        return "n";
      default:
        return {};  // not deduplicated
    }
  }
  void set_item(PickleValue* target, const PickleValue* key, const PickleValue* value) {
    if (!target->is(Kind::kDict) && !target->is(Kind::kObject))
      fail(std::string("SETITEM on a ") + target->kind_name() + ", expected a dict");
    auto& entries = A::entries(target);
    charge(1 + A::text(A::mut(key)).size());
    auto id = dict_key_id(key);
    if (!id.empty()) {
      auto& index = dict_index_[target];
      auto [it, inserted] = index.emplace(id, entries.size());
      if (!inserted) {
        entries[it->second].value = value;
        return;
      }
    }
    entries.push_back({key, value});
  }
  void append(PickleValue* target, const std::vector<PickleValue*>& items) {
    if (!target->is(Kind::kList) && !target->is(Kind::kObject) && !target->is(Kind::kSet))
      fail(std::string("APPEND on a ") + target->kind_name() + ", expected a list");
    auto& el = A::elements(target);
    el.insert(el.end(), items.begin(), items.end());
  }
  void build(PickleValue* target, PickleValue* state) {
    auto*& current = A::state(target);
    if (current && current->is(Kind::kDict) && state->is(Kind::kDict)) {
      charge(current->entries().size() + state->entries().size());
      auto* merged = make(Kind::kDict);
      for (auto& e : current->entries()) set_item(merged, e.key, e.value);
      for (auto& e : state->entries()) set_item(merged, e.key, e.value);
      current = merged;
    } else {
      current = state;
    }
  }

  PickleValue* make_global(std::string_view module, std::string_view name) {
    auto* n = make(Kind::kGlobal);
    A::text(n) = std::string(module);
    A::name(n) = std::string(name);
    return n;
  }
  PickleValue* make_object(const PickleValue* cls, const PickleValue* args) {
    auto* n = make(Kind::kObject);
    A::text(n) = cls->module();
    A::name(n) = cls->name();
    A::args(n) = args;
    return n;
  }

  PickleValue* call(PickleValue* callable, PickleValue* args);
  PickleValue* call_builtin(const PickleValue& callable, const PickleValue& args);

  PickleDocument& doc_;
  std::string_view data_;
  std::size_t pos_;
  std::size_t op_pos_ = 0;
  UnpicklerHooks* hooks_;
  std::vector<PickleValue*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PickleValue*> memo_;
  std::unordered_map<const PickleValue*, std::unordered_map<std::string, std::size_t>> dict_index_;
  std::uint64_t work_ = 0;
  PickleValue* none_ = nullptr;
  PickleValue* true_ = nullptr;
  PickleValue* false_ = nullptr;
};

bool is_builtins(const std::string& module) {
  return module == "builtins" || module == "__builtin__";
}

PickleValue* Machine::call_builtin(const PickleValue& callable, const PickleValue& args) {
  const auto& module = callable.module();
  const auto& name = callable.name();
  const auto& a = args.elements();
  auto fill_dict = [&](PickleValue* d, const PickleValue* source) {
    charge(source->entries().size() + source->elements().size());
    if (source->is(Kind::kDict)) {
      for (auto& e : source->entries()) set_item(d, e.key, e.value);
      return;
    }
    for (auto* pair : source->elements()) {
      if ((!pair->is(Kind::kTuple) && !pair->is(Kind::kList)) || pair->elements().size() != 2)
        fail("dict(...) argument is not a sequence of pairs");
      set_item(d, pair->elements()[0], pair->elements()[1]);
    }
  };
  if ((module == "collections" && name == "OrderedDict") ||
      (is_builtins(module) && name == "dict")) {
    auto* d = make(Kind::kDict);
    if (!a.empty()) fill_dict(d, a[0]);
    return d;
  }
  if (module == "collections" && name == "defaultdict") {
    auto* d = make(Kind::kDict);
    if (a.size() >= 2) fill_dict(d, a[1]);
    return d;
  }
  if (is_builtins(module) &&
      (name == "set" || name == "frozenset" || name == "list" || name == "tuple")) {
    Kind kind = name == "list" ? Kind::kList : name == "tuple" ? Kind::kTuple : Kind::kSet;
    auto* s = make(kind);
    if (!a.empty()) {
      charge(a[0]->entries().size() + a[0]->elements().size());
      if (a[0]->is(Kind::kDict)) {
        for (auto& e : a[0]->entries()) A::elements(s).push_back(e.key);
      } else {
        A::elements(s) = a[0]->elements();
      }
    }
    return s;
  }
  auto latin1 = [&](const PickleValue& text) {
    std::vector<std::uint32_t> cps;
    if (!decode_utf8(text.as_string(), cps)) fail("invalid UTF-8 in a string to encode");
    std::string out;
    for (auto cp : cps) {
      if (cp > 255) fail("character beyond latin-1 in a bytes value");
      out += static_cast<char>(cp);
    }
    return out;
  };
  if ((module == "_codecs" && name == "encode") || (is_builtins(module) && name == "bytearray") ||
      (is_builtins(module) && name == "bytes")) {
    if (a.empty()) return make_text(Kind::kBytes, "");
    charge(A::text(A::mut(a[0])).size());
    if (a[0]->is(Kind::kBytes)) return make_text(Kind::kBytes, a[0]->as_bytes());
    if (a[0]->is(Kind::kString)) {
      if (a.size() >= 2 && a[1]->is(Kind::kString) && a[1]->as_string() != "latin1" &&
          a[1]->as_string() != "latin-1" && a[1]->as_string() != "iso-8859-1")
        return nullptr;  // other encodings: keep as an inert object
      return make_text(Kind::kBytes, latin1(*a[0]));
    }
    return nullptr;
  }
  if ((module == "copyreg" || module == "copy_reg") && name == "_reconstructor") {
    if (a.empty() || !a[0]->is(Kind::kGlobal)) fail("_reconstructor needs a class argument");
    auto* obj = make_object(a[0], nullptr);
    if (a.size() >= 3 && !a[2]->is(Kind::kNone)) A::args(obj) = a[2];
    return obj;
  }
  return nullptr;
}

PickleValue* Machine::call(PickleValue* callable, PickleValue* args) {
  if (!args->is(Kind::kTuple))
    fail(std::string("call arguments are a ") + args->kind_name() + ", expected a tuple");
  if (callable->is(Kind::kObject)) return make_object(callable, args);
  if (!callable->is(Kind::kGlobal))
    fail(std::string("call of a ") + callable->kind_name() + ", expected a class or function");
  if (auto* v = call_builtin(*callable, *args)) return v;
  if (hooks_)
    if (auto* v = hooks_->call(doc_, *callable, *args)) return v;
  return make_object(callable, args);
}

const PickleValue* Machine::run() {
  while (true) {
    op_pos_ = pos_;
    auto op = static_cast<unsigned char>(take(1)[0]);
    switch (op) {
      case 0x80:  // PROTO
        if (static_cast<unsigned char>(take(1)[0]) > 5) fail("pickle protocol above 5");
        break;
      case 0x95: {  // FRAME
        auto n = read_le(8);
        if (n > data_.size() - pos_) fail("frame longer than the remaining data");
        break;
      }
      case '.':  // STOP
        return pop();
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        if (stack_.size() > floor())
          stack_.pop_back();
        else
          pop_mark();
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        push(top());
        break;
      case 'N':
        push(none());
        break;
      case 0x88:
        push(make_bool(true));
        break;
      case 0x89:
        push(make_bool(false));
        break;
      case 'I': {  // INT (text)
        auto text = line();
        if (text == "00" || text == "01")
          push(make_bool(text == "01"));
        else
          push(decimal_value(text));
        break;
      }
      case 'L': {  // LONG (text)
        auto text = line();
        if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
        push(decimal_value(text));
        break;
      }
      case 'J':
        push(make_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(4)))));
        break;
      case 'K':
        push(make_int(static_cast<std::int64_t>(read_le(1))));
        break;
      case 'M':
        push(make_int(static_cast<std::int64_t>(read_le(2))));
        break;
      case 0x8a:  // LONG1
        push(make_long(take(read_le(1))));
        break;
      case 0x8b: {  // LONG4
        auto n = static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(4)));
        if (n < 0) fail("negative LONG4 length");
        push(make_long(take(static_cast<std::size_t>(n))));
        break;
      }
      case 'F': {  // FLOAT (text)
        std::string text(line());
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size())
          fail("bad float '" + text.substr(0, 40) + "'");
        auto* n = make(Kind::kFloat);
        A::float_value(n) = v;
        push(n);
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        auto b = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(b[i]);
        double v;
        std::memcpy(&v, &bits, 8);
        auto* n = make(Kind::kFloat);
        A::float_value(n) = v;
        push(n);
        break;
      }
      case 'S': {  // STRING (quoted repr, Python 2 str)
        auto text = line();
        if (text.size() < 2 || text.front() != text.back() ||
            (text.front() != '\'' && text.front() != '"'))
          fail("STRING argument is not quoted");
        text = text.substr(1, text.size() - 2);
        std::string out;
        for (std::size_t i = 0; i < text.size(); ++i) {
          if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
          }
          char e = text[++i];
          switch (e) {
            case 'n':
              out += '\n';
              break;
            case 't':
              out += '\t';
              break;
            case 'r':
              out += '\r';
              break;
            case '0':
              out += '\0';
              break;
            case 'x': {
              if (i + 2 >= text.size()) fail("bad \\x escape");
              int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
              if (hi < 0 || lo < 0) fail("bad \\x escape");
              out += static_cast<char>(hi * 16 + lo);
              i += 2;
              break;
            }
            default:
              out += e;
          }
        }
        push(make_text(Kind::kString, out));
        break;
      }
      case 'V': {  // UNICODE (raw-unicode-escape)
        auto text = line();
        std::string out;
        for (std::size_t i = 0; i < text.size(); ++i) {
          if (text[i] == '\\' && i + 1 < text.size() &&
              (text[i + 1] == 'u' || text[i + 1] == 'U')) {
            std::size_t digits = text[i + 1] == 'u' ? 4 : 8;
            if (i + 1 + digits >= text.size()) fail("bad \\u escape");
            std::uint32_t cp = 0;
            for (std::size_t k = 0; k < digits; ++k) {
              int h = hex_value(text[i + 2 + k]);
              if (h < 0) fail("bad \\u escape");
              cp = cp * 16 + static_cast<std::uint32_t>(h);
            }
            if (cp > 0x10FFFF) fail("bad \\U escape");
            append_utf8(out, cp);
            i += 1 + digits;
          } else {
            append_utf8(out, static_cast<unsigned char>(text[i]));
          }
        }
        push(make_text(Kind::kString, out));
        break;
      }
      case 'T':  // BINSTRING
        push(make_text(Kind::kString, take(static_cast<std::uint32_t>(read_le(4)))));
        break;
      case 'U':  // SHORT_BINSTRING
        push(make_text(Kind::kString, take(read_le(1))));
        break;
      case 'X':  // BINUNICODE
        push(make_text(Kind::kString, take(read_le(4))));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        push(make_text(Kind::kString, take(read_le(1))));
        break;
      case 0x8d:  // BINUNICODE8
        push(make_text(Kind::kString, take(read_le(8))));
        break;
      case 'B':  // BINBYTES
        push(make_text(Kind::kBytes, take(read_le(4))));
        break;
      case 'C':  // SHORT_BINBYTES
        push(make_text(Kind::kBytes, take(read_le(1))));
        break;
      case 0x8e:  // BINBYTES8
      case 0x96:  // BYTEARRAY8
        push(make_text(Kind::kBytes, take(read_le(8))));
        break;
      case ']':
        push(make(Kind::kList));
        break;
      case ')':
        push(make(Kind::kTuple));
        break;
      case '}':
        push(make(Kind::kDict));
        break;
      case 0x8f:  // EMPTY_SET
        push(make(Kind::kSet));
        break;
      case 'l':  // LIST
        push(make_seq(Kind::kList, pop_mark()));
        break;
      case 't':  // TUPLE
        push(make_seq(Kind::kTuple, pop_mark()));
        break;
      case 0x91:  // FROZENSET
        push(make_seq(Kind::kSet, pop_mark()));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::size_t n = op - 0x84;
        std::vector<PickleValue*> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop();
        push(make_seq(Kind::kTuple, std::move(items)));
        break;
      }
      case 'd': {  // DICT
        auto items = pop_mark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        auto* d = make(Kind::kDict);
        for (std::size_t i = 0; i < items.size(); i += 2) set_item(d, items[i], items[i + 1]);
        push(d);
        break;
      }
      case 'a': {  // APPEND
        auto* v = pop();
        append(top(), {v});
        break;
      }
      case 'e':     // APPENDS
      case 0x90: {  // ADDITEMS
        auto items = pop_mark();
        append(top(), items);
        break;
      }
      case 's': {  // SETITEM
        auto* v = pop();
        auto* k = pop();
        set_item(top(), k, v);
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        auto* target = top();
        for (std::size_t i = 0; i < items.size(); i += 2) set_item(target, items[i], items[i + 1]);
        break;
      }
      case 'c': {  // GLOBAL
        auto module = line();
        auto name = line();
        push(make_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto* name = pop();
        auto* module = pop();
        if (!name->is(Kind::kString) || !module->is(Kind::kString))
          fail("STACK_GLOBAL needs two strings");
        push(make_global(module->as_string(), name->as_string()));
        break;
      }
      case 'R': {  // REDUCE
        auto* args = pop();
        auto* callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        auto* args = pop();
        auto* cls = pop();
        push(call(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX (kwargs dropped)
        pop();
        auto* args = pop();
        auto* cls = pop();
        push(call(cls, args));
        break;
      }
      case 'i': {  // INST
        auto module = line();
        auto name = line();
        auto* cls = make_global(module, name);
        push(call(cls, make_seq(Kind::kTuple, pop_mark())));
        break;
      }
      case 'o': {  // OBJ
        auto items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        auto* cls = items[0];
        items.erase(items.begin());
        push(call(cls, make_seq(Kind::kTuple, std::move(items))));
        break;
      }
      case 'b': {  // BUILD
        auto* state = pop();
        build(top(), state);
        break;
      }
      case 'p':  // PUT
        memo_put(static_cast<std::uint64_t>(parse_decimal(line())));
        break;
      case 'q':
        memo_put(read_le(1));
        break;
      case 'r':
        memo_put(read_le(4));
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size());
        break;
      case 'g':
        memo_get(static_cast<std::uint64_t>(parse_decimal(line())));
        break;
      case 'h':
        memo_get(read_le(1));
        break;
      case 'j':
        memo_get(read_le(4));
        break;
      case 'P':    // PERSID
      case 'Q': {  // BINPERSID
        PickleValue* pid = op == 'P' ? make_text(Kind::kString, line()) : pop();
        if (!hooks_) fail("persistent id outside a torch file");
        push(hooks_->persistent_load(doc_, *pid));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail("extension registry opcodes (EXT1/2/4) are not supported");
      case 0x97:
      case 0x98:
        fail("out-of-band buffers (pickle protocol 5 NEXT_BUFFER) are not supported");
      default:
        fail("unknown opcode " + hex_byte(op));
    }
  }
}

}  // namespace

bool small_int_from_bytes(std::string_view bytes, std::int64_t& out) {
  if (bytes.empty()) {
    out = 0;
    return true;
  }
  bool negative = static_cast<unsigned char>(bytes.back()) & 0x80;
  std::size_t n = bytes.size();
  // Drop redundant sign-extension bytes beyond 8.
  for (std::size_t i = 8; i < n; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c != (negative ? 0xFF : 0x00)) return false;
  }
  std::uint64_t v = negative ? ~std::uint64_t(0) : 0;
  std::size_t used = std::min<std::size_t>(n, 8);
  for (std::size_t i = 0; i < used; ++i) {
    v &= ~(std::uint64_t(0xFF) << (8 * i));
    v |= std::uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  auto s = static_cast<std::int64_t>(v);
  if (n > 8 && ((s < 0) != negative)) return false;
  out = s;
  return true;
}

const PickleValue* unpickle(PickleDocument& doc, std::string_view data, std::size_t& pos,
                            UnpicklerHooks* hooks) {
  Machine machine(doc, data, pos, hooks);
  const PickleValue* root = machine.run();
  pos = machine.pos();
  return root;
}

namespace {
std::size_t child_count(const PickleValue* v) {
  return v->elements().size() + 2 * v->entries().size() + 2;
}
const PickleValue* child(const PickleValue* v, std::size_t i) {
  auto ne = v->elements().size();
  if (i < ne) return v->elements()[i];
  i -= ne;
  auto nd = 2 * v->entries().size();
  if (i < nd) return i % 2 ? v->entries()[i / 2].value : v->entries()[i / 2].key;
  i -= nd;
  return i == 0 ? v->args() : v->state();
}
}  // namespace

void check_graph(const PickleValue& root) {
  // Iterative post-order: height of each node, -1 while it is on the current path.
  std::unordered_map<const PickleValue*, int> height;
  struct Frame {
    const PickleValue* node;
    std::size_t next;
    int max_child;
  };
  std::vector<Frame> path{{&root, 0, 0}};
  height[&root] = -1;
  while (!path.empty()) {
    auto& f = path.back();
    if (f.next < child_count(f.node)) {
      const PickleValue* c = child(f.node, f.next++);
      if (!c) continue;
      auto it = height.find(c);
      if (it == height.end()) {
        height[c] = -1;
        path.push_back({c, 0, 0});
      } else if (it->second < 0) {
        throw FormatError("the pickled structure refers to itself (a cycle); not supported");
      } else {
        f.max_child = std::max(f.max_child, it->second);
      }
      continue;
    }
    int h = f.max_child + 1;
    if (h > kMaxPickleDepth)
      throw FormatError("containers nested deeper than " + std::to_string(kMaxPickleDepth));
    height[f.node] = h;
    path.pop_back();
    if (!path.empty()) path.back().max_child = std::max(path.back().max_child, h);
  }
}

}  // namespace wtp::io::detail
