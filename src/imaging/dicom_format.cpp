#include "imaging/dicom_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string_view>

namespace xrs {
namespace {

constexpr uint32_t kUndefinedLength = 0xffffffff;
constexpr uint32_t kItem = dicom_tag(0xfffe, 0xe000);
constexpr uint32_t kItemDelimiter = dicom_tag(0xfffe, 0xe00d);
constexpr uint32_t kSequenceDelimiter = dicom_tag(0xfffe, 0xe0dd);
constexpr uint32_t kPixelData = dicom_tag(0x7fe0, 0x0010);
constexpr uint32_t kTransferSyntaxUid = dicom_tag(0x0002, 0x0010);
constexpr size_t kPreamble = 128;

constexpr std::string_view kImplicitLittle = "1.2.840.10008.1.2";
constexpr std::string_view kExplicitLittle = "1.2.840.10008.1.2.1";
constexpr std::string_view kDeflatedLittle = "1.2.840.10008.1.2.1.99";
constexpr std::string_view kExplicitBig = "1.2.840.10008.1.2.2";

// Sequences whose items dicom.cpp reads; in implicit VR nothing else says they are sequences.
constexpr uint32_t kKnownSequences[] = {dicom_tag(0x0028, 0x3000), dicom_tag(0x0028, 0x3010)};

std::string_view trim(std::string_view s) {
  constexpr std::string_view kPadding(" \0", 2);
  const size_t begin = s.find_first_not_of(kPadding);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kPadding) - begin + 1);
}

// PS3.5 Table 7.1-1: the VRs whose explicit encoding has a 4-byte length.
bool long_length_vr(std::string_view vr) {
  for (std::string_view v :
       {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}) {
    if (vr == v) return true;
  }
  return false;
}

std::string tag_name(uint32_t tag) {
  char text[16];
  std::snprintf(text, sizeof text, "(%04X,%04X)", tag >> 16, tag & 0xffff);
  return text;
}

