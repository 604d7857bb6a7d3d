#include "io/pickle_value.h"

#include <cstdio>
#include <stdexcept>

namespace wtp::io {

using Kind = PickleValue::Kind;

const char* PickleValue::kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kBigInt:
      return "bigint";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "bytes";
    case Kind::kList:
      return "list";
    case Kind::kTuple:
      return "tuple";
    case Kind::kSet:
      return "set";
    case Kind::kDict:
      return "dict";
    case Kind::kTensor:
      return "tensor";
    case Kind::kStorage:
      return "storage";
    case Kind::kGlobal:
      return "global";
    case Kind::kObject:
      return "object";
  }
  return "?";
}

void PickleValue::expect(Kind kind) const {
  if (kind_ != kind)
    throw std::runtime_error(std::string("pickle value is a ") + kind_name() + ", not a " +
                             kind_name(kind));
}

bool PickleValue::as_bool() const {
  expect(Kind::kBool);
  return int_ != 0;
}

std::int64_t PickleValue::as_int() const {
  if (kind_ != Kind::kBool) expect(Kind::kInt);
  return int_;
}

double PickleValue::as_double() const {
  if (kind_ == Kind::kFloat) return float_;
  if (kind_ == Kind::kInt || kind_ == Kind::kBool) return static_cast<double>(int_);
  throw std::runtime_error(std::string("pickle value is a ") + kind_name() + ", not a number");
}

const std::string& PickleValue::as_string() const {
  expect(Kind::kString);
  return text_;
}

const std::string& PickleValue::as_bytes() const {
  if (kind_ != Kind::kBigInt) expect(Kind::kBytes);
  return text_;
}

const PickleValue* PickleValue::find(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key->is(Kind::kString) && e.key->text_ == key) return e.value;
  if (kind_ == Kind::kObject && state_ && state_->is(Kind::kDict)) return state_->find(key);
  return nullptr;
}

const PickleValue& PickleValue::at(std::string_view key) const {
  if (const auto* v = find(key)) return *v;
  throw std::out_of_range("pickle " + std::string(kind_name()) + " has no key '" +
                          std::string(key) + "'");
}

const torch::Tensor& PickleValue::tensor() const {
  if (kind_ != Kind::kStorage) expect(Kind::kTensor);
  return tensor_;
}

const std::string& PickleValue::module() const {
  if (kind_ != Kind::kObject) expect(Kind::kGlobal);
  return text_;
}

const std::string& PickleValue::name() const {
  if (kind_ != Kind::kObject) expect(Kind::kGlobal);
  return name_;
}

namespace {

void quote(std::string& out, const std::string& s, char q) {
  out += q;
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
}

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void render(const PickleValue& v, std::string& out, std::size_t limit) {
  if (out.size() > limit) return;
  switch (v.kind()) {
    case Kind::kNone:
      out += "None";
      return;
    case Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Kind::kBigInt:
      out += "<int of " + std::to_string(v.as_bytes().size()) + " bytes>";
      return;
    case Kind::kFloat: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", v.as_double());
      out += buf;
      return;
    }
    case Kind::kString:
      quote(out, v.as_string(), '\'');
      return;
    case Kind::kBytes:
      out += 'b';
      quote(out, v.as_bytes().substr(0, limit), '\'');
      return;
    case Kind::kTensor:
    case Kind::kStorage:
      out += std::string(v.kind_name()) + "(" +
             std::string(c10::toString(v.tensor().scalar_type())) + ", " +
             shape_string(v.tensor()) + ")";
      return;
    case Kind::kGlobal:
      out += v.qualified_name();
      return;
    default:
      break;
  }
  const char* open = "[";
  const char* close = "]";
  if (v.is(Kind::kTuple)) open = "(", close = ")";
  if (v.is(Kind::kSet)) open = "{", close = "}";
  if (v.is(Kind::kObject)) {
    out += v.qualified_name();
    if (v.args() && !v.args()->elements().empty()) render(*v.args(), out, limit);
    open = "{", close = "}";
    if (v.elements().empty() && v.entries().empty()) {
      if (v.state()) {
        out += " state=";
        render(*v.state(), out, limit);
      }
      return;
    }
  }
  if (v.is(Kind::kDict)) open = "{", close = "}";
  out += open;
  bool first = true;
  for (const auto* e : v.elements()) {
    if (out.size() > limit) break;
    if (!first) out += ", ";
    first = false;
    render(*e, out, limit);
  }
  for (const auto& e : v.entries()) {
    if (out.size() > limit) break;
    if (!first) out += ", ";
    first = false;
    render(*e.key, out, limit);
    out += ": ";
    render(*e.value, out, limit);
  }
  if (v.is(Kind::kTuple) && v.elements().size() == 1) out += ",";
  out += close;
}

}  // namespace

std::string PickleValue::repr(std::size_t max_chars) const {
  std::string out;
  render(*this, out, max_chars);
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

PickleDocument::PickleDocument()
    : nodes_(std::make_shared<std::vector<std::unique_ptr<PickleValue>>>()) {
  root_ = make(Kind::kNone);
}

PickleValue* PickleDocument::make(Kind kind) {
  nodes_->push_back(std::unique_ptr<PickleValue>(new PickleValue(kind)));
  return nodes_->back().get();
}

}  // namespace wtp::io
