// The PyTorch zip checkpoint reader: TorchScript archives (torch.jit.save, OpenAI's
// ViT-B-32.pt) and torch.save's zip format share the layout
//
//   <prefix>/data.pkl      pickle of the saved object (modules or a state dict)
//   <prefix>/data/<key>    one entry per storage, raw little-endian elements
//   <prefix>/byteorder     "little" (torch 2.x; absent before)
//   <prefix>/...           code/, constants.pkl, version, ...: not needed, never executed
//
// (format in docs/MODEL_FORMATS.md). The pickle is read by the restricted unpickler in
// pickle.h; this file turns its module graph into state-dict names and checks every tensor
// against its storage entry before handing out views.
#include <map>
#include <unordered_map>

#include "clip/checkpoint/pickle.h"
#include "clip/checkpoint/tensor_archive.h"
#include "clip/checkpoint/tensor_names.h"
#include "clip/checkpoint/zip_reader.h"
#include "core/file_util.h"

namespace xrs {
namespace {

// Objects and dicts nested while flattening (CLIP's deepest name passes 6 of each); bounds the
// recursion, and cycles, which a pickle can build with its memo.
constexpr int kMaxDepth = 128;
// Values visited while flattening: shared submodules are walked once per path, as
// torch's state_dict() does, so a graph of shared objects could otherwise explode.
constexpr size_t kMaxVisits = size_t(1) << 20;

std::string dims(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Walks the unpickled graph the way torch.nn.Module.state_dict() names things: an object's
// state dict holds its parameters, buffers and submodules as attributes, so "visual" →
// "transformer" → "resblocks" → "0" → "attn" → "in_proj_weight" becomes
// "visual.transformer.resblocks.0.attn.in_proj_weight". Plain dicts (a torch.save'd state
// dict, or {"state_dict": ...}) are walked the same way. Non-tensor attributes are skipped.
class Flattener {
 public:
  Status walk(const pickle::Value& v, const std::string& name, int depth) {
    if (depth > kMaxDepth) {
      return Status::resource_exhausted("modules nested deeper than " + std::to_string(kMaxDepth) +
                                        " levels at '" + name + "' (a cycle?)");
    }
    if (++visits_ > kMaxVisits) {
      return Status::resource_exhausted("more than " + std::to_string(kMaxVisits) +
                                        " values reached while naming tensors (shared modules?)");
    }
    switch (v.kind) {
      case pickle::Kind::kTensor:
        if (!name.empty()) found_.emplace_back(name, &v);
        return Status::ok();
      case pickle::Kind::kObject:
        return v.state ? walk(*v.state, name, depth + 1) : Status::ok();
      case pickle::Kind::kDict: {
        // Later entries win over earlier ones with the same key, as in Python.
        std::map<std::string, const pickle::Value*> children;
        for (const auto& [key, value] : v.entries) {
          if (key->kind == pickle::Kind::kString) children[key->text] = value;
        }
        for (const auto& [key, value] : children) {
          XRS_RETURN_IF_ERROR(walk(*value, name.empty() ? key : name + "." + key, depth + 1));
        }
        return Status::ok();
      }
      default:
        return Status::ok();
    }
  }
  const std::vector<std::pair<std::string, const pickle::Value*>>& found() const { return found_; }

 private:
  size_t visits_ = 0;
  std::vector<std::pair<std::string, const pickle::Value*>> found_;
};

struct StorageBytes {
  DType dtype;
  int64_t numel;
  std::span<const std::byte> bytes;
};

class TorchScriptArchive final : public TensorArchive {
 public:
  ArchiveFormat format() const override { return ArchiveFormat::kTorchScript; }
  Status parse(const std::string& path);

 private:
  StatusOr<std::string> find_prefix() const;
  using StorageMap = std::unordered_map<std::string, StorageBytes>;  // by key
  StatusOr<StorageBytes> storage(const pickle::Value& s, const std::string& tensor,
                                 StorageMap* storages);
  Status add_tensor(const std::string& name, const pickle::Value& t, StorageMap* storages);

  MappedFile file_;
  ZipReader zip_;
  std::string prefix_;  // "<prefix>/"
};

StatusOr<std::string> TorchScriptArchive::find_prefix() const {
  std::string found;
  for (const ZipReader::Entry& e : zip_.entries()) {
    const std::string& n = e.name;
    const size_t slash = n.find('/');
    if (slash == std::string::npos ||
        n.compare(slash + 1, std::string::npos, kTorchPickleEntry) != 0) {
      continue;
    }
    if (!found.empty()) {
      return Status::corruption(path_ + ": two top-level pickles, '" + found + "' and '" + n + "'");
    }
    found = n;
  }
  if (found.empty()) {
    return Status::unsupported(path_ +
                               ": zip archive without a '<name>/data.pkl' entry is not a "
                               "PyTorch checkpoint");
  }
  return found.substr(0, found.size() - kTorchPickleEntry.size());
}

StatusOr<StorageBytes> TorchScriptArchive::storage(const pickle::Value& s,
                                                   const std::string& tensor,
                                                   StorageMap* storages) {
  const std::string where = path_ + ": tensor '" + tensor + "': storage '" + s.storage_key + "'";
  auto it = storages->find(s.storage_key);
  if (it != storages->end()) {
    if (it->second.dtype != s.storage_dtype || it->second.numel != s.storage_numel) {
      return Status::corruption(where + " is declared both as " + std::to_string(it->second.numel) +
                                " " + std::string(dtype_name(it->second.dtype)) + " and " +
                                std::to_string(s.storage_numel) + " " +
                                std::string(dtype_name(s.storage_dtype)) + " elements");
    }
    return it->second;
  }
  const std::string entry_name = prefix_ + std::string(kTorchStorageFolder) + s.storage_key;
  const ZipReader::Entry* entry = zip_.find(entry_name);
  if (entry == nullptr) return Status::corruption(where + " has no zip entry '" + entry_name + "'");
  XRS_ASSIGN_OR_RETURN(std::span<const std::byte> bytes, zip_.read(*entry));
  const size_t esize = dtype_size(s.storage_dtype);
  if (static_cast<uint64_t>(s.storage_numel) > bytes.size() / esize) {
    return Status::corruption(where + ": " + std::to_string(s.storage_numel) + " " +
                              std::string(dtype_name(s.storage_dtype)) +
                              " elements do not fit its " + std::to_string(bytes.size()) +
                              "-byte entry");
  }
  StorageBytes sb{s.storage_dtype, s.storage_numel, bytes};
  storages->emplace(s.storage_key, sb);
  return sb;
}

Status TorchScriptArchive::add_tensor(const std::string& name, const pickle::Value& t,
                                      StorageMap* storages) {
  XRS_ASSIGN_OR_RETURN(StorageBytes s, storage(*t.storage, name, storages));
  const std::string where = path_ + ": tensor '" + name + "' (offset " +
                            std::to_string(t.tensor_offset) + ", size " + dims(t.tensor_shape) +
                            ", stride " + dims(t.tensor_strides) + ")";
  // The element furthest from the start is offset + sum((size - 1) * stride); an empty tensor
  // reaches nothing. Checked arithmetic: the numbers come from the file.
  int64_t numel = 1, last = t.tensor_offset;
  bool overflow = false;
  for (size_t d = 0; d < t.tensor_shape.size(); ++d) {
    int64_t reach = 0;
    overflow |= __builtin_mul_overflow(numel, t.tensor_shape[d], &numel);
    overflow |= __builtin_mul_overflow(t.tensor_shape[d] - 1, t.tensor_strides[d], &reach);
    overflow |= __builtin_add_overflow(last, reach, &last);
  }
  if (overflow) return Status::corruption(where + ": sizes overflow 64-bit arithmetic");
  const size_t esize = dtype_size(s.dtype);
  TensorView view;
  view.dtype = s.dtype;
  view.shape = t.tensor_shape;
  view.strides = t.tensor_strides;
  if (numel == 0) {
    if (t.tensor_offset > s.numel) {
      return Status::corruption(where + ": offset past the end of storage '" +
                                t.storage->storage_key + "' (" + std::to_string(s.numel) +
                                " elements)");
    }
    view.data = s.bytes.subspan(size_t(t.tensor_offset) * esize, 0);
  } else {
    if (last >= s.numel) {
      return Status::corruption(where + " reaches element " + std::to_string(last) +
                                " of storage '" + t.storage->storage_key + "', which has " +
                                std::to_string(s.numel));
    }
    view.data = s.bytes.subspan(size_t(t.tensor_offset) * esize,
                                size_t(last - t.tensor_offset + 1) * esize);
  }
  if (!tensors_.emplace(name, std::move(view)).second) {
    return Status::corruption(path_ + ": two tensors are named '" + name + "'");
  }
  return Status::ok();
}

Status TorchScriptArchive::parse(const std::string& path) {
  path_ = path;
  XRS_ASSIGN_OR_RETURN(file_, MappedFile::open(path));
  XRS_ASSIGN_OR_RETURN(zip_, ZipReader::open(file_.bytes(), path));
  XRS_ASSIGN_OR_RETURN(prefix_, find_prefix());
  // torch 2.x records the byte order of the storages; everything here reads little-endian.
  if (const ZipReader::Entry* order = zip_.find(prefix_ + std::string(kTorchByteOrderEntry))) {
    XRS_ASSIGN_OR_RETURN(std::span<const std::byte> text, zip_.read(*order));
    const std::string_view value(reinterpret_cast<const char*>(text.data()), text.size());
    if (value != "little") {
      return Status::unsupported(path + ": storages are stored with byte order '" +
                                 std::string(value.substr(0, 16)) + "' (only 'little' is read)");
    }
  }
  const std::string pickle_name = prefix_ + std::string(kTorchPickleEntry);
  XRS_ASSIGN_OR_RETURN(std::span<const std::byte> pkl, zip_.read(*zip_.find(pickle_name)));
  StatusOr<pickle::Document> doc = pickle::unpickle(pkl);
  if (!doc.is_ok()) return doc.status().with_context(path + ": " + pickle_name);
  Flattener flattener;
  Status walked = flattener.walk(doc->root(), "", 0);
  if (!walked.is_ok()) return walked.with_context(path + ": " + pickle_name);
  if (flattener.found().empty()) {
    return Status::unsupported(path + ": " + pickle_name +
                               " holds no named tensors (neither modules nor a state dict)");
  }
  StorageMap storages;
  for (const auto& [name, tensor] : flattener.found()) {
    XRS_RETURN_IF_ERROR(add_tensor(name, *tensor, &storages));
  }
  return Status::ok();
}

}  // namespace

StatusOr<std::unique_ptr<TensorArchive>> open_torchscript(const std::string& path) {
  auto archive = std::make_unique<TorchScriptArchive>();
  XRS_RETURN_IF_ERROR(archive->parse(path));
  return std::unique_ptr<TensorArchive>(std::move(archive));
}

}  // namespace xrs
