#include "io/torch_file.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "io/unpickler.h"

namespace wtp::io {
namespace {

using Kind = PickleValue::Kind;
using detail::FormatError;
using A = detail::NodeAccess;
using Blob = std::shared_ptr<std::string>;

constexpr int kMaxDims = 64;
constexpr int kMaxNestedLoads = 2;
/// The legacy format's magic number 0x1950a86a20f9469cfc6c, little-endian.
constexpr std::string_view kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);

std::optional<c10::ScalarType> storage_dtype(const PickleValue& type) {
  if (!type.is(Kind::kGlobal)) return std::nullopt;
  if (type.module() != "torch" && type.module() != "torch.cuda") return std::nullopt;
  static const std::map<std::string, c10::ScalarType> kTypes = {
      {"FloatStorage", c10::kFloat},
      {"DoubleStorage", c10::kDouble},
      {"HalfStorage", c10::kHalf},
      {"BFloat16Storage", c10::kBFloat16},
      {"LongStorage", c10::kLong},
      {"IntStorage", c10::kInt},
      {"ShortStorage", c10::kShort},
      {"CharStorage", c10::kChar},
      {"ByteStorage", c10::kByte},
      {"BoolStorage", c10::kBool},
      {"ComplexFloatStorage", c10::kComplexFloat},
      {"ComplexDoubleStorage", c10::kComplexDouble},
      {"UntypedStorage", c10::kByte},
  };
  auto it = kTypes.find(type.name());
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

/// A string-like pickle value (str, bytes, or an int written as a key) as text.
std::optional<std::string> text_of(const PickleValue& v) {
  if (v.is(Kind::kString)) return v.as_string();
  if (v.is(Kind::kBytes)) return v.as_bytes();
  if (v.is(Kind::kInt)) return std::to_string(v.as_int());
  return std::nullopt;
}

bool mul_ok(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}
bool add_ok(std::int64_t a, std::int64_t b, std::int64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

c10::Storage storage_from_blob(const Blob& blob) {
  auto* ctx = new Blob(blob);
  c10::DataPtr ptr(
      blob->data(), ctx, [](void* p) { delete static_cast<Blob*>(p); }, c10::Device(c10::kCPU));
  return c10::Storage(c10::Storage::use_byte_size_t(), blob->size(), std::move(ptr), nullptr,
                      false);
}

/// One storage reference from a persistent id: which bytes and as which dtype.
struct StorageRef {
  std::string key;  // root storage key
  c10::ScalarType dtype = c10::kByte;
  std::int64_t numel = 0;                 // elements of the root storage (as declared)
  std::int64_t base = 0;                  // first element of this reference (legacy views)
  std::int64_t available = 0;             // elements visible from base
  std::optional<c10::Storage> preloaded;  // torch.storage._load_from_bytes
};

struct PendingTensor {
  std::size_t storage = 0;  // index into storages
  std::int64_t offset = 0;
  std::vector<std::int64_t> sizes, strides;
};

class TorchHooks : public detail::UnpicklerHooks {
 public:
  /// `nesting`: how many _load_from_bytes levels enclose this file. `persistent_ids`:
  /// false for plain pickles, where storages can only come embedded (_load_from_bytes).
  TorchHooks(int nesting, bool persistent_ids)
      : nesting_(nesting), persistent_ids_(persistent_ids) {}

  PickleValue* persistent_load(PickleDocument& doc, const PickleValue& pid) override;
  PickleValue* call(PickleDocument& doc, const PickleValue& callable,
                    const PickleValue& args) override;

  /// Builds every storage and tensor once the storage bytes are known.
  /// `blobs` maps each root storage key to its bytes (mutable: bool data is normalised).
  void materialize(std::unordered_map<std::string, Blob>& blobs);

  /// Root storage keys and their declared element counts/dtypes (legacy format reading).
  const std::map<std::string, std::pair<c10::ScalarType, std::int64_t>>& roots() const {
    return roots_;
  }

 private:
  PickleValue* tensor_node(PickleDocument& doc, std::size_t pending, bool requires_grad) {
    auto* n = A::make(doc, Kind::kTensor);
    A::int_value(n) = static_cast<std::int64_t>(pending);
    A::requires_grad(n) = requires_grad;
    tensor_nodes_.push_back(n);
    return n;
  }

  int nesting_;
  bool persistent_ids_;
  std::vector<StorageRef> storages_;
  std::vector<PickleValue*> storage_nodes_;
  std::vector<PendingTensor> pending_;
  std::vector<PickleValue*> tensor_nodes_;
  std::map<std::string, std::pair<c10::ScalarType, std::int64_t>> roots_;
  std::unordered_set<std::string> warned_;
};

TorchFile load_bytes(std::string bytes, const std::string& source, int nesting);

PickleValue* TorchHooks::persistent_load(PickleDocument& doc, const PickleValue& pid) {
  if (!persistent_ids_)
    throw FormatError("persistent id in a plain pickle (not a torch.save file)");
  if (!pid.is(Kind::kTuple) || pid.elements().empty())
    throw FormatError("persistent id is a " + std::string(pid.kind_name()) +
                      ", expected a tuple ('storage', ...)");
  const auto& e = pid.elements();
  auto type = text_of(*e[0]);
  if (type && *type == "module" && e.size() >= 2) return A::mut(e[1]);  // legacy source info
  if (!type || *type != "storage")
    throw FormatError("persistent id of unknown type " + e[0]->repr(40));
  if (e.size() != 5 && e.size() != 6)
    throw FormatError("storage persistent id has " + std::to_string(e.size()) +
                      " fields, expected 5 or 6");
  auto dtype = storage_dtype(*e[1]);
  if (!dtype) throw FormatError("unsupported storage type " + e[1]->repr(60));
  auto key = text_of(*e[2]);
  if (!key) throw FormatError("storage key is a " + std::string(e[2]->kind_name()));
  if (!e[4]->is(Kind::kInt) || e[4]->as_int() < 0)
    throw FormatError("storage size is " + e[4]->repr(40) + ", expected an int >= 0");
  StorageRef ref;
  ref.key = *key;
  ref.dtype = *dtype;
  ref.numel = e[4]->as_int();
  ref.available = ref.numel;
  auto [it, inserted] = roots_.emplace(ref.key, std::make_pair(ref.dtype, ref.numel));
  if (!inserted && it->second.second != ref.numel)
    throw FormatError("storage '" + ref.key + "' declared with " + std::to_string(ref.numel) +
                      " and " + std::to_string(it->second.second) + " elements");
  if (e.size() == 6 && !e[5]->is(Kind::kNone)) {  // legacy view: (view_key, offset, size)
    const auto& v = e[5]->elements();
    if (!e[5]->is(Kind::kTuple) || v.size() != 3 || !v[1]->is(Kind::kInt) || !v[2]->is(Kind::kInt))
      throw FormatError("bad storage view metadata " + e[5]->repr(60));
    std::int64_t offset = v[1]->as_int(), size = v[2]->as_int(), end = 0;
    if (offset < 0 || size < 0 || !add_ok(offset, size, end) || end > ref.numel)
      throw FormatError("storage view [" + std::to_string(offset) + ", +" + std::to_string(size) +
                        ") is outside storage '" + ref.key + "' of " + std::to_string(ref.numel) +
                        " elements");
    ref.base = offset;
    ref.available = size;
  }
  auto* node = A::make(doc, Kind::kStorage);
  A::int_value(node) = static_cast<std::int64_t>(storages_.size());
  storages_.push_back(std::move(ref));
  storage_nodes_.push_back(node);
  return node;
}

PickleValue* TorchHooks::call(PickleDocument& doc, const PickleValue& callable,
                              const PickleValue& args) {
  const auto& module = callable.module();
  const auto& name = callable.name();
  const auto& a = args.elements();
  auto int_tuple = [](const PickleValue& v, const char* what) {
    if (!v.is(Kind::kTuple) && !v.is(Kind::kList))
      throw FormatError(std::string("tensor ") + what + " is a " + v.kind_name() +
                        ", expected a tuple of ints");
    if (v.elements().size() > static_cast<std::size_t>(kMaxDims))
      throw FormatError(std::string("tensor ") + what + " has more than " +
                        std::to_string(kMaxDims) + " dimensions");
    std::vector<std::int64_t> out;
    for (const auto* x : v.elements()) {
      if (!x->is(Kind::kInt) || x->as_int() < 0)
        throw FormatError(std::string("tensor ") + what + " " + v.repr(80) +
                          " has an entry that is not an int >= 0");
      out.push_back(x->as_int());
    }
    return out;
  };
  if (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_tensor")) {
    if (a.size() < 4)
      throw FormatError(name + " called with " + std::to_string(a.size()) + " arguments");
    if (!a[0]->is(Kind::kStorage))
      throw FormatError(name + ": first argument is a " + std::string(a[0]->kind_name()) +
                        ", expected a storage");
    if (!a[1]->is(Kind::kInt) || a[1]->as_int() < 0)
      throw FormatError(name + ": storage offset " + a[1]->repr(40) + " is not an int >= 0");
    PendingTensor p;
    p.storage = static_cast<std::size_t>(A::int_value(A::mut(a[0])));
    p.offset = a[1]->as_int();
    p.sizes = int_tuple(*a[2], "size");
    p.strides = int_tuple(*a[3], "stride");
    if (p.sizes.size() != p.strides.size())
      throw FormatError("tensor size " + a[2]->repr(80) + " and stride " + a[3]->repr(80) +
                        " differ in length");
    bool requires_grad = a.size() >= 5 && a[4]->is(Kind::kBool) && a[4]->as_bool();
    pending_.push_back(std::move(p));
    return tensor_node(doc, pending_.size() - 1, requires_grad);
  }
  if ((module == "torch._utils" &&
       (name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state")) ||
      (module == "torch.nn.parameter" && name == "Parameter")) {
    if (a.empty() || !a[0]->is(Kind::kTensor))
      throw FormatError(module + "." + name + " without a tensor argument");
    bool requires_grad = a.size() < 2 || (a[1]->is(Kind::kBool) && a[1]->as_bool());
    return tensor_node(doc, static_cast<std::size_t>(A::int_value(A::mut(a[0]))), requires_grad);
  }
  if (module == "torch" && name == "Size") {
    if (a.empty() || a[0]->elements().size() > static_cast<std::size_t>(kMaxDims))
      throw FormatError("torch.Size needs one tuple of at most " + std::to_string(kMaxDims) +
                        " ints");
    auto* t = A::make(doc, Kind::kTuple);
    A::elements(t) = a[0]->elements();
    return t;
  }
  if (module == "torch.storage" && name == "_load_from_bytes") {
    if (a.size() != 1 || !a[0]->is(Kind::kBytes))
      throw FormatError("_load_from_bytes needs one bytes argument");
    if (nesting_ >= kMaxNestedLoads) throw FormatError("torch files nested too deeply");
    std::optional<TorchFile> loaded;
    try {
      loaded.emplace(load_bytes(a[0]->as_bytes(), "embedded storage", nesting_ + 1));
    } catch (const std::runtime_error& e) {
      throw FormatError(e.what());
    }
    const TorchFile& inner = *loaded;
    if (!inner.root().is(Kind::kStorage))
      throw FormatError("_load_from_bytes payload is a " + std::string(inner.root().kind_name()) +
                        ", expected a storage");
    const auto& t = inner.root().tensor();
    StorageRef ref;
    ref.key = "<embedded " + std::to_string(storages_.size()) + ">";
    ref.dtype = t.scalar_type();
    ref.numel = t.numel();
    ref.base = t.storage_offset();
    ref.available = t.numel();
    ref.preloaded = t.storage();
    auto* node = A::make(doc, Kind::kStorage);
    A::int_value(node) = static_cast<std::int64_t>(storages_.size());
    storages_.push_back(std::move(ref));
    storage_nodes_.push_back(node);
    return node;
  }
  if (module == "torch._utils" && name.rfind("_rebuild_", 0) == 0) {
    if (warned_.insert(name).second)
      log::warn("torch file: ", module, ".", name,
                " (quantized, sparse, meta or device tensors) is kept as an inert object");
  }
  return nullptr;
}

void TorchHooks::materialize(std::unordered_map<std::string, Blob>& blobs) {
  std::unordered_map<std::string, c10::Storage> built;
  std::vector<torch::Tensor> storage_tensors(storages_.size());
  for (std::size_t i = 0; i < storages_.size(); ++i) {
    auto& r = storages_[i];
    c10::Storage storage;
    if (r.preloaded) {
      storage = *r.preloaded;
    } else {
      auto it = blobs.find(r.key);
      if (it == blobs.end())
        throw FormatError("storage '" + r.key + "' is referenced but its data is missing");
      std::int64_t nbytes = 0;
      if (!mul_ok(r.numel, static_cast<std::int64_t>(c10::elementSize(r.dtype)), nbytes) ||
          static_cast<std::uint64_t>(nbytes) > it->second->size())
        throw FormatError("storage '" + r.key + "' declares " + std::to_string(r.numel) + " " +
                          c10::toString(r.dtype) + " elements but its data has " +
                          std::to_string(it->second->size()) + " bytes");
      if (r.dtype == c10::kBool)
        for (std::int64_t k = r.base; k < r.base + r.available; ++k)
          (*it->second)[static_cast<std::size_t>(k)] =
              (*it->second)[static_cast<std::size_t>(k)] ? 1 : 0;
      auto b = built.find(r.key);
      if (b == built.end()) b = built.emplace(r.key, storage_from_blob(it->second)).first;
      storage = b->second;
    }
    storage_tensors[i] = torch::empty({0}, torch::TensorOptions().dtype(r.dtype))
                             .set_(storage, r.base, {r.available}, {1});
    A::tensor(storage_nodes_[i]) = storage_tensors[i];
  }
  std::vector<torch::Tensor> tensors(pending_.size());
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    const auto& p = pending_[i];
    const auto& r = storages_[p.storage];
    std::int64_t numel = 1, last = p.offset;
    bool ok = true;
    for (std::size_t d = 0; d < p.sizes.size(); ++d) ok = ok && mul_ok(numel, p.sizes[d], numel);
    if (ok && numel > 0) {
      for (std::size_t d = 0; d < p.sizes.size() && ok; ++d) {
        std::int64_t step = 0;
        ok = mul_ok(p.sizes[d] - 1, p.strides[d], step) && add_ok(last, step, last);
      }
      ok = ok && last < r.available;
    }
    if (!ok) {
      std::string shape;
      for (std::size_t d = 0; d < p.sizes.size(); ++d)
        shape += (d ? "x" : "") + std::to_string(p.sizes[d]) + "/" + std::to_string(p.strides[d]);
      throw FormatError("tensor (size/stride " + shape + ", offset " + std::to_string(p.offset) +
                        ") reaches outside its storage '" + r.key + "' of " +
                        std::to_string(r.available) + " elements");
    }
    tensors[i] =
        torch::empty({0}, torch::TensorOptions().dtype(r.dtype))
            .set_(storage_tensors[p.storage].storage(), r.base + p.offset, p.sizes, p.strides);
  }
  for (auto* n : tensor_nodes_) A::tensor(n) = tensors[static_cast<std::size_t>(A::int_value(n))];
}

// ---------------------------------------------------------------- zip format

std::unordered_map<std::string, Blob> read_zip(const std::string& bytes) {
  struct Closer {
    void operator()(archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<archive, Closer> ar(archive_read_new());
  if (!ar) throw FormatError("cannot create a zip reader");
  archive_read_support_format_zip_seekable(ar.get());
  auto check = [&](int rc, const char* what) {
    if (rc < ARCHIVE_WARN) {
      const char* msg = archive_error_string(ar.get());
      throw FormatError(std::string("zip archive: ") + what + ": " + (msg ? msg : "unknown error"));
    }
  };
  check(archive_read_open_memory(ar.get(), bytes.data(), bytes.size()), "open");
  // Decompressed data is bounded by what deflate can reach from this many input bytes.
  const std::uint64_t limit = 1100ull * bytes.size() + (1u << 20);
  std::uint64_t total = 0;
  std::unordered_map<std::string, Blob> entries;
  std::vector<char> chunk(1 << 16);
  std::string first;
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(ar.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    check(rc, "reading an entry header");
    const char* path = archive_entry_pathname(entry);
    if (!path) throw FormatError("zip archive: entry without a name");
    auto blob = std::make_shared<std::string>();
    // Stored (uncompressed) entries cannot be larger than the archive: reserve only then.
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0 &&
        static_cast<std::uint64_t>(archive_entry_size(entry)) <= bytes.size())
      blob->reserve(static_cast<std::size_t>(archive_entry_size(entry)));
    while (true) {
      la_ssize_t n = archive_read_data(ar.get(), chunk.data(), chunk.size());
      if (n == 0) break;
      if (n < 0) check(static_cast<int>(n), (std::string("reading entry ") + path).c_str());
      if (n < 0) break;
      total += static_cast<std::uint64_t>(n);
      if (total > limit) throw FormatError("zip archive expands beyond any plausible size");
      blob->append(chunk.data(), static_cast<std::size_t>(n));
    }
    if (entries.empty()) first = path;
    if (!entries.emplace(path, blob).second)
      throw FormatError(std::string("zip archive has two entries named ") + path);
  }
  if (entries.empty()) throw FormatError("zip archive is empty");
  auto slash = first.find('/');
  if (slash == std::string::npos)
    throw FormatError("zip entry '" + first + "' is not inside a folder: not a torch.save archive");
  std::string prefix = first.substr(0, slash + 1);
  std::unordered_map<std::string, Blob> records;
  for (auto& [name, blob] : entries)
    if (name.compare(0, prefix.size(), prefix) == 0) records[name.substr(prefix.size())] = blob;
  return records;
}

TorchFile load_zip(const std::string& bytes, const std::string& source, int nesting) {
  std::string where = "zip container";
  try {
    auto records = read_zip(bytes);
    auto pkl = records.find("data.pkl");
    if (pkl == records.end())
      throw FormatError("the archive has no data.pkl record: not a torch.save zip file");
    auto order = records.find("byteorder");
    if (order != records.end() && *order->second != "little")
      throw FormatError("byteorder is '" + order->second->substr(0, 16) +
                        "': only little-endian files are supported");
    where = "data.pkl";
    PickleDocument doc;
    TorchHooks hooks(nesting, true);
    std::size_t pos = 0;
    const PickleValue* root = detail::unpickle(doc, *pkl->second, pos, &hooks);
    detail::check_graph(*root);
    where = "storages";
    std::unordered_map<std::string, Blob> blobs;
    for (const auto& [key, info] : hooks.roots()) {
      auto it = records.find("data/" + key);
      if (it == records.end())
        throw FormatError("storage '" + key + "' has no record data/" + key + " in the archive");
      blobs[key] = it->second;
    }
    hooks.materialize(blobs);
    A::set_root(doc, root);
    return TorchFile(std::move(doc), TorchFormat::kZip, source);
  } catch (const c10::Error& e) {
    throw std::runtime_error(source + ": " + where + ": " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {  // FormatError, or a value of the wrong kind
    throw std::runtime_error(source + ": " + where + ": " + e.what());
  }
}

// ---------------------------------------------------------------- legacy format

TorchFile load_legacy(const std::string& bytes, const std::string& source, int nesting) {
  std::string where = "magic number";
  try {
    std::size_t pos = 0;
    PickleDocument header;
    const PickleValue* magic = detail::unpickle(header, bytes, pos, nullptr);
    if (!magic->is(Kind::kBigInt) || magic->as_bytes() != kLegacyMagic)
      throw FormatError("not a torch.save file: its first pickle is " + magic->repr(40) +
                        ", not torch's magic number");
    where = "protocol version";
    const PickleValue* version = detail::unpickle(header, bytes, pos, nullptr);
    if (!version->is(Kind::kInt) || version->as_int() != 1001)
      throw FormatError("unsupported legacy protocol version " + version->repr(40) +
                        " (expected 1001)");
    where = "system info";
    const PickleValue* info = detail::unpickle(header, bytes, pos, nullptr);
    if (!info->is(Kind::kDict)) throw FormatError("system info is not a dict");
    if (const auto* le = info->find("little_endian"); le && le->is(Kind::kBool) && !le->as_bool())
      throw FormatError("the file was written on a big-endian machine: not supported");
    where = "main pickle";
    PickleDocument doc;
    TorchHooks hooks(nesting, true);
    const PickleValue* root = detail::unpickle(doc, bytes, pos, &hooks);
    detail::check_graph(*root);
    where = "storage key list";
    const PickleValue* keys = detail::unpickle(header, bytes, pos, nullptr);
    if (!keys->is(Kind::kList))
      throw FormatError("storage key list is a " + std::string(keys->kind_name()));
    where = "storage data";
    std::unordered_map<std::string, Blob> blobs;
    for (const auto* k : keys->elements()) {
      auto key = text_of(*k);
      if (!key) throw FormatError("storage key " + k->repr(40) + " is not a string");
      auto it = hooks.roots().find(*key);
      if (it == hooks.roots().end())
        throw FormatError("storage '" + *key + "' is listed but never referenced");
      if (blobs.count(*key)) throw FormatError("storage '" + *key + "' is listed twice");
      if (bytes.size() - pos < 8)
        throw FormatError("truncated before the size of storage '" + *key + "'");
      std::uint64_t count = 0;
      for (int i = 0; i < 8; ++i)
        count |= std::uint64_t(static_cast<unsigned char>(bytes[pos + i])) << (8 * i);
      pos += 8;
      auto elem = static_cast<std::uint64_t>(c10::elementSize(it->second.first));
      if (count != static_cast<std::uint64_t>(it->second.second))
        throw FormatError("storage '" + *key + "' has " + std::to_string(count) +
                          " elements in the data but " + std::to_string(it->second.second) +
                          " in the pickle");
      std::uint64_t nbytes = count * elem;  // count <= int64 max and elem <= 16 checked below
      if (count > (bytes.size() - pos) / elem)
        throw FormatError("truncated: storage '" + *key + "' needs " + std::to_string(nbytes) +
                          " bytes at offset " + std::to_string(pos) + ", only " +
                          std::to_string(bytes.size() - pos) + " left");
      blobs[*key] = std::make_shared<std::string>(bytes, pos, nbytes);
      pos += nbytes;
    }
    hooks.materialize(blobs);
    A::set_root(doc, root);
    return TorchFile(std::move(doc), TorchFormat::kLegacy, source);
  } catch (const c10::Error& e) {
    throw std::runtime_error(source + ": " + where + ": " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {  // FormatError, or a value of the wrong kind
    throw std::runtime_error(source + ": " + where + ": " + e.what());
  }
}

TorchFile load_bytes(std::string bytes, const std::string& source, int nesting) {
  try {
    if (looks_like_zip(bytes)) return load_zip(bytes, source, nesting);
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80)
      return load_legacy(bytes, source, nesting);
    if (bytes.size() >= 262 && bytes.compare(257, 5, "ustar") == 0)
      throw std::runtime_error(source +
                               ": tar-based torch.save format (PyTorch < 0.4) is not supported");
    std::string head;
    for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 8); ++i) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(bytes[i]));
      head += buf;
    }
    throw std::runtime_error(source + ": not a torch.save file (" +
                             (bytes.empty() ? std::string("empty") : "starts with bytes " + head) +
                             "; expected a zip archive or a pickle)");
  } catch (const c10::Error& e) {
    throw std::runtime_error(source + ": " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(source + ": out of memory while reading");
  }
}

}  // namespace

bool looks_like_zip(std::string_view bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
         ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6));
}

TorchFile load_torch_bytes(std::string bytes, const std::string& source) {
  return load_bytes(std::move(bytes), source, 0);
}

std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error(path.string() + ": cannot open for reading");
  auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0) throw std::runtime_error(path.string() + ": cannot determine the file size");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) throw std::runtime_error(path.string() + ": read error");
  return bytes;
}

