// DICOM decoding: the three CR specimens against pydicom + numpy (independent decoders where
// they exist, the standard's window formula written out), synthetic files built here for every
// branch of the pixel and VOI rules, and damaged inputs.
#include "imaging/dicom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "imaging/decode.h"
#include "imaging/encode.h"
#include "imaging/jpeg_decode.h"
#include "support/gdcm_regression_dicom.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// ---- a minimal DICOM Part 10 writer for synthetic files ------------------------------------

std::string le16(uint16_t v) {
  return {char(v & 0xff), char(v >> 8)};
}
std::string le32(uint32_t v) {
  return le16(uint16_t(v & 0xffff)) + le16(uint16_t(v >> 16));
}
std::string words(const std::vector<uint16_t>& values) {
  std::string out;
  for (uint16_t v : values) out += le16(v);
  return out;
}

class DicomBuilder {
 public:
  static constexpr const char* kExplicitLittle = "1.2.840.10008.1.2.1";
  static constexpr const char* kImplicitLittle = "1.2.840.10008.1.2";
  static constexpr const char* kRleLossless = "1.2.840.10008.1.2.5";

  explicit DicomBuilder(bool implicit_vr = false)
      : implicit_(implicit_vr), transfer_syntax_(implicit_vr ? kImplicitLittle : kExplicitLittle) {}

  DicomBuilder& raw(uint16_t group, uint16_t element, std::string vr, std::string value) {
    if (value.size() % 2) value += vr == "UI" || vr == "OB" ? '\0' : ' ';
    elements_[uint32_t(group) << 16 | element] = {std::move(vr), std::move(value), false};
    return *this;
  }
  DicomBuilder& text(uint16_t group, uint16_t element, std::string vr, std::string value) {
    return raw(group, element, std::move(vr), std::move(value));
  }
  DicomBuilder& us(uint16_t group, uint16_t element, std::vector<uint16_t> values) {
    return raw(group, element, "US", words(values));
  }
  DicomBuilder& sequence(uint16_t group, uint16_t element, const DicomBuilder& item) {
    const std::string body = item.encode();
    return raw(group, element, "SQ",
               le16(0xfffe) + le16(0xe000) + le32(uint32_t(body.size())) + body);
  }
  // A sequence of one item, both of undefined length (the item implicit VR when vr is "UN").
  DicomBuilder& undefined_sequence(uint16_t group, uint16_t element, const DicomBuilder& item,
                                   const char* vr = "SQ") {
    const std::string value = le16(0xfffe) + le16(0xe000) + le32(0xffffffff) + item.encode() +
                              le16(0xfffe) + le16(0xe00d) + le32(0) + le16(0xfffe) + le16(0xe0dd) +
                              le32(0);
    elements_[uint32_t(group) << 16 | element] = {vr, value, true};
    return *this;
  }
  // Encapsulated Pixel Data: an empty Basic Offset Table, then one item per fragment.
  DicomBuilder& fragments(const char* transfer_syntax, const std::vector<std::string>& fragments) {
    transfer_syntax_ = transfer_syntax;
    std::string value = le16(0xfffe) + le16(0xe000) + le32(0);
    for (const std::string& f : fragments) {
      value += le16(0xfffe) + le16(0xe000) + le32(uint32_t(f.size())) + f;
    }
    elements_[0x7fe00010] = {"OB", value + le16(0xfffe) + le16(0xe0dd) + le32(0), true};
    return *this;
  }
  DicomBuilder& erase(uint16_t group, uint16_t element) {
    elements_.erase(uint32_t(group) << 16 | element);
    return *this;
  }

  std::string encode() const {
    std::string out;
    for (const auto& [tag, entry] : elements_) out += encode_element(tag, entry, implicit_);
    return out;
  }

  std::vector<uint8_t> file() const {
    const Entry version{"OB", std::string("\0\1", 2)};
    const Entry sop{"UI", std::string("1.2.840.10008.5.1.4.1.1.1", 26)};
    const Entry instance{"UI", std::string("1.2.3.4", 7) + '\0'};
    std::string ts = transfer_syntax_;
    if (ts.size() % 2) ts += '\0';
    const std::string meta =
        encode_element(0x00020001, version, false) + encode_element(0x00020002, sop, false) +
        encode_element(0x00020003, instance, false) + encode_element(0x00020010, {"UI", ts}, false);
    const std::string head = std::string(128, '\0') + "DICM" +
                             encode_element(0x00020000, {"UL", le32(uint32_t(meta.size()))}, false);
    const std::string all = head + meta + encode();
    return std::vector<uint8_t>(all.begin(), all.end());
  }

 private:
  struct Entry {
    std::string vr;
    std::string value;
    bool undefined_length = false;
  };

  static std::string encode_element(uint32_t tag, const Entry& entry, bool implicit) {
    std::string out = le16(uint16_t(tag >> 16)) + le16(uint16_t(tag & 0xffff));
    if (implicit) {
      return out + le32(entry.undefined_length ? 0xffffffff : uint32_t(entry.value.size())) +
             entry.value;
    }
    out += entry.vr;
    const bool long_form = entry.vr == "OB" || entry.vr == "OW" || entry.vr == "SQ" ||
                           entry.vr == "UN" || entry.vr == "UT";
    const uint32_t length = entry.undefined_length ? 0xffffffff : uint32_t(entry.value.size());
    out += long_form ? le16(0) + le32(length) : le16(uint16_t(length));
    return out + entry.value;
  }

  bool implicit_;
  std::string transfer_syntax_;
  std::map<uint32_t, Entry> elements_;
};

