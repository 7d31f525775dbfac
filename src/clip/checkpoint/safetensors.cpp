// The safetensors reader (https://github.com/huggingface/safetensors, format described in
// docs/MODEL_FORMATS.md).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "clip/checkpoint/tensor_archive.h"
#include "core/file_util.h"

namespace xrs {
namespace {

// The header is JSON of at most this many bytes (the reference implementation's own limit).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

class SafetensorsArchive final : public TensorArchive {
 public:
  ArchiveFormat format() const override { return ArchiveFormat::kSafetensors; }
  Status parse(const std::string& path);

 private:
  MappedFile file_;
};

StatusOr<DType> parse_dtype(const std::string& s) {
  static const std::pair<const char*, DType> kNames[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16},  {"BF16", DType::kBF16}, {"F64", DType::kF64},
      {"I64", DType::kI64}, {"I32", DType::kI32},  {"I16", DType::kI16},   {"I8", DType::kI8},
      {"U8", DType::kU8},   {"BOOL", DType::kBool}};
  for (const auto& [name, dtype] : kNames) {
    if (s == name) return dtype;
  }
  return Status::unsupported("dtype '" + s + "' is not supported");
}

Status SafetensorsArchive::parse(const std::string& path) {
  path_ = path;
  // Every byte is a weight the model will read: map it in now, not during the first inference.
  XRS_ASSIGN_OR_RETURN(file_, MappedFile::open(path, /*populate=*/true));
  const size_t size = file_.size();
  if (size < 8) {
    return Status::corruption(path + ": " + std::to_string(size) +
                              " bytes is too short for a safetensors file (8-byte header length)");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | uint8_t(file_.data()[i]);
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return Status::corruption(path + ": safetensors header length " + std::to_string(header_len) +
                              " exceeds the file size (" + std::to_string(size) +
                              " bytes); truncated or not a safetensors file");
  }
  const char* header_begin = reinterpret_cast<const char*>(file_.data()) + 8;
  nlohmann::json header = nlohmann::json::parse(header_begin, header_begin + header_len, nullptr,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Status::corruption(path + ": safetensors header is not a JSON object");
  }
  const size_t data_begin = 8 + header_len;
  const size_t data_size = size - data_begin;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<std::string> range_names;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return Status::corruption(path + ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return Status::corruption(where + ": entry needs dtype, shape and two data_offsets");
    }
    StatusOr<DType> dtype = parse_dtype(entry["dtype"].get<std::string>());
    if (!dtype.is_ok()) return dtype.status().with_context(where);
    TensorView view;
    view.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) return Status::corruption(where + ": shape has a bad dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t(1) << 40) || (dim != 0 && numel > (uint64_t(1) << 40) / dim)) {
        return Status::corruption(where + ": shape is implausibly large");
      }
      numel *= dim;
      view.shape.push_back(static_cast<int64_t>(dim));
    }
    view.strides.resize(view.shape.size());
    int64_t stride = 1;
    for (size_t i = view.shape.size(); i-- > 0;) {
      view.strides[i] = stride;
      stride *= view.shape[i];
    }
    const auto& offs = entry["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) {
      return Status::corruption(where + ": data_offsets are not unsigned integers");
    }
    uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Status::corruption(where + ": data_offsets [" + std::to_string(begin) + ", " +
                                std::to_string(end) + "] outside the data section of " +
                                std::to_string(data_size) + " bytes (file truncated?)");
    }
    if (end - begin != numel * dtype_size(view.dtype)) {
      return Status::corruption(where + ": " + std::to_string(end - begin) +
                                " bytes do not match its shape and dtype (" +
                                std::to_string(numel * dtype_size(view.dtype)) + " bytes)");
    }
    view.data = {file_.data() + data_begin + begin, static_cast<size_t>(end - begin)};
    if (end > begin) {
      ranges.push_back({begin, end});
      range_names.push_back(name);
    }
    tensors_.emplace(name, std::move(view));
  }
  // No two tensors may share bytes.
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (ranges[order[i]].first < ranges[order[i - 1]].second) {
      return Status::corruption(path + ": tensors '" + range_names[order[i - 1]] + "' and '" +
                                range_names[order[i]] + "' overlap");
    }
  }
  return Status::ok();
}

}  // namespace

StatusOr<std::unique_ptr<TensorArchive>> open_safetensors(const std::string& path) {
  auto archive = std::make_unique<SafetensorsArchive>();
  XRS_RETURN_IF_ERROR(archive->parse(path));
  return std::unique_ptr<TensorArchive>(std::move(archive));
}

}  // namespace xrs
