// Files: whole-file reads, read-only memory maps and crash-safe (atomic) writes.
//
// Every failure is a Status whose message starts with the path and includes the OS error.
// MappedFile is immutable after open and safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs {

// The whole file as bytes. Fails with kResourceExhausted when it is larger than max_bytes.
StatusOr<std::string> read_file(const std::string& path, uint64_t max_bytes = UINT64_MAX);

// Writes `data` to `path` so that a crash at any moment leaves either the old file or the new
// one, never a mix: write to "<path>.tmp-<pid>", fsync, rename over `path`, fsync the directory.
Status write_file_atomic(const std::string& path, std::string_view data);

// Size in bytes of a regular file.
StatusOr<uint64_t> file_size(const std::string& path);

// A read-only private mapping of a whole file. An empty file maps to an empty span.
class MappedFile {
 public:
  // `populate`: read the whole file into memory now (MAP_POPULATE) rather than page by page on
  // first touch; for files that will be read entirely (model weights).
  static StatusOr<MappedFile> open(const std::string& path, bool populate = false);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// "<path>: <strerror(errno_value)>" as a Status (kNotFound for ENOENT, else kIoError).
Status errno_status(const std::string& path, int errno_value, std::string_view what = {});

}  // namespace xrs