// A monochrome single-frame image with the given stored words (16-bit) or bytes (8-bit).
DicomBuilder mono(int rows, int columns, int bits_allocated, int bits_stored, bool is_signed,
                  const std::vector<uint16_t>& samples, const char* photometric = "MONOCHROME2",
                  bool implicit_vr = false) {
  DicomBuilder b(implicit_vr);
  b.text(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.1")
      .text(0x0008, 0x0018, "UI", "1.2.3.4")
      .text(0x0008, 0x0060, "CS", "CR")
      .us(0x0028, 0x0002, {1})
      .text(0x0028, 0x0004, "CS", photometric)
      .us(0x0028, 0x0010, {uint16_t(rows)})
      .us(0x0028, 0x0011, {uint16_t(columns)})
      .us(0x0028, 0x0100, {uint16_t(bits_allocated)})
      .us(0x0028, 0x0101, {uint16_t(bits_stored)})
      .us(0x0028, 0x0102, {uint16_t(bits_stored - 1)})
      .us(0x0028, 0x0103, {uint16_t(is_signed ? 1 : 0)});
  if (bits_allocated == 8) {
    std::string bytes;
    for (uint16_t s : samples) bytes += char(s);
    b.raw(0x7fe0, 0x0010, "OB", bytes);
  } else {
    b.raw(0x7fe0, 0x0010, "OW", words(samples));
  }
  return b;
}

DicomPixels must_decode(const std::vector<uint8_t>& bytes, const DecodeOptions& options = {}) {
  StatusOr<DicomPixels> pixels = decode_dicom_pixels(bytes, options);
  EXPECT_TRUE(pixels.is_ok()) << pixels.status().to_string();
  return pixels.is_ok() ? std::move(pixels).value() : DicomPixels{};
}

Image must_render(const DicomPixels& pixels, const WindowOptions& options, std::string* how) {
  StatusOr<Image> image = render_dicom(pixels, options, how);
  EXPECT_TRUE(image.is_ok()) << image.status().to_string();
  return image.is_ok() ? std::move(image).value() : Image{};
}

// ---- stored values and the modality LUT ---------------------------------------------------

TEST(DicomPixels, SignedTwelveBitsMaskedSignExtendedAndRescaled) {
  // Stored 12-bit two's complement values with garbage in the 4 unused high bits.
  const std::vector<int> stored = {-2048, -1, 0, 1, 2047, -100};
  std::vector<uint16_t> samples;
  for (int s : stored) samples.push_back(uint16_t((s & 0x0fff) | 0xa000));
  DicomBuilder b = mono(2, 3, 16, 12, true, samples);
  b.text(0x0028, 0x1053, "DS", "2").text(0x0028, 0x1052, "DS", "-1000");
  const DicomPixels pixels = must_decode(b.file());
  ASSERT_EQ(pixels.values.pixels.size(), 6u);
  EXPECT_EQ(pixels.values.width, 3);
  EXPECT_EQ(pixels.values.height, 2);
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(pixels.values.pixels[i], float(2 * stored[i] - 1000)) << i;
  }
}

TEST(DicomPixels, UnsignedTenBitsMasked) {
  const std::vector<uint16_t> stored = {0, 1, 512, 1023};
  std::vector<uint16_t> samples;
  for (uint16_t s : stored) samples.push_back(uint16_t(s | 0xfc00));
  const DicomPixels pixels = must_decode(mono(2, 2, 16, 10, false, samples).file());
  EXPECT_EQ(pixels.values.pixels, (std::vector<float>{0, 1, 512, 1023}));
  EXPECT_EQ(pixels.info.bits_stored, 10);
  EXPECT_FALSE(pixels.info.pixel_signed);
}

TEST(DicomPixels, EightBitMonochrome1IsInvertedAfterWindowing) {
  const DicomPixels pixels =
      must_decode(mono(1, 4, 8, 8, false, {10, 20, 30, 110}, "MONOCHROME1").file());
  EXPECT_EQ(pixels.values.pixels, (std::vector<float>{10, 20, 30, 110}));
  WindowOptions options;
  options.mode = WindowMode::kMinMax;  // [10, 110]: 10/100*255 = 25.5 → 26, 20/100*255 = 51
  std::string how;
  const Image image = must_render(pixels, options, &how);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 229, 204, 0}));
  EXPECT_NE(how.find("inverted"), std::string::npos) << how;
}

TEST(DicomPixels, ModalityLutSequenceReplacesRescale) {
  DicomBuilder item;
  item.us(0x0028, 0x3002, {3, 0, 16}).raw(0x0028, 0x3006, "OW", words({100, 200, 300}));
  DicomBuilder b = mono(1, 4, 16, 16, false, {0, 1, 2, 5});
  b.sequence(0x0028, 0x3000, item).text(0x0028, 0x1053, "DS", "7");
  const DicomPixels pixels = must_decode(b.file());
  EXPECT_EQ(pixels.values.pixels, (std::vector<float>{100, 200, 300, 300}));
}

TEST(DicomPixels, FirstFrameOfMultiFrameOnlyWhenAsked) {
  DicomBuilder b = mono(1, 2, 16, 16, false, {1, 2, 3, 4});
  b.text(0x0028, 0x0008, "IS", "2");
  const std::vector<uint8_t> bytes = b.file();
  EXPECT_EQ(decode_dicom_pixels(bytes, {}).status().code(), StatusCode::kUnsupported);
  DecodeOptions options;
  options.dicom_first_frame = true;
  EXPECT_EQ(must_decode(bytes, options).values.pixels, (std::vector<float>{1, 2}));
  StatusOr<ImageInfo> info = probe_dicom(bytes, {});
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->frames, 2);
}

// An RLE Lossless frame (PS3.5 Annex G) of 16-bit samples: the 64-byte header, then the high
// bytes' segment and the low bytes' segment, each PackBits-coded.
std::string rle_frame(const std::string& high, const std::string& low) {
  std::string header = le32(2) + le32(64) + le32(uint32_t(64 + high.size()));
  header.resize(64, '\0');
  return header + high + low;
}