struct Header {
  uint32_t tag = 0;
  std::string vr;
  uint32_t length = 0;
  size_t offset = 0;  // where the element starts
};

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  Status parse(bool read_pixel_data, DicomFile& file) {
    if (bytes_.size() < kPreamble + 4 || std::memcmp(bytes_.data() + kPreamble, "DICM", 4) != 0) {
      return Status::invalid_argument("DICOM: not a DICOM Part 10 file (no 'DICM' at offset 128)");
    }
    pos_ = kPreamble + 4;
    while (pos_ + 2 <= bytes_.size() && u16(pos_) == 0x0002) {
      Header h;
      XRS_RETURN_IF_ERROR(read_header(/*implicit=*/false, h));
      if (h.length == kUndefinedLength || h.length > bytes_.size() - pos_) {
        return corrupt(h, "has a length past the end of the file (truncated?)");
      }
      file.meta.elements.push_back({h.tag, DicomElement{h.vr, bytes_.subspan(pos_, h.length), {}}});
      pos_ += h.length;
    }
    file.transfer_syntax_uid = file.meta.text(kTransferSyntaxUid);
    const std::string& ts = file.transfer_syntax_uid;
    if (ts.empty()) return Status::corruption("DICOM: no Transfer Syntax UID (0002,0010)");
    if (ts == kExplicitBig || ts == kDeflatedLittle) {
      return Status::unsupported("DICOM: transfer syntax " + ts +
                                 " (big endian or deflated) is not supported");
    }
    file.implicit_vr = ts == kImplicitLittle;
    encapsulated_ts_ = ts != kImplicitLittle && ts != kExplicitLittle;
    read_pixel_data_ = read_pixel_data;
    pixels_ = &file.pixels;
    return read_data_set(bytes_.size(), file.implicit_vr, 0, /*top_level=*/true, file.data);
  }

 private:
  uint16_t u16(size_t at) const { return uint16_t(bytes_[at] | bytes_[at + 1] << 8); }
  uint32_t u32(size_t at) const { return uint32_t(u16(at)) | uint32_t(u16(at + 2)) << 16; }

  Status corrupt(const Header& h, const std::string& what) const {
    return Status::corruption("DICOM: element " + tag_name(h.tag) + " at offset " +
                              std::to_string(h.offset) + " " + what);
  }
  Status truncated(const char* what) const {
    return Status::corruption(std::string("DICOM: file ends inside ") + what + " at offset " +
                              std::to_string(pos_) + " (truncated)");
  }

  Status read_header(bool implicit, Header& h) {
    h.offset = pos_;
    if (bytes_.size() - pos_ < 8) return truncated("an element header");
    h.tag = uint32_t(u16(pos_)) << 16 | u16(pos_ + 2);
    if (implicit || h.tag >> 16 == 0xfffe) {  // items and delimiters never carry a VR
      h.vr.clear();
      h.length = u32(pos_ + 4);
      pos_ += 8;
      return Status::ok();
    }
    // Two bytes set one by one: assign(pointer, 2) trips GCC 12's -Wmaybe-uninitialized (a
    // false positive) depending on what else this file inlines.
    h.vr.resize(2);
    h.vr[0] = char(bytes_[pos_ + 4]);
    h.vr[1] = char(bytes_[pos_ + 5]);
    if (h.vr[0] < 'A' || h.vr[0] > 'Z' || h.vr[1] < 'A' || h.vr[1] > 'Z') {
      return corrupt(h, "has an invalid VR");
    }
    if (!long_length_vr(h.vr)) {
      h.length = u16(pos_ + 6);
      pos_ += 8;
      return Status::ok();
    }
    if (bytes_.size() - pos_ < 12) return truncated("an element header");
    h.length = u32(pos_ + 8);
    pos_ += 12;
    return Status::ok();
  }

  // Elements up to `end`, or up to an item delimiter when `end` is the end of an undefined-
  // length item (then `until_delimiter`).
  Status read_data_set(size_t end, bool implicit, int depth, bool top_level, DicomDataSet& out,
                       bool until_delimiter = false) {
    while (pos_ < end) {
      Header h;
      XRS_RETURN_IF_ERROR(read_header(implicit, h));
      if (h.tag == kItemDelimiter && until_delimiter) return Status::ok();
      if (h.tag >> 16 == 0xfffe) return corrupt(h, "is an item tag outside a sequence");
      if (top_level && h.tag == kPixelData) return read_pixels(h);
      DicomElement element{h.vr, {}, {}};
      const bool known_sequence = std::find(std::begin(kKnownSequences), std::end(kKnownSequences),
                                            h.tag) != std::end(kKnownSequences);
      if (h.length == kUndefinedLength) {
        if (h.vr != "SQ" && h.vr != "UN" && !h.vr.empty()) {
          return corrupt(h, "has an undefined length with VR " + h.vr);
        }
        // UN of undefined length holds a sequence in implicit VR (PS3.5 §6.2.2).
        XRS_RETURN_IF_ERROR(
            read_sequence(h, std::nullopt, implicit || h.vr == "UN", depth, element.items));
      } else {
        if (h.length > end - pos_) return corrupt(h, "has a length past its end (truncated?)");
        if (h.vr == "SQ" || (h.vr.empty() && known_sequence)) {
          XRS_RETURN_IF_ERROR(read_sequence(h, pos_ + h.length, implicit, depth, element.items));
        } else {
          element.value = bytes_.subspan(pos_, h.length);
          pos_ += h.length;
        }
      }
      out.elements.push_back({h.tag, std::move(element)});
    }
    if (until_delimiter) return truncated("an item");
    return Status::ok();
  }

  // Items up to `end` (defined length) or up to the sequence delimiter.
  Status read_sequence(const Header& sequence, std::optional<size_t> end, bool implicit, int depth,
                       std::vector<DicomDataSet>& items) {
    if (depth >= kMaxDicomDepth) return corrupt(sequence, "nests sequences too deeply");
    const size_t limit = end.value_or(bytes_.size());
    while (pos_ < limit) {
      Header h;
      XRS_RETURN_IF_ERROR(read_header(implicit, h));
      if (h.tag == kSequenceDelimiter && !end) return Status::ok();
      if (h.tag != kItem) {
        return corrupt(h, "is not an item inside sequence " + tag_name(sequence.tag));
      }
      DicomDataSet item;
      if (h.length == kUndefinedLength) {
        XRS_RETURN_IF_ERROR(read_data_set(limit, implicit, depth + 1, false, item, true));
      } else {
        if (h.length > limit - pos_) return corrupt(h, "has a length past its end (truncated?)");
        XRS_RETURN_IF_ERROR(read_data_set(pos_ + h.length, implicit, depth + 1, false, item));
      }
      items.push_back(std::move(item));
    }
    if (!end) return truncated("a sequence");
    if (pos_ != *end) return corrupt(sequence, "has items that overrun its length");
    return Status::ok();
  }

  Status read_pixels(const Header& h) {
    pixels_->present = true;
    if (!read_pixel_data_) return Status::ok();
    if (h.length != kUndefinedLength) {
      if (encapsulated_ts_) return corrupt(h, "is native but the transfer syntax is compressed");
      if (h.length > bytes_.size() - pos_) return corrupt(h, "is truncated");
      pixels_->native = bytes_.subspan(pos_, h.length);
      return Status::ok();
    }
    if (!encapsulated_ts_) return corrupt(h, "is encapsulated but the transfer syntax is native");
    pixels_->encapsulated = true;
    for (bool first = true;; first = false) {
      Header item;
      XRS_RETURN_IF_ERROR(read_header(/*implicit=*/true, item));
      if (item.tag == kSequenceDelimiter) break;
      if (item.tag != kItem || item.length == kUndefinedLength) {
        return corrupt(item, "is not a pixel data fragment");
      }
      if (item.length > bytes_.size() - pos_) return corrupt(item, "(a fragment) is truncated");
      (first ? pixels_->offset_table : pixels_->fragments.emplace_back()) =
          bytes_.subspan(pos_, item.length);
      pos_ += item.length;
    }
    if (pixels_->fragments.empty()) return corrupt(h, "has no fragments");
    return Status::ok();
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  bool encapsulated_ts_ = false;
  bool read_pixel_data_ = true;
  DicomPixelData* pixels_ = nullptr;
};

}  // namespace

