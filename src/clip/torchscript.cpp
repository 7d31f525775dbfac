// Placeholder until the TorchScript reader lands: reports the format as unsupported.
#include "clip/tensor_archive.h"

namespace xrs {

StatusOr<std::unique_ptr<TensorArchive>> open_torchscript(const std::string& path) {
  return Status::unsupported(path + ": TorchScript (.pt) checkpoints are not readable yet");
}

}  // namespace xrs