TorchFile load_torch_file(const std::filesystem::path& path) {
  return load_bytes(read_file_bytes(path), path.string(), 0);
}

TorchFile load_pickle_bytes(std::string_view bytes, const std::string& source) {
  try {
    PickleDocument doc;
    TorchHooks hooks(0, false);
    std::size_t pos = 0;
    const PickleValue* root = detail::unpickle(doc, bytes, pos, &hooks);
    detail::check_graph(*root);
    std::unordered_map<std::string, Blob> no_blobs;
    hooks.materialize(no_blobs);
    A::set_root(doc, root);
    return TorchFile(std::move(doc), TorchFormat::kPickle, source);
  } catch (const c10::Error& e) {
    throw std::runtime_error(source + ": " + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(source + ": out of memory while reading");
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": " + e.what());
  }
}

std::string key_string(const PickleValue& key) {
  switch (key.kind()) {
    case Kind::kString:
      return key.as_string();
    case Kind::kBytes:
      return key.as_bytes();
    case Kind::kInt:
      return std::to_string(key.as_int());
    case Kind::kBool:
      return key.as_bool() ? "True" : "False";
    case Kind::kNone:
      return "None";
    case Kind::kFloat: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", key.as_double());
      return buf;
    }
    default:
      return key.repr(80);
  }
}

