// Fuzz target: the TorchScript / torch.save checkpoint reader (clip/checkpoint/tensor_archive.h
// open_torchscript): the zip reader, the restricted unpickler and the tensor assembly together.
//
// Input: the bytes of a .pt file (a zip), written to an in-memory file because the reader
// memory-maps a path. Checked: failures name the file; an archive that opens has tensors whose
// strides stay inside their storage and that to_float reads (archive_checks.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "archive_checks.h"
#include "clip/checkpoint/tensor_archive.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static xrs::fuzz::MemoryFile file;
  file.write(data, size);
  const auto archive = xrs::open_torchscript(file.path());
  xrs::fuzz::note(archive.is_ok() ? std::to_string((*archive)->tensors().size()) + " tensors"
                                  : archive.status().to_string());
  if (!archive.is_ok()) {
    XRS_FUZZ_CHECK(archive.status().message().starts_with(file.path()), archive.status().message());
    return 0;
  }
  XRS_FUZZ_CHECK((*archive)->format() == xrs::ArchiveFormat::kTorchScript, "format");
  XRS_FUZZ_CHECK(!(*archive)->tensors().empty(), "an archive without tensors opened");
  xrs::fuzz::check_archive(**archive);
  return 0;
}
