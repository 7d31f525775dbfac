// The zip reader (format: PKWARE APPNOTE.TXT 6.3; summary in docs/MODEL_FORMATS.md).
#include "clip/checkpoint/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>

namespace xrs {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;    // "PK\3\4"
constexpr uint32_t kCentralHeaderSig = 0x02014b50;  // "PK\1\2"
constexpr uint32_t kEndSig = 0x06054b50;            // "PK\5\6"
constexpr uint32_t kZip64EndSig = 0x06064b50;       // "PK\6\6"
constexpr uint32_t kZip64LocatorSig = 0x07064b50;   // "PK\6\7"
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kMaxCommentSize = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagStrongEncryption = 0x0040;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflated = 8;
// Deflate cannot expand more than 1032:1 (a 258-byte match in about two bits); a larger
// declared size is a lie, and believing it would let a tiny file demand a huge allocation.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t le16(const std::byte* p) {
  return uint16_t(uint8_t(p[0]) | uint8_t(p[1]) << 8);
}
uint32_t le32(const std::byte* p) {
  return uint32_t(le16(p)) | uint32_t(le16(p + 2)) << 16;
}
uint64_t le64(const std::byte* p) {
  return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32;
}

std::string at(uint64_t offset) {
  return "offset " + std::to_string(offset);
}

}  // namespace

StatusOr<ZipReader> ZipReader::open(std::span<const std::byte> bytes, std::string label) {
  ZipReader reader;
  reader.bytes_ = bytes;
  reader.label_ = std::move(label);
  XRS_RETURN_IF_ERROR(reader.parse());
  return reader;
}

const ZipReader::Entry* ZipReader::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

Status ZipReader::locate_central_directory(uint64_t* cd_offset, uint64_t* cd_size,
                                           uint64_t* count) {
  const size_t size = bytes_.size();
  const std::byte* b = bytes_.data();
  // The end record is the last "PK\5\6" whose comment reaches no further than the file end.
  // Scanning from the very end (not from size - 22) lets a record cut short be named as such.
  const size_t lowest = size > kEndSize + kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
  size_t end_pos = SIZE_MAX;
  for (size_t pos = size - 4;; --pos) {  // parse() made sure size >= kEndSize
    if (le32(b + pos) == kEndSig) {
      if (pos + kEndSize > size) {
        return Status::corruption(label_ + ": zip end of central directory record at " + at(pos) +
                                  " is cut short (file truncated)");
      }
      if (pos + kEndSize + le16(b + pos + 20) <= size) {
        end_pos = pos;
        break;
      }
    }
    if (pos == lowest) break;
  }
  if (end_pos == SIZE_MAX) {
    return Status::corruption(label_ + ": no zip end of central directory record in its last " +
                              std::to_string(std::min(size, kEndSize + kMaxCommentSize)) +
                              " bytes (truncated, or not a zip archive)");
  }
  const std::byte* e = b + end_pos;
  uint32_t disk = le16(e + 4), cd_disk = le16(e + 6);
  *count = le16(e + 10);
  *cd_size = le32(e + 12);
  *cd_offset = le32(e + 16);
  uint64_t cd_limit = end_pos;  // the central directory ends before the record that points to it
  const bool wants_zip64 = *count == 0xffff || *cd_size == 0xffffffff || *cd_offset == 0xffffffff;
  if (end_pos >= kZip64LocatorSize && le32(e - kZip64LocatorSize) == kZip64LocatorSig) {
    const size_t loc_pos = end_pos - kZip64LocatorSize;
    uint64_t rec = le64(b + loc_pos + 8);
    if (rec > loc_pos || loc_pos - rec < kZip64EndSize || le32(b + rec) != kZip64EndSig) {
      return Status::corruption(label_ + ": ZIP64 locator at " + at(loc_pos) + " points to " +
                                at(rec) + ", where no ZIP64 end record is");
    }
    disk = le32(b + rec + 16);
    cd_disk = le32(b + rec + 20);
    *count = le64(b + rec + 32);
    *cd_size = le64(b + rec + 40);
    *cd_offset = le64(b + rec + 48);
    cd_limit = rec;
  } else if (wants_zip64) {
    return Status::corruption(label_ + ": zip end record at " + at(end_pos) +
                              " needs a ZIP64 locator, which is missing");
  }
  if (disk != 0 || cd_disk != 0) {
    return Status::unsupported(label_ + ": multi-disk (split) zip archives are not supported");
  }
  if (*cd_offset > cd_limit || *cd_size > cd_limit - *cd_offset) {
    return Status::corruption(label_ + ": zip central directory (" + at(*cd_offset) + ", " +
                              std::to_string(*cd_size) + " bytes) lies outside the archive");
  }
  if (*count > *cd_size / kCentralHeaderSize) {
    return Status::corruption(label_ + ": zip end record claims " + std::to_string(*count) +
                              " entries in a central directory of " + std::to_string(*cd_size) +
                              " bytes");
  }
  return Status::ok();
}