// A gray test picture as a baseline JPEG, and the pixels libjpeg-turbo decodes it to (the
// decoder that is Pillow-exact for JPEG files: decode_pillow_test).
struct BaselineJpeg {
  std::string bytes;
  std::vector<uint8_t> pixels;
};

BaselineJpeg baseline_jpeg(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.format = PixelFormat::kL;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) image.pixels.push_back(uint8_t((x * 7 + y * 13) % 251));
  }
  BaselineJpeg out;
  out.bytes = encode_jpeg(image, 90).value();
  const auto* data = reinterpret_cast<const uint8_t*>(out.bytes.data());
  out.pixels = decode_jpeg({data, out.bytes.size()}, {}).value().pixels;
  return out;
}

constexpr const char* kJpegBaseline = "1.2.840.10008.1.2.4.50";

TEST(DicomPixels, JpegBaselineDecodesLikeTheJpegFile) {
  const BaselineJpeg jpeg = baseline_jpeg(24, 16);
  // One fragment, and the same stream split over three (a single frame may span fragments).
  const std::string& j = jpeg.bytes;
  for (const std::vector<std::string>& fragments :
       {std::vector<std::string>{j},
        std::vector<std::string>{j.substr(0, 100), j.substr(100, 50), j.substr(150)}}) {
    DicomBuilder b = mono(16, 24, 8, 8, false, {});
    b.fragments(kJpegBaseline, fragments);
    const DicomPixels pixels = must_decode(b.file());
    ASSERT_EQ(pixels.values.pixels.size(), jpeg.pixels.size());
    for (size_t i = 0; i < jpeg.pixels.size(); ++i) {
      ASSERT_EQ(pixels.values.pixels[i], float(jpeg.pixels[i])) << i;
    }
  }
}

TEST(DicomPixels, JpegBaselineThatDisagreesWithTheHeaderIsRefused) {
  const BaselineJpeg jpeg = baseline_jpeg(24, 16);
  DicomBuilder b = mono(24, 16, 8, 8, false, {});  // rows and columns swapped
  b.fragments(kJpegBaseline, {jpeg.bytes});
  StatusOr<DicomPixels> r = decode_dicom_pixels(b.file(), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("the DICOM header 16x24"), std::string::npos)
      << r.status().message();
  // A truncated stream is corrupt, not a crash or a leak (ASan builds check the latter).
  DicomBuilder t = mono(16, 24, 8, 8, false, {});
  t.fragments(kJpegBaseline, {jpeg.bytes.substr(0, jpeg.bytes.size() / 2)});
  r = decode_dicom_pixels(t.file(), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
}

// Inputs that made GDCM abort (issue 8; docs/FUZZING.md): refused with an error before GDCM
// sees them, through decode_image_in_process, the raw decoder the worker process and the fuzz
// target run. fuzz/make_seeds.py generates the same structures for fuzz_replay_image.
TEST(DicomGdcmPreconditions, EightBitJpegWithFewerBitsStoredIsRefused) {
  // ../shared/regressions/dicom-gdcm-assert-bits.dcm: gdcmImageCodec.cxx:699 asserts Bits
  // Stored == Bits Allocated for 8-bit samples after any JPEG process.
  const BaselineJpeg jpeg = baseline_jpeg(24, 16);
  for (const char* syntax : {"1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.57",
                             "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.55", kJpegBaseline}) {
    for (int stored : {2, 7}) {
      DicomBuilder b = mono(16, 24, 8, stored, false, {});
      b.text(0x0028, 0x0008, "IS", "2").fragments(syntax, {jpeg.bytes});  // GDCM for .50 too
      DecodeOptions options;
      options.dicom_first_frame = true;
      StatusOr<Image> image = decode_image_in_process(b.file(), options);
      ASSERT_FALSE(image.is_ok()) << syntax << " " << stored;
      EXPECT_EQ(image.status().code(), StatusCode::kUnsupported) << image.status().to_string();
      EXPECT_NE(image.status().message().find("Bits Stored " + std::to_string(stored) +
                                              " with Bits Allocated 8 is not supported"),
                std::string::npos)
          << image.status().message();
    }
  }
  // The check refuses no more than that: the same stream with 8 bits stored goes through GDCM's
  // libjpeg (extended process) to libjpeg-turbo's samples.
  DicomBuilder ok = mono(16, 24, 8, 8, false, {});
  ok.fragments("1.2.840.10008.1.2.4.51", {jpeg.bytes});
  const DicomPixels pixels = must_decode(ok.file());
  ASSERT_EQ(pixels.values.pixels.size(), jpeg.pixels.size());
  for (size_t i = 0; i < jpeg.pixels.size(); ++i) {
    ASSERT_EQ(pixels.values.pixels[i], float(jpeg.pixels[i])) << i;
  }
}

TEST(DicomGdcmPreconditions, StuffedZeroBetweenJpegSegmentsIsRefused) {
  // gdcmJPEGBITSCodec.hxx:782 asserts when libjpeg warns while reading the header; FF 00 among
  // the segments is "extraneous data" to libjpeg (a warning), while a walk that takes 00 for a
  // marker with a length would have let it through.
  const BaselineJpeg jpeg = baseline_jpeg(24, 16);
  const size_t first_segment_end =
      4 + (size_t(uint8_t(jpeg.bytes[4])) << 8 | uint8_t(jpeg.bytes[5]));
  const std::string stuffed = jpeg.bytes.substr(0, first_segment_end) +
                              std::string("\xff\x00\x00\x02", 4) +
                              jpeg.bytes.substr(first_segment_end);
  DicomBuilder b = mono(16, 24, 8, 8, false, {});
  b.fragments("1.2.840.10008.1.2.4.51", {stuffed});
  StatusOr<Image> image = decode_image_in_process(b.file(), {});
  ASSERT_FALSE(image.is_ok());
  EXPECT_EQ(image.status().code(), StatusCode::kCorruption) << image.status().to_string();
  EXPECT_NE(image.status().message().find("stuffed zero"), std::string::npos)
      << image.status().message();
}

TEST(DicomGdcmPreconditions, Jp2FileFormatIsRefused) {
  // gdcmJPEG2000Codec.cxx:792 asserts that the decoded component count is the header's; a JP2
  // file's boxes (palette, channel definitions) or its codestream could differ, and only bare
  // codestreams had their SIZ checked. DICOM allows only the bare codestream (PS3.5 A.4.4), so
  // the signature box alone is enough to refuse, before any codec runs.
  const std::string jp2 = std::string("\0\0\0\x0cjP  \r\n\x87\n", 12) + std::string(
                                                                            "\0\0\0\x14"
                                                                            "ftypjp2 \0\0\0\0jp2 ",
                                                                            20);
  for (const char* syntax : {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}) {
    DicomBuilder b = mono(8, 16, 8, 8, false, {});
    b.fragments(syntax, {jp2});
    StatusOr<Image> image = decode_image_in_process(b.file(), {});
    ASSERT_FALSE(image.is_ok()) << syntax;
    EXPECT_EQ(image.status().code(), StatusCode::kUnsupported) << image.status().to_string();
    EXPECT_NE(image.status().message().find("JP2 file"), std::string::npos)
        << image.status().message();
  }
}

// The file that made GDCM abort (../shared/regressions), else one made with its attributes.
TEST(DicomGdcmPreconditions, SharedRegressionFileIsAnErrorInProcess) {
  const std::string path = testing::gdcm_regression_dicom_file();
  const std::vector<uint8_t> bytes = read_bytes(path);
  ASSERT_FALSE(bytes.empty()) << path;
  StatusOr<Image> image = decode_image_in_process(bytes, {});
  ASSERT_FALSE(image.is_ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported) << image.status().to_string();
  EXPECT_NE(image.status().message().find("Bits Stored 2 with Bits Allocated 8"), std::string::npos)
      << image.status().message();
}

TEST(DicomPixels, RleLosslessFirstFrame) {
  // Frame 0 is {0x0102, 0x0102, 0x0102, 0x0304}: high bytes as a no-op (-128), a run of three
  // 0x01 and a literal 0x03; low bytes as one literal of four. Frame 1 differs everywhere.
  const std::string frame0 = rle_frame(std::string("\x80\xfe\x01\x00\x03\x00", 6),
                                       std::string("\x03\x02\x02\x02\x04\x00", 6));
  const std::string frame1 = rle_frame(std::string("\xfd\x07", 2), std::string("\xfd\x09", 2));
  DicomBuilder b = mono(2, 2, 16, 16, false, {});
  b.text(0x0028, 0x0008, "IS", "2").fragments(DicomBuilder::kRleLossless, {frame0, frame1});
  DecodeOptions options;
  options.dicom_first_frame = true;
  const DicomPixels pixels = must_decode(b.file(), options);
  EXPECT_EQ(pixels.values.pixels, (std::vector<float>{0x0102, 0x0102, 0x0102, 0x0304}));
  EXPECT_EQ(pixels.info.transfer_syntax_uid, DicomBuilder::kRleLossless);

  DicomBuilder short_segment = mono(2, 2, 16, 16, false, {});
  short_segment.fragments(DicomBuilder::kRleLossless,
                          {rle_frame(std::string("\xfe\x01", 2), std::string("\xfd\x09", 2))});
  StatusOr<DicomPixels> bad = decode_dicom_pixels(short_segment.file(), {});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("RLE segment 1 decodes to 3 of 4"), std::string::npos)
      << bad.status().message();
}

