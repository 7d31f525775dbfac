// The zip reader: stored, deflated and ZIP64 archives written by hand and by CPython's zipfile,
// and damaged archives (central directory, end record, CRC, truncation at every length).
#include "clip/checkpoint/zip_reader.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "checkpoint_builders.h"
#include "core/file_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using testing::build_zip;
using testing::ZipEntrySpec;

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}
std::string text_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
void patch(std::string* z, size_t offset, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) (*z)[offset + i] = char((value >> (8 * i)) & 0xff);
}

std::string pattern(size_t n) {  // compressible but not trivial
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 7 + i / 300) & 0xff);
  return s;
}

void expect_reads_back(const std::vector<ZipEntrySpec>& specs, bool zip64) {
  const std::string z = build_zip(specs, zip64);
  auto zip = ZipReader::open(bytes_of(z), "test.zip");
  ASSERT_TRUE(zip.is_ok()) << zip.status().to_string();
  ASSERT_EQ(zip->entries().size(), specs.size());
  for (const ZipEntrySpec& s : specs) {
    const ZipReader::Entry* e = zip->find(s.name);
    ASSERT_NE(e, nullptr) << s.name;
    EXPECT_EQ(e->size, s.data.size());
    auto data = zip->read(*e);
    ASSERT_TRUE(data.is_ok()) << data.status().to_string();
    EXPECT_EQ(text_of(*data), s.data) << s.name;
    const bool inside =
        data->data() >= bytes_of(z).data() && data->data() <= bytes_of(z).data() + z.size();
    if (!s.deflate) {
      EXPECT_TRUE(inside) << s.name << ": stored entries are views, not copies";
    } else if (!s.data.empty()) {
      EXPECT_FALSE(inside) << s.name;
    }
    // A second read of a deflated entry returns the same buffer (inflated once).
    auto again = zip->read(*e);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again->data(), data->data());
  }
  EXPECT_EQ(zip->find("absent"), nullptr);
}

TEST(ZipReaderTest, ReadsStoredAndDeflatedEntries) {
  const std::vector<ZipEntrySpec> specs = {{"a/data.pkl", "hello"},
                                           {"a/data/0", pattern(200000), true},
                                           {"a/empty", ""},
                                           {"a/empty_deflated", "", true}};
  expect_reads_back(specs, /*zip64=*/false);
  expect_reads_back(specs, /*zip64=*/true);
}

TEST(ZipReaderTest, ReadsWhatCPythonZipfileWrites) {
  const char* python = "/usr/bin/python3";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "skipped: " << python << " is absent";
  const std::string path = testing::scratch_dir("zip_cpython") + "/py.zip";
  // Real Huffman-coded deflate at two levels, a stored entry, and an archive comment (so the
  // end record is not the last 22 bytes).
  const std::string cmd =
      std::string(python) +
      " -c \"import zipfile, sys\n"
      "data = bytes((i * 7 + i // 300) & 255 for i in range(200000))\n"
      "with zipfile.ZipFile(sys.argv[1], 'w') as z:\n"
      "    z.writestr(zipfile.ZipInfo('d9'), data, zipfile.ZIP_DEFLATED, 9)\n"
      "    z.writestr(zipfile.ZipInfo('d1'), data[:77777], zipfile.ZIP_DEFLATED, 1)\n"
      "    z.writestr(zipfile.ZipInfo('s'), b'stored', zipfile.ZIP_STORED)\n"
      "    z.comment = b'PK a comment that mentions PK'\n\" " +
      path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto file = read_file(path);
  ASSERT_TRUE(file.is_ok());
  auto zip = ZipReader::open(bytes_of(*file), path);
  ASSERT_TRUE(zip.is_ok()) << zip.status().to_string();
  ASSERT_EQ(zip->entries().size(), 3u);
  EXPECT_EQ(zip->find("d9")->method, 8);
  EXPECT_LT(zip->find("d9")->compressed_size, 100000u) << "really compressed";
  auto d9 = zip->read(*zip->find("d9"));
  auto d1 = zip->read(*zip->find("d1"));
  auto s = zip->read(*zip->find("s"));
  ASSERT_TRUE(d9.is_ok() && d1.is_ok() && s.is_ok()) << d9.status().to_string();
  EXPECT_EQ(text_of(*d9), pattern(200000));
  EXPECT_EQ(text_of(*d1), pattern(77777));
  EXPECT_EQ(text_of(*s), "stored");
}