namespace {

void walk_impl(const PickleValue& v, const std::string& name,
               const std::function<bool(const std::string&, const PickleValue&)>& visit,
               std::unordered_set<const PickleValue*>& expanded) {
  if (!visit(name, v)) return;
  bool container = !v.elements().empty() || !v.entries().empty() || v.state() || v.args();
  if (!container || !expanded.insert(&v).second) return;
  auto join = [&](const std::string& part) { return name.empty() ? part : name + "." + part; };
  if (v.is(Kind::kObject)) {
    if (v.args() && !v.args()->elements().empty())
      walk_impl(*v.args(), join("__args__"), visit, expanded);
    if (v.state()) {
      if (v.state()->is(Kind::kDict)) {
        if (expanded.insert(v.state()).second)
          for (const auto& e : v.state()->entries())
            walk_impl(*e.value, join(key_string(*e.key)), visit, expanded);
      } else {
        walk_impl(*v.state(), join("__state__"), visit, expanded);
      }
    }
  }
  for (const auto& e : v.entries()) walk_impl(*e.value, join(key_string(*e.key)), visit, expanded);
  for (std::size_t i = 0; i < v.elements().size(); ++i)
    walk_impl(*v.elements()[i], join(std::to_string(i)), visit, expanded);
  // Attributes of a container (e.g. a state dict's _metadata) come after its items.
  if (!v.is(Kind::kObject) && v.state()) walk_impl(*v.state(), join("__state__"), visit, expanded);
}

}  // namespace

void walk(const PickleValue& value,
          const std::function<bool(const std::string& name, const PickleValue& node)>& visit,
          const std::string& prefix) {
  std::unordered_set<const PickleValue*> expanded;
  walk_impl(value, prefix, visit, expanded);
}

std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const PickleValue& value,
                                                                 const std::string& prefix) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  walk(
      value,
      [&](const std::string& name, const PickleValue& node) {
        if (node.is(Kind::kTensor)) out.emplace_back(name, node.tensor());
        return true;
      },
      prefix);
  return out;
}

}  // namespace wtp::io
