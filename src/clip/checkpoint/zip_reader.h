// A read-only reader for zip archives held in memory (PKWARE APPNOTE 6.3: end of central
// directory record, ZIP64 end record and locator, central directory, local file headers).
//
// It reads what PyTorch's and Python's zip writers produce: single-disk archives whose entries
// are stored (method 0) or deflated (method 8). Stored entries are returned as views into the
// caller's bytes (zero copy); deflated entries are inflated with zlib into buffers the reader
// owns. Every offset and size is checked against the archive before it is used, so damaged or
// truncated input yields kCorruption (never a read outside the bytes); encrypted entries, other
// compression methods and multi-disk archives yield kUnsupported. Errors start with the label
// given to open() (usually the file path) and name the entry at fault.
//
// Thread-safety: const methods may be called concurrently; read() is not const (it keeps the
// inflated buffers) and needs external synchronisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace xrs {

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint16_t flags = 0;   // general purpose bit flag; bit 0 means encrypted
    uint16_t method = 0;  // 0 stored, 8 deflated
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t size = 0;         // uncompressed
    uint64_t data_offset = 0;  // first byte of the (compressed) data in the archive
  };

  // Parses the central directory of `bytes` and checks that each entry's local header and data
  // lie inside the archive. `bytes` must outlive the reader and every span read() returns.
  // Fails with kCorruption (no end record: truncated or not a zip; offsets outside the bytes;
  // bad signatures; duplicate names) or kUnsupported (multi-disk archives).
  static StatusOr<ZipReader> open(std::span<const std::byte> bytes, std::string label);

  ZipReader() = default;

  // Entries in central-directory order.
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view name) const;

  // The uncompressed bytes of `entry` (one of entries()): a view into the archive for stored
  // entries, else a buffer owned by this reader (inflated once, kept until it is destroyed).
  // The CRC-32 is compared with the central directory's for every deflated entry, and for
  // stored entries when verify_crc (zlib's crc32 runs at several GB/s). Fails with
  // kUnsupported (encrypted, unknown method), kCorruption (bad deflate data, size or CRC
  // mismatch) or kResourceExhausted (no memory for the inflated bytes).
  StatusOr<std::span<const std::byte>> read(const Entry& entry, bool verify_crc = true);

 private:
  Status parse();
  Status locate_central_directory(uint64_t* cd_offset, uint64_t* cd_size, uint64_t* count);
  Status parse_entry(size_t* pos, uint64_t cd_end, uint64_t data_limit);
  StatusOr<std::span<const std::byte>> inflate_entry(const Entry& entry);
  Status check_crc(const Entry& entry, std::span<const std::byte> data) const;

  std::span<const std::byte> bytes_;
  std::string label_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
  // Inflated entries by index into entries_; unique_ptr keeps each buffer where it is when the
  // reader is moved, so spans handed out stay valid.
  std::unordered_map<size_t, std::unique_ptr<std::vector<std::byte>>> inflated_;
};

}  // namespace xrs