Status ZipReader::parse_entry(size_t* pos, uint64_t cd_end, uint64_t data_limit) {
  const std::byte* b = bytes_.data();
  const std::byte* h = b + *pos;
  const std::string where = label_ + ": zip central directory entry at " + at(*pos);
  if (cd_end - *pos < kCentralHeaderSize || le32(h) != kCentralHeaderSig) {
    return Status::corruption(where + ": bad signature or cut short (damaged central directory)");
  }
  Entry entry;
  entry.flags = le16(h + 8);
  entry.method = le16(h + 10);
  entry.crc32 = le32(h + 16);
  entry.compressed_size = le32(h + 20);
  entry.size = le32(h + 24);
  const size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
  uint32_t disk = le16(h + 34);
  uint64_t local = le32(h + 42);
  if (cd_end - *pos - kCentralHeaderSize < name_len + extra_len + comment_len) {
    return Status::corruption(where + ": name/extra/comment run past the central directory");
  }
  entry.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
  const std::string named = label_ + ": zip entry '" + entry.name + "'";
  // ZIP64 extra field: 64-bit values for exactly those fields that hold their 32-bit sentinel.
  const std::byte* x = h + kCentralHeaderSize + name_len;
  for (size_t i = 0; i + 4 <= extra_len;) {
    const uint16_t id = le16(x + i), len = le16(x + i + 2);
    if (i + 4 + len > extra_len) return Status::corruption(named + ": extra field cut short");
    if (id == kZip64ExtraId) {
      size_t f = i + 4;
      const size_t field_end = i + 4 + len;
      for (uint64_t* v : {&entry.size, &entry.compressed_size, &local}) {
        if (*v != 0xffffffff) continue;
        if (f + 8 > field_end) return Status::corruption(named + ": ZIP64 extra field too short");
        *v = le64(x + f);
        f += 8;
      }
      if (disk == 0xffff && f + 4 <= field_end) disk = le32(x + f);
    }
    i += 4 + len;
  }
  if (disk != 0) return Status::unsupported(named + ": lies on another disk of a split archive");
  if (local > data_limit || data_limit - local < kLocalHeaderSize ||
      le32(b + local) != kLocalHeaderSig) {
    return Status::corruption(named + ": no local header at " + at(local));
  }
  const size_t local_name = le16(b + local + 26), local_extra = le16(b + local + 28);
  entry.data_offset = local + kLocalHeaderSize + local_name + local_extra;
  if (local_name != name_len || entry.data_offset > data_limit ||
      std::memcmp(b + local + kLocalHeaderSize, entry.name.data(), name_len) != 0) {
    return Status::corruption(named + ": local header at " + at(local) +
                              " does not match the central directory");
  }
  if (entry.compressed_size > data_limit - entry.data_offset) {
    return Status::corruption(named + ": " + std::to_string(entry.compressed_size) + " bytes at " +
                              at(entry.data_offset) +
                              " run past the central directory (file truncated or damaged)");
  }
  if (!by_name_.emplace(entry.name, entries_.size()).second) {
    return Status::corruption(named + ": appears twice in the central directory");
  }
  entries_.push_back(std::move(entry));
  *pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  return Status::ok();
}

Status ZipReader::parse() {
  if (bytes_.size() < kEndSize) {
    return Status::corruption(label_ + ": " + std::to_string(bytes_.size()) +
                              " bytes is too short for a zip archive");
  }
  uint64_t cd_offset = 0, cd_size = 0, count = 0;
  XRS_RETURN_IF_ERROR(locate_central_directory(&cd_offset, &cd_size, &count));
  entries_.reserve(count);
  size_t pos = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    XRS_RETURN_IF_ERROR(parse_entry(&pos, cd_offset + cd_size, cd_offset));
  }
  return Status::ok();
}