const DicomElement* DicomDataSet::find(uint32_t tag) const {
  for (const auto& [t, element] : elements) {
    if (t == tag) return &element;
  }
  return nullptr;
}

std::string DicomDataSet::text(uint32_t tag) const {
  const DicomElement* e = find(tag);
  if (!e) return {};
  return std::string(
      trim(std::string_view(reinterpret_cast<const char*>(e->value.data()), e->value.size())));
}

std::optional<int> DicomDataSet::us(uint32_t tag) const {
  const DicomElement* e = find(tag);
  if (!e || e->value.size() < 2) return std::nullopt;
  return int(e->value[0] | e->value[1] << 8);
}

StatusOr<DicomFile> parse_dicom_file(std::span<const uint8_t> bytes, bool read_pixel_data) {
  DicomFile file;
  XRS_RETURN_IF_ERROR(Parser(bytes).parse(read_pixel_data, file));
  return file;
}

Status decode_dicom_rle(std::span<const uint8_t> fragment, size_t pixel_count, int bytes_per_sample,
                        std::vector<uint16_t>& samples) {
  const auto u32 = [&](size_t at) {
    return uint32_t(fragment[at]) | uint32_t(fragment[at + 1]) << 8 |
           uint32_t(fragment[at + 2]) << 16 | uint32_t(fragment[at + 3]) << 24;
  };
  if (fragment.size() < 64) return Status::corruption("DICOM: RLE header is truncated");
  const uint32_t segments = u32(0);
  if (segments != uint32_t(bytes_per_sample)) {
    return Status::corruption("DICOM: RLE frame has " + std::to_string(segments) +
                              " segments, expected " + std::to_string(bytes_per_sample));
  }
  samples.assign(pixel_count, 0);
  for (uint32_t s = 0; s < segments; ++s) {
    const size_t begin = u32(4 + 4 * s);
    const size_t end = s + 1 < segments ? u32(8 + 4 * s) : fragment.size();
    if (begin < 64 || begin > end || end > fragment.size()) {
      return Status::corruption("DICOM: RLE segment offsets are invalid");
    }
    // Segment 0 holds the most significant bytes (PS3.5 G.2).
    const int shift = 8 * (int(segments) - 1 - int(s));
    size_t out = 0;
    for (size_t in = begin; in < end && out < pixel_count;) {
      const int n = int8_t(fragment[in++]);
      if (n >= 0) {  // n + 1 literal bytes
        const size_t count = std::min({size_t(n) + 1, end - in, pixel_count - out});
        for (size_t i = 0; i < count; ++i) samples[out++] |= uint16_t(fragment[in + i] << shift);
        in += size_t(n) + 1;
      } else if (n != -128 && in < end) {  // the next byte, 1 - n times (-128 is a no-op)
        const uint16_t value = uint16_t(fragment[in++] << shift);
        const size_t count = std::min(size_t(1 - n), pixel_count - out);
        for (size_t i = 0; i < count; ++i) samples[out++] |= value;
      }
    }
    if (out < pixel_count) {
      return Status::corruption("DICOM: RLE segment " + std::to_string(s + 1) + " decodes to " +
                                std::to_string(out) + " of " + std::to_string(pixel_count) +
                                " bytes");
    }
  }
  return Status::ok();
}