// ---- VOI: file window, VOI LUT, fall-backs --------------------------------------------------

TEST(DicomVoi, FirstOfMultiValuedWindow) {
  DicomBuilder b = mono(1, 4, 16, 16, false, {74, 75, 100, 124});
  b.text(0x0028, 0x1050, "DS", "100\\300").text(0x0028, 0x1051, "DS", "50\\500");
  std::string how;
  const Image image = must_render(must_decode(b.file()), {}, &how);
  // LINEAR c=100 w=50: [75, 124]; 100 → (25/49) * 255 = 130.1 → 130.
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0, 0, 130, 255}));
  EXPECT_NE(how.find("file window center 100 width 50"), std::string::npos) << how;
}

TEST(DicomVoi, LinearExactAndSigmoidFunctions) {
  DicomBuilder b = mono(1, 3, 16, 16, false, {75, 100, 125});
  b.text(0x0028, 0x1050, "DS", "100").text(0x0028, 0x1051, "DS", "50");
  b.text(0x0028, 0x1056, "CS", "LINEAR_EXACT");
  EXPECT_EQ(must_render(must_decode(b.file()), {}, nullptr).pixels,
            (std::vector<uint8_t>{0, 128, 255}));
  b.text(0x0028, 0x1056, "CS", "SIGMOID");
  // 255 / (1 + exp(-4 * (x - 100) / 50)): x = 75 → 30.40 → 30; 100 → 127.5 → 128;
  // 125 → 224.60 → 225.
  EXPECT_EQ(must_render(must_decode(b.file()), {}, nullptr).pixels,
            (std::vector<uint8_t>{30, 128, 225}));
}

TEST(DicomVoi, DegenerateOrUnreadableWindowFallsBackToPercentile) {
  DicomBuilder b = mono(1, 3, 16, 16, false, {0, 50, 100});
  b.text(0x0028, 0x1050, "DS", "50").text(0x0028, 0x1051, "DS", "1");
  std::string how;
  must_render(must_decode(b.file()), {}, &how);
  EXPECT_NE(how.find("percentile window"), std::string::npos) << how;
  EXPECT_NE(how.find("degenerate"), std::string::npos) << how;
  b.text(0x0028, 0x1051, "DS", "wide");
  must_render(must_decode(b.file()), {}, &how);
  EXPECT_NE(how.find("percentile window"), std::string::npos) << how;
  EXPECT_NE(how.find("Window Width"), std::string::npos) << how;
}

