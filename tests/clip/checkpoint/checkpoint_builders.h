// Test helpers that write zip archives and PyTorch-style pickles byte by byte, straight from the
// format specifications (PKWARE APPNOTE; CPython's pickletools opcode table), so that the
// readers are tested against hand-made, fully controlled input rather than their own output.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrs::testing {

// CRC-32 (ISO-HDLC) computed bit by bit: independent of zlib's table-driven one.
inline uint32_t bitwise_crc32(std::string_view data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline void put_le(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(char((v >> (8 * i)) & 0xff));
}

// A raw deflate stream made of "stored" blocks (BTYPE 00, RFC 1951 section 3.2.4): valid input
// for any inflater, written without a compressor.
inline std::string deflate_stored_blocks(std::string_view data) {
  std::string out;
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(data.size() - pos, 0xffff);
    const bool last = pos + n == data.size();
    out.push_back(last ? 1 : 0);
    put_le(&out, n, 2);
    put_le(&out, ~n & 0xffff, 2);
    out.append(data.substr(pos, n));
    pos += n;
  } while (pos < data.size());
  return out;
}

struct ZipEntrySpec {
  std::string name;
  std::string data;      // uncompressed content
  bool deflate = false;  // store as deflate (stored blocks) instead of method 0
  uint16_t flags = 0;
  uint16_t method_override = 0xffff;  // write this method number instead (e.g. 12, bzip2)
};

// A single-disk zip. With zip64, every size and offset goes through the ZIP64 extra field and
// the ZIP64 end record + locator, as writers do for archives over 4 GiB.
inline std::string build_zip(const std::vector<ZipEntrySpec>& entries, bool zip64 = false) {
  std::string out, central;
  for (const ZipEntrySpec& e : entries) {
    const std::string body = e.deflate ? deflate_stored_blocks(e.data) : e.data;
    const uint16_t method = e.method_override != 0xffff ? e.method_override : e.deflate ? 8 : 0;
    const uint32_t crc = bitwise_crc32(e.data);
    const uint64_t offset = out.size();
    std::string extra;
    if (zip64) {
      put_le(&extra, 0x0001, 2);
      put_le(&extra, 24, 2);
      put_le(&extra, e.data.size(), 8);
      put_le(&extra, body.size(), 8);
      put_le(&extra, offset, 8);
    }
    auto header_fields = [&](std::string* h) {
      put_le(h, 45, 2);  // version needed
      put_le(h, e.flags, 2);
      put_le(h, method, 2);
      put_le(h, 0, 4);  // time, date
      put_le(h, crc, 4);
      put_le(h, zip64 ? 0xffffffffu : body.size(), 4);
      put_le(h, zip64 ? 0xffffffffu : e.data.size(), 4);
      put_le(h, e.name.size(), 2);
      put_le(h, extra.size(), 2);
    };
    put_le(&out, 0x04034b50, 4);
    header_fields(&out);
    out += e.name + extra + body;
    put_le(&central, 0x02014b50, 4);
    put_le(&central, 45, 2);  // version made by
    header_fields(&central);
    put_le(&central, 0, 2);  // comment length
    put_le(&central, 0, 2);  // disk number start
    put_le(&central, 0, 2);  // internal attributes
    put_le(&central, 0, 4);  // external attributes
    put_le(&central, zip64 ? 0xffffffffu : offset, 4);
    central += e.name + extra;
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const uint64_t record = out.size();
    put_le(&out, 0x06064b50, 4);
    put_le(&out, 44, 8);  // size of the rest of the record
    put_le(&out, 45, 2);
    put_le(&out, 45, 2);
    put_le(&out, 0, 4);
    put_le(&out, 0, 4);
    put_le(&out, entries.size(), 8);
    put_le(&out, entries.size(), 8);
    put_le(&out, central.size(), 8);
    put_le(&out, cd_offset, 8);
    put_le(&out, 0x07064b50, 4);
    put_le(&out, 0, 4);
    put_le(&out, record, 8);
    put_le(&out, 1, 4);
  }
  put_le(&out, 0x06054b50, 4);
  put_le(&out, 0, 4);  // disk numbers
  put_le(&out, zip64 ? 0xffff : entries.size(), 2);
  put_le(&out, zip64 ? 0xffff : entries.size(), 2);
  put_le(&out, zip64 ? 0xffffffffu : central.size(), 4);
  put_le(&out, zip64 ? 0xffffffffu : cd_offset, 4);
  put_le(&out, 0, 2);  // comment length
  return out;
}

// Pickle fragments (protocol 2), shaped the way torch's picklers write checkpoints.
namespace pk {

inline std::string str(std::string_view s) {
  std::string out = "X";
  put_le(&out, s.size(), 4);
  return out.append(s);
}
inline std::string integer(int64_t v) {
  std::string out;
  if (v >= 0 && v < 256) {
    out = "K";
    put_le(&out, uint64_t(v), 1);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out = "J";
    put_le(&out, uint32_t(int32_t(v)), 4);
  } else {
    out = "\x8a\x08";
    put_le(&out, uint64_t(v), 8);
  }
  return out;
}
inline std::string global(std::string_view module, std::string_view name) {
  return "c" + std::string(module) + "\n" + std::string(name) + "\n";
}
inline std::string tuple(const std::vector<std::string>& items) {
  std::string out = "(";
  for (const std::string& i : items) out += i;
  return out + "t";
}
inline std::string int_tuple(const std::vector<int64_t>& v) {
  std::vector<std::string> items;
  for (int64_t x : v) items.push_back(integer(x));
  return tuple(items);
}
inline std::string ordered_dict(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out = global("collections", "OrderedDict") + ")R";
  if (kv.empty()) return out;
  out += "(";
  for (const auto& [k, v] : kv) out += str(k) + v;
  return out + "u";
}
// The persistent id of a storage: ('storage', torch.<type>, key, 'cpu', numel).
inline std::string storage(std::string_view type, std::string_view key, int64_t numel) {
  return tuple({str("storage"), global("torch", type), str(key), str("cpu"), integer(numel)}) + "Q";
}
inline std::string tensor(const std::string& storage_pid, int64_t offset,
                          const std::vector<int64_t>& shape, const std::vector<int64_t>& stride) {
  return global("torch._utils", "_rebuild_tensor_v2") +
         tuple({storage_pid, integer(offset), int_tuple(shape), int_tuple(stride), "\x89",
                ordered_dict({})}) +
         "R";
}
// A TorchScript module object: GLOBAL __torch__.<module> <cls>, NEWOBJ, BUILD with a dict.
inline std::string module(std::string_view cls,
                          const std::vector<std::pair<std::string, std::string>>& attrs) {
  std::string out = global("__torch__.model", cls) + ")\x81}(";
  for (const auto& [k, v] : attrs) out += str(k) + v;
  return out + "ub";
}
inline std::string pickle(const std::string& body) {
  return "\x80\x02" + body + ".";
}

}  // namespace pk
}  // namespace xrs::testing
