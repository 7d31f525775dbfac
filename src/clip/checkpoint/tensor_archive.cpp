#include "clip/checkpoint/tensor_archive.h"

#include <cstring>

#include "core/file_util.h"

namespace xrs {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF64: return "F64";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kBool: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF64:
    case DType::kI64: return 8;
    case DType::kF32:
    case DType::kI32: return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16: return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool: return 1;
  }
  return 1;
}

std::string_view archive_format_name(ArchiveFormat format) {
  return format == ArchiveFormat::kSafetensors ? "safetensors" : "torchscript";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool TensorView::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

const TensorView* TensorArchive::find(std::string_view name) const {
  auto it = tensors_.find(std::string(name));
  return it == tensors_.end() ? nullptr : &it->second;
}

namespace {

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float load_as_float(const std::byte* p, DType dtype) {
  switch (dtype) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DType::kF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return half_to_float(h);
    }
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      uint32_t bits = uint32_t(h) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case DType::kF64: {
      double d;
      std::memcpy(&d, p, 8);
      return static_cast<float>(d);
    }
    default: return 0.0f;
  }
}

}  // namespace

Status TensorArchive::to_float(const TensorView& view, std::span<float> out) {
  if (view.dtype != DType::kF32 && view.dtype != DType::kF16 && view.dtype != DType::kBF16 &&
      view.dtype != DType::kF64) {
    return Status::unsupported("tensor of dtype " + std::string(dtype_name(view.dtype)) +
                               " cannot be read as float");
  }
  int64_t n = view.numel();
  if (static_cast<int64_t>(out.size()) != n) {
    return Status::internal("to_float: output holds " + std::to_string(out.size()) +
                            " floats, tensor has " + std::to_string(n));
  }
  const size_t esize = dtype_size(view.dtype);
  if (view.is_contiguous()) {
    if (view.data.size() < static_cast<size_t>(n) * esize) {
      return Status::corruption("tensor data is shorter than its shape");
    }
    if (view.dtype == DType::kF32) {
      if (n > 0) std::memcpy(out.data(), view.data.data(), size_t(n) * 4);
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = load_as_float(view.data.data() + i * esize, view.dtype);
    }
    return Status::ok();
  }
  // Strided: walk the index space in row-major order.
  const size_t rank = view.shape.size();
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += idx[d] * view.strides[d];
    if (off < 0 || static_cast<size_t>(off + 1) * esize > view.data.size()) {
      return Status::corruption("tensor strides reach outside its storage");
    }
    out[i] = load_as_float(view.data.data() + off * esize, view.dtype);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < view.shape[d]) break;
      idx[d] = 0;
    }
  }
  return Status::ok();
}

StatusOr<std::unique_ptr<TensorArchive>> TensorArchive::open(const std::string& path) {
  XRS_ASSIGN_OR_RETURN(MappedFile probe, MappedFile::open(path));
  if (probe.size() == 0) return Status::corruption(path + ": file is empty");
  // A zip starts with a local file header "PK\3\4" (or, if empty, an end record "PK\5\6").
  if (probe.size() >= 4 && std::memcmp(probe.data(), "PK", 2) == 0) return open_torchscript(path);
  return open_safetensors(path);
}

}  // namespace xrs