Status ZipReader::check_crc(const Entry& entry, std::span<const std::byte> data) const {
  const uint32_t crc = uint32_t(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<z_size_t>(data.size())));
  if (crc == entry.crc32) return Status::ok();
  char buf[80];
  std::snprintf(buf, sizeof buf, "CRC-32 is %08x, the central directory says %08x", crc,
                entry.crc32);
  return Status::corruption(label_ + ": zip entry '" + entry.name + "': " + buf +
                            " (damaged data)");
}

StatusOr<std::span<const std::byte>> ZipReader::inflate_entry(const Entry& entry) {
  const std::string named = label_ + ": zip entry '" + entry.name + "'";
  if (entry.size > entry.compressed_size * kMaxDeflateRatio + 64) {
    return Status::corruption(named + " claims " + std::to_string(entry.size) +
                              " bytes inflated from " + std::to_string(entry.compressed_size) +
                              ", more than deflate can produce");
  }
  auto out = std::make_unique<std::vector<std::byte>>();
  try {
    out->resize(entry.size);
  } catch (const std::bad_alloc&) {
    return Status::resource_exhausted(named + ": no memory to inflate " +
                                      std::to_string(entry.size) + " bytes");
  }
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return Status::internal("zlib inflateInit2 failed");
  // zlib counts in 32-bit uInt, so large entries go through in chunks.
  const std::byte* in = bytes_.data() + entry.data_offset;
  uint64_t in_left = entry.compressed_size, out_left = entry.size;
  std::byte dummy{};  // zlib refuses a null next_out even when nothing is to be written
  zs.next_out = reinterpret_cast<Bytef*>(entry.size ? out->data() : &dummy);
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (zs.avail_in == 0 && in_left > 0) {
      zs.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in));
      zs.avail_in = uInt(std::min<uint64_t>(in_left, UINT_MAX));
      in += zs.avail_in;
      in_left -= zs.avail_in;
    }
    if (zs.avail_out == 0 && out_left > 0) {
      zs.avail_out = uInt(std::min<uint64_t>(out_left, UINT_MAX));
      out_left -= zs.avail_out;
    }
    rc = inflate(&zs, Z_NO_FLUSH);
  }
  const uint64_t produced = zs.total_out;
  const bool out_full = zs.avail_out == 0 && out_left == 0;
  const std::string zmsg = zs.msg ? zs.msg : "no detail";
  inflateEnd(&zs);
  if (rc == Z_BUF_ERROR) {
    return Status::corruption(named + (out_full ? ": inflates to more than the declared " +
                                                      std::to_string(entry.size) + " bytes"
                                                : ": deflate data is cut short"));
  }
  if (rc != Z_STREAM_END) return Status::corruption(named + ": bad deflate data (" + zmsg + ")");
  if (produced != entry.size) {
    return Status::corruption(named + ": inflates to " + std::to_string(produced) +
                              " bytes, the central directory says " + std::to_string(entry.size));
  }
  std::span<const std::byte> view(out->data(), out->size());
  XRS_RETURN_IF_ERROR(check_crc(entry, view));
  inflated_[size_t(&entry - entries_.data())] = std::move(out);
  return view;
}

StatusOr<std::span<const std::byte>> ZipReader::read(const Entry& entry, bool verify_crc) {
  assert(&entry >= entries_.data() && &entry < entries_.data() + entries_.size());
  const std::string named = label_ + ": zip entry '" + entry.name + "'";
  if (entry.flags & (kFlagEncrypted | kFlagStrongEncryption)) {
    return Status::unsupported(named + " is encrypted");
  }
  if (entry.method == kMethodDeflated) {
    auto cached = inflated_.find(size_t(&entry - entries_.data()));
    if (cached != inflated_.end()) return std::span<const std::byte>(*cached->second);
    return inflate_entry(entry);
  }
  if (entry.method != kMethodStored) {
    return Status::unsupported(named + ": compression method " + std::to_string(entry.method) +
                               " (only stored and deflated entries are supported)");
  }
  if (entry.compressed_size != entry.size) {
    return Status::corruption(named + ": stored entry with " +
                              std::to_string(entry.compressed_size) + " bytes on disk but " +
                              std::to_string(entry.size) + " declared");
  }
  std::span<const std::byte> data = bytes_.subspan(entry.data_offset, entry.size);
  if (verify_crc) XRS_RETURN_IF_ERROR(check_crc(entry, data));
  return data;
}

}  // namespace xrs
