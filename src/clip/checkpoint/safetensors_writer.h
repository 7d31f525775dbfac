// Writing safetensors files (the format docs/MODEL_FORMATS.md describes and safetensors.cpp
// reads): an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}, "__metadata__": {...}} padded with spaces to a multiple of 8 bytes, then the
// tensors' bytes, row-major, little-endian.
//
// Tensors are laid out by decreasing element size, then by name, so every tensor starts at a
// multiple of its element size (the reader then uses float32 tensors in place). The file is
// written atomically (core/file_util.h write_file_atomic): a crash leaves the old file or the new
// one, never a mix.
//
//   SafetensorsWriter w;
//   XRS_RETURN_IF_ERROR(w.add_floats("visual.proj", {768, 512}, values, DType::kF16));
//   w.set_metadata("format", "pt");
//   XRS_RETURN_IF_ERROR(w.write(dir + "/open_clip_model.safetensors"));
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "clip/checkpoint/tensor_archive.h"
#include "core/status.h"

namespace xrs {

// float32 → IEEE half (round to nearest, ties to even; overflow to ±inf; NaN stays NaN).
uint16_t float_to_f16(float value);
// float32 → bfloat16 (round to nearest, ties to even; NaN stays NaN).
uint16_t float_to_bf16(float value);

class SafetensorsWriter {
 public:
  // Adds a tensor from its raw little-endian bytes. kInvalidArgument when the name is empty,
  // "__metadata__" or already added, a dimension is negative, or the byte count is not
  // numel × dtype size.
  Status add(const std::string& name, DType dtype, std::vector<int64_t> shape,
             std::span<const std::byte> data);

  // Adds float32 values stored as `dtype` (F32, F16 or BF16; others are kInvalidArgument).
  Status add_floats(const std::string& name, std::vector<int64_t> shape,
                    std::span<const float> values, DType dtype = DType::kF32);

  // A "__metadata__" string entry (replaces an earlier value for the key).
  void set_metadata(const std::string& key, const std::string& value);

  size_t size() const { return tensors_.size(); }

  // The whole file.
  std::string serialize() const;
  // serialize() written atomically to `path`.
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<std::byte> bytes;
  };
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace xrs
