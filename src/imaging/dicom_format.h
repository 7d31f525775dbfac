// The DICOM file format, internal to the imaging module (dicom.cpp uses it): a strict reader of
// the Part 10 structure (PS3.10 §7, PS3.5 §7) and a decoder for RLE Lossless (PS3.5 Annex G).
//
// Why our own reader: Debian builds GDCM with assertions enabled, and GDCM's data-set parser
// asserts (aborting the process) on ordinary damage such as a file cut short inside its header.
// This reader checks every length against the bytes present and reports damage as a Status;
// GDCM only ever sees compressed pixel data that this reader has delimited. Why our own RLE:
// it is forty lines, and GDCM's writes one byte at a time through a std::ostream (169 ms vs
// 10 ms on a 1760 x 1760 radiograph).
//
// Accepted: preamble + "DICM", a group 0002 meta header (explicit VR little endian), then the
// data set in Implicit VR Little Endian, Explicit VR Little Endian, or any encapsulated
// (compressed) transfer syntax, whose data sets are explicit VR little endian. Sequences and
// items of defined or undefined length (including UN with undefined length, read as implicit
// VR per PS3.5 §6.2.2), nested at most kMaxDicomDepth deep. Reading stops at the top-level
// Pixel Data (7FE0,0010); anything after it is ignored.
// Refused: Explicit VR Big Endian and Deflated Explicit VR Little Endian (kUnsupported).
//
// Every value is a view into the caller's bytes, which must outlive the result. Thread-safe:
// pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace xrs {

constexpr int kMaxDicomDepth = 32;

constexpr uint32_t dicom_tag(uint16_t group, uint16_t element) {
  return uint32_t(group) << 16 | element;
}

struct DicomDataSet;

struct DicomElement {
  std::string vr;                   // two letters in explicit VR, "" in implicit VR
  std::span<const uint8_t> value;   // the value bytes of a plain element
  std::vector<DicomDataSet> items;  // the items of a sequence
};

struct DicomDataSet {
  std::vector<std::pair<uint32_t, DicomElement>> elements;  // in file order

  const DicomElement* find(uint32_t tag) const;
  // The value as text with DICOM padding (spaces, NULs) trimmed; "" when absent.
  std::string text(uint32_t tag) const;
  // The first 16-bit unsigned value (US, little endian); nullopt when absent or too short.
  std::optional<int> us(uint32_t tag) const;
};

// Pixel Data as found: either one native value or encapsulated fragments.
struct DicomPixelData {
  bool present = false;
  bool encapsulated = false;
  std::span<const uint8_t> native;                  // !encapsulated: the whole value
  std::span<const uint8_t> offset_table;            // encapsulated: Basic Offset Table item
  std::vector<std::span<const uint8_t>> fragments;  // encapsulated: the other items
};

struct DicomFile {
  std::string transfer_syntax_uid;  // (0002,0010)
  bool implicit_vr = false;
  DicomDataSet meta;  // group 0002
  DicomDataSet data;  // the top-level data set before Pixel Data
  DicomPixelData pixels;
};

// Parses `bytes`. With read_pixel_data false, stops at the Pixel Data tag without reading its
// value (pixels.present tells whether the tag was reached).
// Errors: kInvalidArgument without "DICM" at offset 128; kUnsupported for the transfer syntaxes
// above; kCorruption naming the element and offset for anything truncated or malformed. Every
// message starts with "DICOM: ".
StatusOr<DicomFile> parse_dicom_file(std::span<const uint8_t> bytes, bool read_pixel_data);

// Decodes one RLE Lossless frame of one sample per pixel: `fragment` is the frame's fragment
// (64-byte RLE header + segments); `samples` (resized to pixel_count) receives the values, from
// one segment for 8-bit samples or two (high bytes, then low bytes) for 16-bit.
// Errors: kCorruption ("DICOM: RLE ...") for a bad header, wrong segment count, or a segment
// that decodes to fewer than pixel_count bytes.
Status decode_dicom_rle(std::span<const uint8_t> fragment, size_t pixel_count, int bytes_per_sample,
                        std::vector<uint16_t>& samples);

// What a compressed frame's own header declares: JPEG (any SOFn, including JPEG-LS SOF55) or
// JPEG 2000 (SIZ). dicom.cpp compares it with the DICOM header before GDCM decodes anything,
// because GDCM's JPEG 2000 path frees memory it does not own when the two disagree (seen under
// ASan), and GDCM asserts when libjpeg warns while reading a JPEG header, so this walk refuses
// what libjpeg would warn about (bytes between segments, a stuffed FF 00 among them, unknown JFIF
// version or Adobe transform; gdcmJPEGBITSCodec.hxx:782 asserts on any such warning).
struct CodestreamHeader {
  int width = 0;
  int height = 0;
  int components = 0;
  int precision = 0;  // bits per sample
};

// Reads the header at the start of `fragment`; nullopt when the fragment does not start with a
// JPEG SOI or JPEG 2000 SOC marker (a continuation fragment). Errors: kCorruption for a header
// that is cut short or malformed, or a JPEG without a frame header before its first scan;
// kUnsupported for a fragment that starts with the JP2 file format's signature box (JPEG 2000
// wrapped in boxes, which DICOM excludes and GDCM asserts on when the boxes add components).
StatusOr<std::optional<CodestreamHeader>> read_codestream_header(std::span<const uint8_t> fragment);

}  // namespace xrs