DicomBuilder voi_lut_item(uint16_t first, std::vector<uint16_t> entries) {
  DicomBuilder item;
  item.us(0x0028, 0x3002, {uint16_t(entries.size()), first, 16})
      .raw(0x0028, 0x3006, "OW", words(entries))
      .text(0x0028, 0x3003, "LO", "SOFT");
  return item;
}

TEST(DicomVoi, VoiLutSequenceIsPreferredInAutoMode) {
  DicomBuilder b = mono(1, 6, 16, 16, false, {5, 10, 11, 12, 13, 20});
  b.sequence(0x0028, 0x3010, voi_lut_item(10, {0, 1000, 3000, 4000}));
  b.text(0x0028, 0x1050, "DS", "10").text(0x0028, 0x1051, "DS", "100");
  std::string how;
  const DicomPixels pixels = must_decode(b.file());
  // Entries normalised by their range 0..4000: 1000 → 63.75 → 64, 3000 → 191.25 → 191.
  EXPECT_EQ(must_render(pixels, {}, &how).pixels, (std::vector<uint8_t>{0, 0, 64, 191, 255, 255}));
  EXPECT_NE(how.find("VOI LUT 'SOFT'"), std::string::npos) << how;
  WindowOptions min_max;
  min_max.mode = WindowMode::kMinMax;  // an explicit mode overrides the file
  must_render(pixels, min_max, &how);
  EXPECT_NE(how.find("min-max window [5, 20]"), std::string::npos) << how;
}

TEST(DicomVoi, ImplicitVrSignedLutFirstValue) {
  // Implicit VR: the LUT Descriptor's VR is unknown, so its first value is read as signed
  // because the pixels are signed: 0xfffe = -2.
  DicomBuilder b = mono(1, 4, 16, 16, true, {0xfffd, 0xfffe, 0xffff, 0}, "MONOCHROME2", true);
  DicomBuilder item(true);
  item.us(0x0028, 0x3002, {3, 0xfffe, 16}).raw(0x0028, 0x3006, "OW", words({0, 10, 20}));
  b.sequence(0x0028, 0x3010, item);
  const DicomPixels pixels = must_decode(b.file());
  EXPECT_EQ(pixels.values.pixels, (std::vector<float>{-3, -2, -1, 0}));
  ASSERT_TRUE(pixels.info.voi_lut.has_value());
  EXPECT_EQ(pixels.info.voi_lut->first_mapped, -2);
  EXPECT_EQ(must_render(pixels, {}, nullptr).pixels, (std::vector<uint8_t>{0, 0, 128, 255}));
}

TEST(DicomVoi, InvalidLutIsDroppedWithAReason) {
  DicomBuilder b = mono(1, 2, 16, 16, false, {0, 100});
  DicomBuilder item;
  item.us(0x0028, 0x3002, {4, 0, 16}).raw(0x0028, 0x3006, "OW", words({1, 2}));  // too short
  b.sequence(0x0028, 0x3010, item);
  std::string how;
  const DicomPixels pixels = must_decode(b.file());
  EXPECT_FALSE(pixels.info.voi_lut.has_value());
  must_render(pixels, {}, &how);
  EXPECT_NE(how.find("VOI LUT Sequence ignored"), std::string::npos) << how;
}

TEST(DicomVoi, UndefinedLengthSequencesAndUnknownVr) {
  DicomBuilder b = mono(1, 4, 16, 16, false, {9, 10, 11, 13});
  b.undefined_sequence(0x0028, 0x3010, voi_lut_item(10, {0, 1000, 3000, 4000}));
  DicomBuilder private_item(/*implicit_vr=*/true);
  private_item.text(0x0009, 0x0010, "LO", "VENDOR").text(0x0009, 0x1001, "LO", "x");
  b.undefined_sequence(0x0009, 0x1010, private_item, "UN");
  const std::vector<uint8_t> bytes = b.file();
  const DicomPixels pixels = must_decode(bytes);
  ASSERT_TRUE(pixels.info.voi_lut.has_value());
  EXPECT_EQ(must_render(pixels, {}, nullptr).pixels, (std::vector<uint8_t>{0, 0, 64, 255}));
  // Cut inside the private sequence (before Pixel Data): the reader says where.
  const size_t cut =
      size_t(std::search(bytes.begin(), bytes.end(), std::begin("VENDOR"), std::end("VENDOR") - 1) -
             bytes.begin());
  StatusOr<DicomInfo> info = read_dicom_info(std::span(bytes.data(), cut + 3), {});
  ASSERT_FALSE(info.is_ok());
  EXPECT_EQ(info.status().code(), StatusCode::kCorruption);
  EXPECT_NE(info.status().message().find("truncated"), std::string::npos)
      << info.status().message();
}

// ---- refusals ----------------------------------------------------------------------------

void expect_error(const std::vector<uint8_t>& bytes, StatusCode code, const std::string& words_in,
                  const DecodeOptions& options = {}) {
  StatusOr<Image> image = decode_dicom(bytes, options);
  ASSERT_FALSE(image.is_ok());
  EXPECT_EQ(image.status().code(), code) << image.status().to_string();
  EXPECT_EQ(image.status().message().rfind("DICOM: ", 0), 0u) << image.status().message();
  EXPECT_NE(image.status().message().find(words_in), std::string::npos) << image.status().message();
}

