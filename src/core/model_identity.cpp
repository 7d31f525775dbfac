#include "core/model_identity.h"

namespace xrs {

bool ModelIdentity::same_model(const ModelIdentity& other) const {
  return weights_sha256 == other.weights_sha256 && dim == other.dim &&
         preprocessing == other.preprocessing;
}

std::string ModelIdentity::describe() const {
  return name + " (sha256 " + weights_sha256.substr(0, 12) + "..., dim " + std::to_string(dim) +
         ", preprocessing " + preprocessing + ")";
}

Status check_same_model(const ModelIdentity& index_model, const ModelIdentity& requested) {
  if (index_model.same_model(requested)) return Status::ok();
  return Status::failed_precondition("index built with model " + index_model.describe() +
                                     ", this is " + requested.describe());
}

}  // namespace xrs