// One stored entry "n" = "hello": local header at 0 (30 + 1 + 5 bytes), central directory
// entry at 36 (46 + 1 bytes), end record at 83.
constexpr size_t kCentral = 36, kEnd = 83;

TEST(ZipReaderTest, RejectsDamagedArchivesWithClearErrors) {
  const std::string good = build_zip({{"n", "hello"}});
  ASSERT_EQ(good.size(), kEnd + 22);
  struct Case {
    const char* what;
    size_t offset;
    uint64_t value;
    int bytes;
    StatusCode code;
    const char* phrase;
  };
  const Case open_cases[] = {
      {"central signature", kCentral, 0x12345678, 4, StatusCode::kCorruption,
       "central directory entry at offset 36: bad signature"},
      {"local offset", kCentral + 42, 7, 4, StatusCode::kCorruption, "no local header at offset 7"},
      {"local offset far", kCentral + 42, 0xfffffff0, 4, StatusCode::kCorruption,
       "no local header"},
      {"name length", kCentral + 28, 400, 2, StatusCode::kCorruption, "run past the central"},
      {"compressed size", kCentral + 20, 1000, 4, StatusCode::kCorruption, "run past the central"},
      {"local name", 30, 'm', 1, StatusCode::kCorruption, "does not match the central directory"},
      {"cd offset", kEnd + 16, 5000, 4, StatusCode::kCorruption, "lies outside the archive"},
      {"cd size", kEnd + 12, 48, 4, StatusCode::kCorruption, "lies outside the archive"},
      {"entry count", kEnd + 10, 9, 2, StatusCode::kCorruption, "claims 9 entries"},
      {"disk", kEnd + 4, 1, 2, StatusCode::kUnsupported, "multi-disk"},
      {"zip64 sentinel", kEnd + 16, 0xffffffff, 4, StatusCode::kCorruption,
       "needs a ZIP64 locator"},
      {"comment length", kEnd + 20, 10, 2, StatusCode::kCorruption,
       "no zip end of central directory record"},
  };
  for (const Case& c : open_cases) {
    std::string z = good;
    patch(&z, c.offset, c.value, c.bytes);
    auto r = ZipReader::open(bytes_of(z), "bad.zip");
    ASSERT_FALSE(r.is_ok()) << c.what;
    EXPECT_EQ(r.status().code(), c.code) << c.what << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find(c.phrase), std::string::npos)
        << c.what << ": " << r.status().to_string();
    EXPECT_EQ(r.status().message().rfind("bad.zip: ", 0), 0u) << "error names the archive";
  }
  const Case read_cases[] = {
      {"data byte", 31, 'j', 1, StatusCode::kCorruption, "CRC-32 is"},
      {"crc field", kCentral + 16, 0, 4, StatusCode::kCorruption,
       "the central directory says 00000000"},
      {"encrypted", kCentral + 8, 1, 2, StatusCode::kUnsupported, "is encrypted"},
      {"method", kCentral + 10, 12, 2, StatusCode::kUnsupported, "compression method 12"},
      {"stored sizes", kCentral + 24, 4, 4, StatusCode::kCorruption, "stored entry with 5 bytes"},
  };
  for (const Case& c : read_cases) {
    std::string z = good;
    patch(&z, c.offset, c.value, c.bytes);
    auto zip = ZipReader::open(bytes_of(z), "bad.zip");
    ASSERT_TRUE(zip.is_ok()) << c.what << ": " << zip.status().to_string();
    auto r = zip->read(zip->entries()[0]);
    ASSERT_FALSE(r.is_ok()) << c.what;
    EXPECT_EQ(r.status().code(), c.code) << c.what << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find(c.phrase), std::string::npos)
        << c.what << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find("'n'"), std::string::npos) << "error names the entry";
  }
}

