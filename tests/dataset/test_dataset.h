// Helpers for dataset tests: scratch dataset directories and image bytes written from the
// format specifications (PNG: ISO/IEC 15948 with stored deflate blocks, RFC 1950/1951), so that
// no test image depends on the code under test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dataset/dataset.h"
#include "support/test_paths.h"

namespace xrs::testing {

inline uint32_t crc32(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

inline void put_be32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xFF);
}

inline std::string png_chunk(std::string_view type, std::string_view data) {
  std::string out;
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type) + std::string(data);
  out += body;
  put_be32(out, crc32(body));
  return out;
}

inline std::string png_ihdr(uint32_t width, uint32_t height) {
  std::string ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit gray, deflate, filter 0, no interlace
  return std::string("\x89PNG\r\n\x1A\n", 8) + png_chunk("IHDR", ihdr);
}

// A valid 8-bit grayscale PNG whose pixels are (x + y + seed) mod 256.
inline std::string make_png(uint32_t width, uint32_t height, int seed = 0) {
  std::string raw;
  for (uint32_t y = 0; y < height; ++y) {
    raw += '\0';  // filter type None
    for (uint32_t x = 0; x < width; ++x) raw += static_cast<char>((x + y + seed) & 0xFF);
  }
  std::string z = "\x78\x01";
  for (size_t pos = 0; pos < raw.size() || pos == 0; pos += 65535) {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n >= raw.size();
    z += static_cast<char>(last ? 1 : 0);
    z += static_cast<char>(n & 0xFF);
    z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xFF);
    z += static_cast<char>((~n >> 8) & 0xFF);
    z += raw.substr(pos, n);
    if (last) break;
  }
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(z, (b << 16) | a);
  return png_ihdr(width, height) + png_chunk("IDAT", z) + png_chunk("IEND", "");
}

// Only a signature and a valid IHDR claiming width x height (a decompression-bomb header).
inline std::string png_header_only(uint32_t width, uint32_t height) {
  return png_ihdr(width, height) + png_chunk("IEND", "");
}

// The first bytes of a JFIF file (SOI + APP0): what a sniffer sees, not a decodable image.
inline std::string jpeg_start() {
  return std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20);
}

// A scratch dataset directory under the build tree.
class ScratchDataset {
 public:
  explicit ScratchDataset(const std::string& name) : dir_(scratch_dir("dataset/" + name)) {}

  const std::string& dir() const { return dir_; }

  void write(const std::string& relative, std::string_view bytes) const {
    const std::filesystem::path p = std::filesystem::path(dir_) / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << p;
  }
  void csv(std::string_view text) const { write("metadata.csv", text); }
  void mkdir(const std::string& relative) const {
    std::filesystem::create_directories(std::filesystem::path(dir_) / relative);
  }
  void symlink(const std::string& target, const std::string& relative) const {
    const std::filesystem::path p = std::filesystem::path(dir_) / relative;
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::create_symlink(target, p);
  }

 private:
  std::string dir_;
};

// A problem as "code file:line image_name" for exact comparison of whole reports.
inline std::string problem_key(const Problem& p) {
  std::string k = p.code + " " + p.file + ":" + std::to_string(p.line);
  if (!p.image_name.empty()) k += " " + p.image_name;
  return k;
}

inline std::vector<std::string> problem_keys(const ValidationReport& r) {
  std::vector<std::string> out;
  for (const Problem& p : r.problems) out.push_back(problem_key(p));
  return out;
}

}  // namespace xrs::testing