StatusOr<std::optional<CodestreamHeader>> read_codestream_header(
    std::span<const uint8_t> fragment) {
  const auto u16be = [&](size_t at) { return int(fragment[at]) << 8 | fragment[at + 1]; };
  const auto u32be = [&](size_t at) { return int64_t(u16be(at)) << 16 | u16be(at + 2); };
  const auto broken = [](const char* what) {
    return Status::corruption(std::string("DICOM: compressed frame header: ") + what);
  };
  if (fragment.size() >= 2 && fragment[0] == 0xff && fragment[1] == 0x4f) {
    // JPEG 2000: SOC, then SIZ (ISO 15444-1 A.5.1): Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz
    // XTOsiz YTOsiz Csiz, then Ssiz XRsiz YRsiz per component.
    if (fragment.size() < 45 || fragment[2] != 0xff || fragment[3] != 0x51) {
      return broken("JPEG 2000 SIZ marker missing or cut short");
    }
    CodestreamHeader h;
    const int64_t width = u32be(8) - u32be(16);
    const int64_t height = u32be(12) - u32be(20);
    if (width <= 0 || height <= 0 || width > 1 << 30 || height > 1 << 30) {
      return broken("JPEG 2000 image size is invalid");
    }
    h.width = int(width);
    h.height = int(height);
    h.components = u16be(40);
    h.precision = (fragment[42] & 0x7f) + 1;
    return std::optional<CodestreamHeader>(h);
  }
  // The JP2 file format's signature box (ISO 15444-1 I.5.1), which GDCM's JPEG 2000 codec
  // accepts as well as a bare codestream. PS3.5 A.4.4 excludes it, and its boxes can give the
  // decoded image other components than the codestream (a palette, channel definitions), which
  // GDCM asserts against (gdcmJPEG2000Codec.cxx:792): refused before any of it is read.
  static constexpr char kJp2Signature[] = "\0\0\0\x0cjP  \r\n\x87\n";
  if (fragment.size() >= sizeof kJp2Signature - 1 &&
      std::memcmp(fragment.data(), kJp2Signature, sizeof kJp2Signature - 1) == 0) {
    return Status(StatusCode::kUnsupported,
                  "DICOM: JPEG 2000 in a JP2 file (boxes around the codestream) is not supported: "
                  "DICOM requires the bare codestream (PS3.5 A.4.4)");
  }
  if (fragment.size() < 2 || fragment[0] != 0xff || fragment[1] != 0xd8) {
    return std::optional<CodestreamHeader>();
  }
  // JPEG: the marker segments after SOI up to the first scan (ITU T.81 B.2; T.87 for SOF55),
  // walked strictly: GDCM asserts if libjpeg warns while reading them, which it does for bytes
  // between segments and for unknown JFIF versions or Adobe transforms.
  std::optional<CodestreamHeader> header;
  for (size_t pos = 2;;) {
    if (pos >= fragment.size() || fragment[pos] != 0xff) {
      return broken("JPEG has bytes between marker segments");
    }
    while (pos < fragment.size() && fragment[pos] == 0xff) ++pos;  // fill bytes
    if (pos + 3 > fragment.size()) return broken("JPEG ends before its first scan");
    const uint8_t marker = fragment[pos];
    if (marker == 0x00) {  // libjpeg skips a stuffed FF 00 as bytes between segments, and warns
      return broken("JPEG has a stuffed zero byte between marker segments");
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {  // TEM, RSTn: no length
      ++pos;
      continue;
    }
    const size_t length = size_t(u16be(pos + 1));
    const size_t data = pos + 3;  // the segment's bytes after its length
    if (length < 2 || pos + 1 + length > fragment.size()) return broken("JPEG segment cut short");
    const std::string_view body(reinterpret_cast<const char*>(fragment.data() + data), length - 2);
    const bool sof =
        (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc) ||
        marker == 0xf7;
    if (sof) {
      if (body.size() < 6) return broken("JPEG frame header cut short");
      header =
          CodestreamHeader{u16be(data + 3), u16be(data + 1), fragment[data + 5], fragment[data]};
    } else if (marker == 0xe0 && body.size() >= 6 &&
               body.substr(0, 5) == std::string_view("JFIF\0", 5) && body[5] != 1) {
      return broken("JPEG has an unknown JFIF version");
    } else if (marker == 0xee && body.size() >= 12 && body.substr(0, 5) == "Adobe" &&
               uint8_t(body[11]) > 2) {
      return broken("JPEG has an unknown Adobe colour transform");
    } else if (marker == 0xda) {
      if (!header) return broken("JPEG has no frame header before its first scan");
      return header;
    }
    pos += 1 + length;
  }
}

}  // namespace xrs