TEST(ZipReaderTest, RejectsBadDeflateData) {
  // Entry "n" deflated as one stored block: 5 header bytes + "hello" at offset 31.
  const std::string good = build_zip({{"n", "hello", true}});
  const size_t central = 31 + 10;
  struct Case {
    const char* what;
    size_t offset;
    uint64_t value;
    int bytes;
    const char* phrase;
  };
  const Case cases[] = {
      {"reserved block type", 31, 0x07, 1, "bad deflate data"},
      {"payload byte", 36, 'j', 1, "CRC-32 is"},
      {"declared larger", central + 24, 6, 4, "inflates to 5 bytes"},
      {"declared smaller", central + 24, 4, 4, "more than the declared 4 bytes"},
      {"compressed cut", central + 20, 7, 4, "cut short"},
      {"zip bomb", central + 24, 0x7fffffff, 4, "more than deflate can produce"},
  };
  for (const Case& c : cases) {
    std::string z = good;
    patch(&z, c.offset, c.value, c.bytes);
    auto zip = ZipReader::open(bytes_of(z), "bad.zip");
    ASSERT_TRUE(zip.is_ok()) << c.what << ": " << zip.status().to_string();
    auto r = zip->read(zip->entries()[0]);
    ASSERT_FALSE(r.is_ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << c.what;
    EXPECT_NE(r.status().message().find(c.phrase), std::string::npos)
        << c.what << ": " << r.status().to_string();
  }
}

TEST(ZipReaderTest, RejectsBadZip64Records) {
  std::string z = build_zip({{"n", "hello"}}, /*zip64=*/true);
  ASSERT_TRUE(ZipReader::open(bytes_of(z), "z64").is_ok());
  const size_t locator = z.size() - 22 - 20;
  std::string bad = z;
  patch(&bad, locator + 8, 3, 8);  // points to a local header, not a ZIP64 end record
  auto r = ZipReader::open(bytes_of(bad), "z64");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("ZIP64 locator"), std::string::npos)
      << r.status().to_string();
  bad = z;
  patch(&bad, locator + 8, uint64_t(1) << 62, 8);
  EXPECT_EQ(ZipReader::open(bytes_of(bad), "z64").status().code(), StatusCode::kCorruption);
  bad = z;
  patch(&bad, locator - 56 + 48, uint64_t(1) << 40, 8);  // central directory offset
  EXPECT_EQ(ZipReader::open(bytes_of(bad), "z64").status().code(), StatusCode::kCorruption);
}

TEST(ZipReaderTest, EveryTruncationFailsCleanly) {
  const std::string z = build_zip({{"a/data.pkl", "hello"}, {"a/data/0", pattern(300), true}});
  for (size_t n = 0; n < z.size(); ++n) {
    auto r = ZipReader::open(bytes_of(z.substr(0, n)), "cut.zip");
    ASSERT_FALSE(r.is_ok()) << "prefix of " << n << " bytes";
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
    if (n >= z.size() - 18) {
      EXPECT_NE(r.status().message().find("cut short"), std::string::npos)
          << n << ": " << r.status().to_string();
    }
  }
}

// Every single-byte change anywhere: no crash (the sanitizer build checks every access), and a
// change to entry data is always caught by the CRC.
TEST(ZipReaderTest, SingleByteDamageIsSafeAndDataDamageIsCaught) {
  const std::vector<ZipEntrySpec> specs = {{"s", pattern(100)}, {"d", pattern(150), true}};
  const std::string z = build_zip(specs);
  const size_t s_data = 30 + 1, d_data = s_data + 100 + 30 + 1;
  for (size_t pos = 0; pos < z.size(); ++pos) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string bad = z;
      bad[pos] = char(bad[pos] ^ x);
      auto zip = ZipReader::open(bytes_of(bad), "flip.zip");
      bool all_read = zip.is_ok();
      if (zip.is_ok()) {
        for (const auto& e : zip->entries()) all_read = all_read && zip->read(e).is_ok();
      }
      // (Bits 3-7 of a stored block's first byte are padding that inflate skips.)
      const bool in_data =
          (pos >= s_data && pos < s_data + 100) || (pos > d_data && pos < d_data + 5 + 150);
      if (in_data) {
        EXPECT_FALSE(all_read) << "undetected change at " << pos;
      }
    }
  }
}

TEST(ZipReaderTest, RejectsNonZipsAndDuplicates) {
  EXPECT_EQ(ZipReader::open(bytes_of(std::string(10, 'x')), "t").status().code(),
            StatusCode::kCorruption);
  auto r = ZipReader::open(bytes_of(std::string(5000, 'x')), "t");
  EXPECT_NE(r.status().message().find("no zip end of central directory record"), std::string::npos);
  auto dup = ZipReader::open(bytes_of(build_zip({{"a", "1"}, {"a", "2"}})), "t");
  ASSERT_FALSE(dup.is_ok());
  EXPECT_NE(dup.status().message().find("appears twice"), std::string::npos);
  auto empty = ZipReader::open(bytes_of(build_zip({})), "t");
  ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
  EXPECT_TRUE(empty->entries().empty());
}

}  // namespace
}  // namespace xrs
