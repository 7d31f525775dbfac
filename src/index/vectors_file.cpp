#include "index/vectors_file.h"

#include <cstring>
#include <vector>

#include "core/file_util.h"
#include "core/sha256.h"
#include "index/faiss_index.h"

namespace xrs {

namespace {

// Header layout (little-endian); see docs/INDEX_FORMAT.md.
constexpr size_t kHeaderSize = 128;
constexpr char kMagic[8] = {'X', 'R', 'S', 'V', 'E', 'C', 'S', '\0'};
constexpr size_t kOffVersion = 8, kOffKind = 12, kOffDim = 16, kOffCount = 24, kOffGeneration = 32,
                 kOffCatalogId = 40, kOffPayloadBytes = 72, kOffChecksum = 96;
constexpr size_t kCatalogIdSize = 32, kChecksumSize = 32;

uint32_t kind_code(IndexKind kind) {
  switch (kind) {
    case IndexKind::kHnsw:
      return 1;
    case IndexKind::kIvf:
      return 2;
    case IndexKind::kIvfPq:
      return 3;
    case IndexKind::kF16:
      return 4;
    case IndexKind::kExact:
      break;
  }
  return 0;
}

template <typename T>
void put(uint8_t* header, size_t offset, T value) {
  std::memcpy(header + offset, &value, sizeof(T));
}

template <typename T>
T get(const std::byte* header, size_t offset) {
  T value;
  std::memcpy(&value, header + offset, sizeof(T));
  return value;
}

// SHA-256 over the header without its checksum field, then everything after the header.
std::string checksum_hex(std::string_view file) {
  Sha256 sha;
  sha.update(file.substr(0, kOffChecksum));
  sha.update(file.substr(kHeaderSize));
  return sha.finish_hex();
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
    out += kHex[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

void hex_to_bytes(const std::string& hex, uint8_t* out) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out[i / 2] = static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
  }
}

}  // namespace

Status write_vectors_file(const std::string& path, const VectorIndex& index,
                          const VectorsFileStamp& stamp) {
  if (index.kind() == IndexKind::kExact) {
    return Status::invalid_argument(path + ": exact indexes are not persisted");
  }
  if (stamp.catalog_id.size() != kCatalogIdSize) {
    return Status::invalid_argument(path + ": catalog id '" + stamp.catalog_id +
                                    "' is not 32 characters");
  }
  const size_t count = index.size();
  std::vector<uint8_t> buf(kHeaderSize + count * sizeof(int64_t), 0);
  std::memcpy(buf.data() + kHeaderSize, index.ids().data(), count * sizeof(int64_t));
  XRS_RETURN_IF_ERROR(index_internal::append_faiss_index(index, buf).with_context(path));
  uint8_t* h = buf.data();
  std::memcpy(h, kMagic, sizeof(kMagic));
  put<uint32_t>(h, kOffVersion, kVectorsFileVersion);
  put<uint32_t>(h, kOffKind, kind_code(index.kind()));
  put<uint32_t>(h, kOffDim, stamp.dim);
  put<uint64_t>(h, kOffCount, count);
  put<uint64_t>(h, kOffGeneration, stamp.generation);
  std::memcpy(h + kOffCatalogId, stamp.catalog_id.data(), kCatalogIdSize);
  put<uint64_t>(h, kOffPayloadBytes, buf.size() - kHeaderSize - count * sizeof(int64_t));
  std::string_view file(reinterpret_cast<const char*>(buf.data()), buf.size());
  hex_to_bytes(checksum_hex(file), h + kOffChecksum);
  return write_file_atomic(path, file);
}

StatusOr<std::unique_ptr<VectorIndex>> read_vectors_file(const std::string& path, IndexKind kind,
                                                         const VectorsFileStamp& stamp,
                                                         std::span<const int64_t> expected_ids,
                                                         const VectorIndexOptions& options) {
  XRS_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
  const std::byte* h = mapped.data();
  const size_t size = mapped.size();
  auto corrupt = [&](const std::string& why) { return Status::corruption(path + ": " + why); };
  auto stale = [&](const std::string& why) {
    return Status::failed_precondition(path + ": stale: " + why);
  };
  if (size < kHeaderSize) {
    return corrupt("truncated: " + std::to_string(size) + " bytes, the header alone is " +
                   std::to_string(kHeaderSize));
  }
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0) return corrupt("not a vectors file (magic)");
  if (uint32_t v = get<uint32_t>(h, kOffVersion); v != kVectorsFileVersion) {
    return corrupt("format version " + std::to_string(v) + ", this build reads " +
                   std::to_string(kVectorsFileVersion));
  }
  const uint64_t count = get<uint64_t>(h, kOffCount);
  const uint64_t payload = get<uint64_t>(h, kOffPayloadBytes);
  if (count > size / sizeof(int64_t) || payload > size ||
      kHeaderSize + count * sizeof(int64_t) + payload != size) {
    return corrupt("size " + std::to_string(size) + " disagrees with the header (" +
                   std::to_string(count) + " ids, " + std::to_string(payload) +
                   " payload bytes): truncated or damaged");
  }
  std::string file_catalog(reinterpret_cast<const char*>(h + kOffCatalogId), kCatalogIdSize);
  if (file_catalog != stamp.catalog_id) return stale("built from another catalog");
  if (uint64_t g = get<uint64_t>(h, kOffGeneration); g != stamp.generation) {
    return stale("built at catalog generation " + std::to_string(g) + ", the catalog is at " +
                 std::to_string(stamp.generation));
  }
  if (uint32_t d = get<uint32_t>(h, kOffDim); d != stamp.dim) {
    return stale("dimension " + std::to_string(d) + ", the catalog has " +
                 std::to_string(stamp.dim));
  }
  if (get<uint32_t>(h, kOffKind) != kind_code(kind)) {
    return stale("holds another kind of index than " + std::string(index_kind_name(kind)));
  }
  if (count != expected_ids.size()) {
    return stale(std::to_string(count) + " vectors, the catalog has " +
                 std::to_string(expected_ids.size()));
  }
  std::string_view file(reinterpret_cast<const char*>(h), size);
  std::string stored = to_hex(file.substr(kOffChecksum, kChecksumSize));
  if (checksum_hex(file) != stored) return corrupt("checksum mismatch: the file is damaged");
  std::vector<int64_t> ids(count);
  std::memcpy(ids.data(), h + kHeaderSize, count * sizeof(int64_t));
  if (!std::equal(ids.begin(), ids.end(), expected_ids.begin())) {
    return stale("its image ids differ from the catalog's");
  }
  auto bytes = mapped.bytes().subspan(kHeaderSize + count * sizeof(int64_t));
  StatusOr<std::unique_ptr<VectorIndex>> index =
      index_internal::read_faiss_index(kind, std::move(ids), stamp.dim, bytes, options);
  if (!index.is_ok()) return index.status().with_context(path);
  return index;
}

}  // namespace xrs
