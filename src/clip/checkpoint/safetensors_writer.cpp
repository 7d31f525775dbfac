#include "clip/checkpoint/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/file_util.h"

namespace xrs {

uint16_t float_to_f16(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN (keep NaN a quiet NaN)
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x0200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  const int exp = static_cast<int>(abs >> 23) - 127;
  if (exp < -25) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
  uint32_t mant = (abs & 0x7fffffu) | 0x800000u;      // implicit leading 1 (abs is normal here,
                                                      // float32 subnormals are caught above)
  // Bits to drop: 13 for normal halves, more for subnormal ones (exp < -14).
  const int shift = exp < -14 ? 13 + (-14 - exp) : 13;
  const uint32_t halfway = 1u << (shift - 1);
  const uint32_t rest = mant & ((1u << shift) - 1);
  mant >>= shift;
  if (rest > halfway || (rest == halfway && (mant & 1u))) ++mant;  // ties to even
  if (exp < -14)
    return static_cast<uint16_t>(sign | mant);  // subnormal (may round up to
                                                // the smallest normal: fine)
  // Normal: a mantissa carry into bit 11 bumps the exponent, which the addition does for us.
  const uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) + (mant - 0x400u);
  return static_cast<uint16_t>(sign | h);
}

uint16_t float_to_bf16(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x0040u);
  const uint32_t rounding = 0x7fffu + ((f >> 16) & 1u);
  return static_cast<uint16_t>((f + rounding) >> 16);
}

Status SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                              std::span<const std::byte> data) {
  if (name.empty() || name == "__metadata__") {
    return Status::invalid_argument("safetensors: bad tensor name '" + name + "'");
  }
  if (tensors_.count(name) != 0) {
    return Status::invalid_argument("safetensors: tensor '" + name + "' is added twice");
  }
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) return Status::invalid_argument("safetensors: tensor '" + name + "': negative size");
    numel *= static_cast<uint64_t>(d);
  }
  if (numel * dtype_size(dtype) != data.size()) {
    return Status::invalid_argument(
        "safetensors: tensor '" + name + "': " + std::to_string(data.size()) + " bytes for " +
        std::to_string(numel) + " " + std::string(dtype_name(dtype)) + " elements");
  }
  tensors_.emplace(name, Tensor{dtype, std::move(shape), {data.begin(), data.end()}});
  return Status::ok();
}

Status SafetensorsWriter::add_floats(const std::string& name, std::vector<int64_t> shape,
                                     std::span<const float> values, DType dtype) {
  if (dtype == DType::kF32) return add(name, dtype, std::move(shape), std::as_bytes(values));
  if (dtype != DType::kF16 && dtype != DType::kBF16) {
    return Status::invalid_argument("safetensors: tensor '" + name +
                                    "': floats cannot be stored as " +
                                    std::string(dtype_name(dtype)));
  }
  std::vector<uint16_t> half(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    half[i] = dtype == DType::kF16 ? float_to_f16(values[i]) : float_to_bf16(values[i]);
  }
  // Little-endian bytes (x86-64 and aarch64 are little-endian; std::endian checks it).
  static_assert(std::endian::native == std::endian::little);
  return add(name, dtype, std::move(shape), std::as_bytes(std::span<const uint16_t>(half)));
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

std::string SafetensorsWriter::serialize() const {
  std::vector<const std::pair<const std::string, Tensor>*> order;
  for (const auto& entry : tensors_) order.push_back(&entry);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto* entry : order) {
    const Tensor& t = entry->second;
    header[entry->first] = {{"dtype", dtype_name(t.dtype)},
                            {"shape", t.shape},
                            {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((uint64_t(text.size()) >> (8 * i)) & 0xff);
  out.reserve(8 + text.size() + offset);
  out += text;
  for (const auto* entry : order) {
    const auto& bytes = entry->second.bytes;
    out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  return out;
}

Status SafetensorsWriter::write(const std::string& path) const {
  return write_file_atomic(path, serialize());
}

}  // namespace xrs