TEST(DicomRefusals, ColourAndOddFormats) {
  DicomBuilder rgb = mono(1, 1, 8, 8, false, {1, 2, 3}, "RGB");
  rgb.us(0x0028, 0x0002, {3});
  expect_error(rgb.file(), StatusCode::kUnsupported, "RGB");
  expect_error(mono(1, 1, 8, 8, false, {1, 0}, "PALETTE COLOR").file(), StatusCode::kUnsupported,
               "PALETTE COLOR");
  DicomBuilder high_bit = mono(1, 2, 16, 12, false, {1, 2});
  high_bit.us(0x0028, 0x0102, {15});
  expect_error(high_bit.file(), StatusCode::kUnsupported, "High Bit");
  expect_error(mono(1, 1, 32, 32, false, {1, 0}).file(), StatusCode::kUnsupported,
               "Bits Allocated 32");
}

TEST(DicomRefusals, BrokenHeadersAndPixels) {
  DicomBuilder no_pixels = mono(2, 2, 16, 16, false, {1, 2, 3, 4});
  no_pixels.erase(0x7fe0, 0x0010);
  expect_error(no_pixels.file(), StatusCode::kCorruption, "no Pixel Data");
  DicomBuilder no_rows = mono(2, 2, 16, 16, false, {1, 2, 3, 4});
  no_rows.erase(0x0028, 0x0010);
  expect_error(no_rows.file(), StatusCode::kCorruption, "Rows");
  DicomBuilder slope = mono(2, 2, 16, 16, false, {1, 2, 3, 4});
  slope.text(0x0028, 0x1053, "DS", "0");
  expect_error(slope.file(), StatusCode::kCorruption, "Rescale Slope");
  DicomBuilder short_pixels = mono(20, 20, 16, 16, false, std::vector<uint16_t>(10, 7));
  StatusOr<Image> image = decode_dicom(short_pixels.file(), {});
  ASSERT_FALSE(image.is_ok());
  EXPECT_EQ(image.status().code(), StatusCode::kCorruption) << image.status().to_string();
}

TEST(DicomRefusals, NotDicom) {
  const std::vector<uint8_t> empty;
  expect_error(empty, StatusCode::kInvalidArgument, "not a DICOM");
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  expect_error(png, StatusCode::kInvalidArgument, "not a DICOM");
  EXPECT_EQ(probe_dicom(png, {}).status().code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> magic_only(400, 0xee);
  std::memcpy(magic_only.data() + 128, "DICM", 4);
  StatusOr<Image> image = decode_dicom(magic_only, {});
  ASSERT_FALSE(image.is_ok());
  EXPECT_EQ(image.status().code(), StatusCode::kCorruption) << image.status().to_string();
}

TEST(DicomRefusals, LimitsCheckedBeforeDecoding) {
  const std::vector<uint8_t> bytes =
      mono(100, 100, 16, 16, false, std::vector<uint16_t>(10000, 1)).file();
  DecodeOptions options;
  options.limits.max_pixels = 9999;
  expect_error(bytes, StatusCode::kResourceExhausted, "pixel limit", options);
  EXPECT_EQ(probe_dicom(bytes, options.limits).status().code(), StatusCode::kResourceExhausted);
  options.limits = {};
  options.limits.max_side = 99;
  expect_error(bytes, StatusCode::kResourceExhausted, "side limit", options);
  options.limits = {};
  EXPECT_TRUE(decode_dicom(bytes, options).is_ok());
}

// ---- the CR specimens against pydicom + numpy ----------------------------------------------

constexpr const char* kDicomReference = R"PY(
# Decodes a DICOM file with pydicom and writes, for comparison with xray-search:
#   .values  stored values * Rescale Slope + Rescale Intercept (float32 LE)
#   .auto    8-bit image through the file's first Window Center/Width, with PS3.3 C.11.2.1.2.1's
#            LINEAR function written as the standard states it, rounded half up
#   .pct     8-bit image through the 0.5/99.5 numpy.percentile window of the values
#   .txt     "columns rows photometric center width"
# both 8-bit images inverted (255 - y) for MONOCHROME1.
import sys
import numpy as np
import pydicom
from pydicom.multival import MultiValue
from pydicom.pixel_data_handlers import gdcm_handler, numpy_handler, pillow_handler, rle_handler
# RLE by pydicom's own decoder and JPEG 2000 by Pillow/OpenJPEG; only JPEG Lossless, which
# nothing else here reads, goes through GDCM.
pydicom.config.pixel_data_handlers = [numpy_handler, rle_handler, pillow_handler, gdcm_handler]
src, out = sys.argv[1], sys.argv[2]
ds = pydicom.dcmread(src)
values = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(
    ds.get("RescaleIntercept", 0))
first = lambda v: float(v[0]) if isinstance(v, MultiValue) else float(v)
c, w = first(ds.WindowCenter), first(ds.WindowWidth)
y = np.where(values <= c - 0.5 - (w - 1) / 2, 0.0,
             np.where(values > c - 0.5 + (w - 1) / 2, 255.0,
                      ((values - (c - 0.5)) / (w - 1) + 0.5) * 255))
auto = np.floor(y + 0.5)
lo, hi = np.percentile(values, [0.5, 99.5])
pct = np.where(values <= lo, 0, np.where(values > hi, 255, np.floor((values - lo) / (hi - lo) * 255 + 0.5)))
if ds.PhotometricInterpretation == "MONOCHROME1":
    auto, pct = 255 - auto, 255 - pct
values.astype("<f4").tofile(out + ".values")
auto.astype(np.uint8).tofile(out + ".auto")
pct.astype(np.uint8).tofile(out + ".pct")
with open(out + ".txt", "w") as f:
    f.write("%d %d %s %r %r\n" % (ds.Columns, ds.Rows, ds.PhotometricInterpretation, c, w))
)PY";

struct Specimen {
  const char* file;
  int width;
  int height;
  const char* photometric;
  int bits_stored;
  // Fractions (x0, x1, y0, y1) of a region that is bright in a correctly displayed radiograph
  // (bone) and of one that is dark (air or lung), read off the image.
  double bright[4];
  double dark[4];
};

