// Fuzz target: the safetensors reader (clip/checkpoint/tensor_archive.h open_safetensors).
//
// Input: the bytes of a .safetensors file, written to an in-memory file because the reader
// memory-maps a path. Checked: failures name the file; an archive that opens has tensors whose
// bytes lie in the file's data section without overlapping (their sizes add up to at most the
// file's) and match their shapes, and that to_float reads (archive_checks.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "archive_checks.h"
#include "clip/checkpoint/tensor_archive.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static xrs::fuzz::MemoryFile file;
  file.write(data, size);
  const auto archive = xrs::open_safetensors(file.path());
  xrs::fuzz::note(archive.is_ok() ? std::to_string((*archive)->tensors().size()) + " tensors"
                                  : archive.status().to_string());
  if (!archive.is_ok()) {
    XRS_FUZZ_CHECK(archive.status().message().starts_with(file.path()), archive.status().message());
    return 0;
  }
  XRS_FUZZ_CHECK((*archive)->format() == xrs::ArchiveFormat::kSafetensors, "format");
  xrs::fuzz::check_archive(**archive);  // first: it checks numel() cannot overflow
  size_t total = 0;
  for (const auto& [name, view] : (*archive)->tensors()) {
    XRS_FUZZ_CHECK(view.is_contiguous(), name + ": safetensors tensors are contiguous");
    XRS_FUZZ_CHECK(
        view.data.size() == static_cast<size_t>(view.numel()) * xrs::dtype_size(view.dtype),
        name + ": data size vs shape");
    total += view.data.size();
  }
  XRS_FUZZ_CHECK(total + 8 <= size, "tensors overlap or reach past the file");
  return 0;
}
