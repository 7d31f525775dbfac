// SHA-256 of bytes and files, as lower-case hex (64 characters). Used for file identity in the
// catalog and for model checksums. Sha256 objects are single-threaded; the free functions are
// safe to call from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The hex digest; the object must not be updated afterwards.
  std::string finish_hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view bytes);

// Streams the file in chunks (constant memory).
StatusOr<std::string> sha256_file(const std::string& path);

}  // namespace xrs