const Specimen kSpecimens[] = {
    {"cr-chest-mono1-jpeg2000-lossy.dcm",
     1841,
     1955,
     "MONOCHROME1",
     15,
     {0.47, 0.53, 0.30, 0.50},
     {0.15, 0.30, 0.20, 0.40}},  // spine vs right lung
    {"cr-hip-mono2-jpeg-lossless.dcm",
     1760,
     2140,
     "MONOCHROME2",
     10,
     {0.47, 0.55, 0.36, 0.44},
     {0.20, 0.60, 0.75, 0.95}},  // femoral head vs air
    {"cr-tibia-mono1-rle-lossless.dcm",
     1760,
     1760,
     "MONOCHROME1",
     10,
     {0.45, 0.50, 0.20, 0.40},
     {0.27, 0.32, 0.20, 0.40}},  // tibia shaft vs air
};

double region_mean(const Image& image, const double (&r)[4]) {
  double sum = 0;
  size_t count = 0;
  for (int y = int(r[2] * image.height); y < int(r[3] * image.height); ++y) {
    for (int x = int(r[0] * image.width); x < int(r[1] * image.width); ++x) {
      sum += image.pixels[size_t(y) * image.width + x];
      ++count;
    }
  }
  return sum / double(count);
}

// Largest level difference, and how many pixels differ at all.
std::pair<int, size_t> compare(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  int max_diff = 0;
  size_t differing = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const int diff = std::abs(int(got[i]) - int(want[i]));
    max_diff = std::max(max_diff, diff);
    differing += diff != 0;
  }
  return {max_diff, differing};
}

class DicomSpecimen : public ::testing::TestWithParam<Specimen> {
 protected:
  void SetUp() override {
    path_ = testing::shared_dir() + "/datasets/xray-special/" + GetParam().file;
    XRS_REQUIRE_PATH(path_);
    bytes_ = read_bytes(path_);
  }

  // Runs the pydicom reference into a scratch folder; returns its output prefix, or "" (and
  // the reason in `skip`) when this machine lacks pydicom.
  std::string reference(std::string* skip) {
    if (std::system("/usr/bin/python3 -c 'import numpy, pydicom, PIL' 2>/dev/null") != 0) {
      *skip =
          "skipped: /usr/bin/python3 lacks numpy, pydicom or PIL (python3-pydicom, "
          "python3-gdcm; scripts/install-deps.sh installs them)";
      return "";
    }
    const std::string dir = testing::scratch_dir(std::string("dicom_") + GetParam().file);
    std::ofstream(dir + "/reference.py") << kDicomReference;
    const std::string command =
        "/usr/bin/python3 " + dir + "/reference.py '" + path_ + "' " + dir + "/ref";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return dir + "/ref";
  }

  std::string path_;
  std::vector<uint8_t> bytes_;
};

TEST_P(DicomSpecimen, HeaderAndProbe) {
  const Specimen& s = GetParam();
  StatusOr<ImageInfo> info = probe_dicom(bytes_, {});
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->type, ImageFileType::kDicom);
  EXPECT_EQ(info->width, s.width);
  EXPECT_EQ(info->height, s.height);
  EXPECT_EQ(info->bits_per_sample, s.bits_stored);
  EXPECT_EQ(info->channels, 1);
  EXPECT_EQ(info->frames, 1);
  StatusOr<DicomInfo> dicom = read_dicom_info(bytes_, {});
  ASSERT_TRUE(dicom.is_ok()) << dicom.status().to_string();
  EXPECT_EQ(dicom->photometric, s.photometric);
  EXPECT_EQ(dicom->modality, "CR");
  EXPECT_EQ(dicom->bits_allocated, 16);
  EXPECT_FALSE(dicom->pixel_signed);
  EXPECT_TRUE(dicom->window_center.has_value() && dicom->window_width.has_value());
  EXPECT_FALSE(dicom->transfer_syntax.empty());
}

TEST_P(DicomSpecimen, MatchesPydicomReference) {
  const Specimen& s = GetParam();
  const auto start = std::chrono::steady_clock::now();
  StatusOr<Image> decoded = decode_dicom(bytes_, {});
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  std::printf("[   TIME   ] decode_dicom %s: %.1f ms\n", s.file, ms);
  EXPECT_EQ(decoded->width, s.width);
  EXPECT_EQ(decoded->height, s.height);
  EXPECT_EQ(decoded->format, PixelFormat::kL);
  // Bone brighter than air: MONOCHROME1 was inverted, MONOCHROME2 was not.
  EXPECT_GT(region_mean(*decoded, s.bright), region_mean(*decoded, s.dark) + 40);

  std::string skip;
  const std::string ref = reference(&skip);
  if (ref.empty()) GTEST_SKIP() << skip;
  int width = 0, height = 0;
  std::string photometric;
  double center = 0, window_width = 0;
  std::ifstream(ref + ".txt") >> width >> height >> photometric >> center >> window_width;
  EXPECT_EQ(width, s.width);
  EXPECT_EQ(height, s.height);
  EXPECT_EQ(photometric, s.photometric);

  // Stored values and rescale: the decoders agree exactly (lossy JPEG 2000 included: both
  // are OpenJPEG).
  const DicomPixels pixels = must_decode(bytes_);
  const std::vector<uint8_t> raw = read_bytes(ref + ".values");
  ASSERT_EQ(raw.size(), pixels.values.pixels.size() * 4);
  EXPECT_EQ(std::memcmp(raw.data(), pixels.values.pixels.data(), raw.size()), 0);

  // The file's own window (kAuto), and the same window given as a fixed one.
  const std::vector<uint8_t> want_auto = read_bytes(ref + ".auto");
  ASSERT_EQ(want_auto.size(), decoded->pixels.size());
  auto [max_diff, differing] = compare(decoded->pixels, want_auto);
  EXPECT_LE(max_diff, 1);
  EXPECT_LE(differing, want_auto.size() / 1000);
  DecodeOptions fixed;
  fixed.window.mode = WindowMode::kFixed;
  fixed.window.center = center;
  fixed.window.width = window_width;
  StatusOr<Image> fixed_image = decode_dicom(bytes_, fixed);
  ASSERT_TRUE(fixed_image.is_ok()) << fixed_image.status().to_string();
  std::tie(max_diff, differing) = compare(fixed_image->pixels, want_auto);
  EXPECT_LE(max_diff, 1);
  EXPECT_LE(differing, want_auto.size() / 1000);

  // A percentile window from the data.
  DecodeOptions percentile;
  percentile.window.mode = WindowMode::kPercentile;
  StatusOr<Image> pct_image = decode_dicom(bytes_, percentile);
  ASSERT_TRUE(pct_image.is_ok()) << pct_image.status().to_string();
  const std::vector<uint8_t> want_pct = read_bytes(ref + ".pct");
  ASSERT_EQ(want_pct.size(), pct_image->pixels.size());
  std::tie(max_diff, differing) = compare(pct_image->pixels, want_pct);
  EXPECT_LE(max_diff, 1);
  EXPECT_LE(differing, want_pct.size() / 1000);
}

