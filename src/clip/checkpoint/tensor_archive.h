// Read-only access to the tensors of a checkpoint file, without running anything from it.
//
//   safetensors   8-byte little-endian header length, JSON header {name: {dtype, shape,
//                 data_offsets}}, then the data; validated: header length and JSON, dtypes,
//                 offsets inside the file, sizes matching shapes, no two tensors overlapping.
//   TorchScript   OpenAI's ViT-B-32.pt: a zip (stored or deflated entries) whose */data.pkl is
//   (.pt zip)     a pickle (protocol 2) of module objects whose state holds tensors rebuilt by
//                 torch._utils._rebuild_tensor_v2 from persistent storages */data/<key>.
//                 The pickle reader is a small virtual machine that accepts only the globals a
//                 checkpoint needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
//                 torch.*Storage, __torch__.* module classes, torch.jit._pickle helpers) and
//                 refuses anything else (os.system, builtins.eval, ...) with kUnsupported;
//                 nothing from the file is executed.
//
// The file is memory-mapped; TensorViews point into the mapping (or, for compressed zip entries,
// into buffers the archive owns) and stay valid as long as the archive. An archive is immutable
// after open and safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

std::string_view dtype_name(DType dtype);  // "F32", "F16", "BF16", ... (safetensors spelling)
size_t dtype_size(DType dtype);

struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements; row-major contiguous unless the file says otherwise
  // The bytes from the first element to one past the last element the strides reach.
  std::span<const std::byte> data;

  int64_t numel() const;
  bool is_contiguous() const;
};

enum class ArchiveFormat { kSafetensors, kTorchScript };
std::string_view archive_format_name(ArchiveFormat format);  // "safetensors", "torchscript"

class TensorArchive {
 public:
  // Opens by content: safetensors or a zip (TorchScript). Errors name the file and the tensor
  // or pickle opcode at fault.
  static StatusOr<std::unique_ptr<TensorArchive>> open(const std::string& path);

  virtual ~TensorArchive() = default;

  virtual ArchiveFormat format() const = 0;
  const std::string& path() const { return path_; }

  // name → view. Names are the state-dict keys ("visual.conv1.weight"); for TorchScript the
  // module hierarchy is flattened the same way torch's state_dict() does.
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find(std::string_view name) const;

  // safetensors "__metadata__" entries (empty for TorchScript).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies a tensor out as float32 in row-major order (converting F16/BF16/F64, honouring
  // strides). `out` must hold numel() floats.
  static Status to_float(const TensorView& view, std::span<float> out);

 protected:
  std::string path_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Format-specific openers (TensorArchive::open dispatches to these).
StatusOr<std::unique_ptr<TensorArchive>> open_safetensors(const std::string& path);
StatusOr<std::unique_ptr<TensorArchive>> open_torchscript(const std::string& path);

}  // namespace xrs