TEST(DicomChest, OwnWindowMatchesTheStandardFormula) {
  const std::string path =
      testing::shared_dir() + "/datasets/xray-special/cr-chest-mono1-jpeg2000-lossy.dcm";
  XRS_REQUIRE_PATH(path);
  const std::vector<uint8_t> bytes = read_bytes(path);
  StatusOr<DicomPixels> pixels = decode_dicom_pixels(bytes, {});
  ASSERT_TRUE(pixels.is_ok()) << pixels.status().to_string();
  EXPECT_EQ(pixels->info.window_center, 15000.0);
  EXPECT_EQ(pixels->info.window_width, 30000.0);
  EXPECT_EQ(pixels->info.view_position, "PA");
  EXPECT_EQ(pixels->info.body_part, "CHEST");
  EXPECT_EQ(pixels->info.transfer_syntax_uid, "1.2.840.10008.1.2.4.91");
  EXPECT_TRUE(pixels->info.lossy);
  std::string how;
  StatusOr<Image> image = render_dicom(*pixels, {}, &how);
  ASSERT_TRUE(image.is_ok());
  EXPECT_EQ(how, "file window center 15000 width 30000 [0, 29999], inverted (MONOCHROME1)");
  // Independent evaluation of PS3.3's LINEAR function at every pixel, then inversion.
  size_t off = 0;
  for (size_t i = 0; i < image->pixels.size(); ++i) {
    const double x = pixels->values.pixels[i];
    const double c = 15000, w = 30000;
    double y = x <= c - 0.5 - (w - 1) / 2  ? 0
               : x > c - 0.5 + (w - 1) / 2 ? 255
                                           : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
    y = 255 - std::floor(y + 0.5);
    off += std::abs(y - image->pixels[i]) > 1;
  }
  EXPECT_EQ(off, 0u);
}

// Damaged copies: every truncation is a "DICOM: " error found by our reader before GDCM runs
// (so nothing is printed); every byte flip gives an image or such an error, never a crash.
TEST_P(DicomSpecimen, TruncatedAndFlippedNeverCrash) {
  std::vector<size_t> cuts = {0, 1, 128, 131, 132, 133, 200};
  for (size_t n = 256; n < 2200; n += 61) cuts.push_back(n);
  // (Not the last bytes: the tibia ends with trailing padding after Pixel Data, which a reader
  // rightly ignores.)
  for (int k = 1; k < 8; ++k) cuts.push_back(bytes_.size() * k / 8);
  ::testing::internal::CaptureStderr();
  for (size_t cut : cuts) {
    const std::span<const uint8_t> part(bytes_.data(), cut);
    StatusOr<Image> image = decode_dicom(part, {});
    ASSERT_FALSE(image.is_ok()) << "truncated at " << cut;
    EXPECT_EQ(image.status().message().rfind("DICOM: ", 0), 0u)
        << cut << ": " << image.status().message();
    StatusOr<ImageInfo> info = probe_dicom(part, {});
    if (!info.is_ok()) {
      EXPECT_EQ(info.status().message().rfind("DICOM: ", 0), 0u) << info.status().message();
    }
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  // GDCM's bundled JPEG and OpenJPEG codecs print a line for a corrupt compressed stream
  // (outside gdcm::Trace): captured here only to keep the test output readable.
  ::testing::internal::CaptureStderr();
  std::mt19937 rng(42);
  for (int i = 0; i < 16; ++i) {
    std::vector<uint8_t> copy = bytes_;
    // Mostly the header, where every byte matters; some in the compressed pixel stream.
    const size_t at = i < 12 ? 128 + rng() % 1900 : 2000 + rng() % (copy.size() - 2000);
    copy[at] ^= uint8_t(1 + rng() % 255);
    StatusOr<Image> image = decode_dicom(copy, {});
    if (!image.is_ok()) {
      EXPECT_EQ(image.status().message().rfind("DICOM: ", 0), 0u)
          << at << ": " << image.status().message();
    } else {
      EXPECT_EQ(image->pixels.size(), size_t(image->width) * image->height);
    }
  }
  ::testing::internal::GetCapturedStderr();
}

INSTANTIATE_TEST_SUITE_P(Specimens, DicomSpecimen, ::testing::ValuesIn(kSpecimens),
                         [](const auto& param_info) {
                           std::string name = param_info.param.file;
                           name = name.substr(0, name.find('-', 3));
                           return name.substr(3);
                         });

}  // namespace
}  // namespace xrs
