// DICOM radiographs (CR, DX, ...) → 8-bit gray, from bytes in memory.
//
// What is accepted: a DICOM Part 10 file ("DICM" at offset 128) with one frame (or several when
// DecodeOptions::dicom_first_frame, then frame 0), one sample per pixel, MONOCHROME1 or
// MONOCHROME2, Bits Allocated 8 or 16, signed or unsigned, High Bit = Bits Stored - 1, in
// Implicit or Explicit VR Little Endian (uncompressed), RLE Lossless, or a JPEG family / JPEG-LS /
// JPEG 2000 transfer syntax. Colour DICOM (RGB, YBR_*, PALETTE COLOR) is refused with
// kUnsupported: radiographs are monochrome, and a colour object (a photo, a screen capture) is
// not what this engine indexes. Big endian and deflated transfer syntaxes are refused too.
//
// Who does what: our own reader (dicom_format.h) parses the file and delimits the pixel data,
// and decodes uncompressed and RLE pixels; GDCM's codecs decompress JPEG, JPEG-LS and JPEG 2000
// frames after the frame's own header has been checked against the DICOM header. GDCM's parser
// is never used: Debian's GDCM is built with assertions that abort on damaged files.
//
// The pipeline (docs/IMAGING.md, "X-ray intensity mapping", gives the rules in full):
//   1. stored values: unused high bits masked off, sign-extended from bit Bits Stored - 1 when
//      Pixel Representation is 1;
//   2. modality LUT: the Modality LUT Sequence when present, else Rescale Slope/Intercept
//      (defaults 1 and 0) → float values (DicomPixels::values);
//   3. VOI: with WindowMode::kAuto, the first VOI LUT Sequence item if valid, else the first
//      Window Center/Width pair if valid (VOI LUT Function LINEAR, LINEAR_EXACT or SIGMOID),
//      else a percentile window from the data; other modes override the file (see window.h);
//   4. MONOCHROME1 is inverted after the VOI step, so bone is bright in every output.
//
// Failures (each message starts with "DICOM: " and names the field or offset at fault):
//   kInvalidArgument   not a DICOM Part 10 file
//   kCorruption        truncated or malformed data set (element, offset), missing/invalid Rows,
//                      Columns, Bits, Number of Frames or Rescale Slope, no Pixel Data, too few
//                      pixel bytes, a compressed frame whose header disagrees with the DICOM
//                      header, pixel data the codec cannot decode
//   kUnsupported       colour, more than one sample per pixel, Bits Allocated other than 8/16,
//                      High Bit other than Bits Stored - 1, multi-frame without
//                      dicom_first_frame, big endian, deflate or an unknown transfer syntax
//   kResourceExhausted Rows * Columns (or the whole multi-frame volume, which GDCM decodes at
//                      once) above DecodeLimits::max_pixels, or a side above max_side; checked
//                      before any pixel is decompressed
// Exceptions from GDCM are caught here and gdcm::Trace is silenced (process-wide, once). Known
// limits of GDCM's bundled codecs: on a damaged compressed stream they may print one line to
// stderr themselves (libjpeg, OpenJPEG), and a lossless JPEG stream with damaged entropy-coded
// data can decode to a damaged image rather than an error.
// Thread-safety: every function is safe to call concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "imaging/decode.h"
#include "imaging/image.h"
#include "imaging/window.h"

namespace xrs {

// A DICOM lookup table (Modality or VOI LUT Sequence item, PS3.3 C.11.1 / C.11.2).
// Input value x maps to entries[clamp(round(x) - first_mapped, 0, entries.size() - 1)].
struct DicomLut {
  int64_t first_mapped = 0;  // LUT Descriptor value 2 (signed when its VR is SS)
  int bits = 16;             // LUT Descriptor value 3: bits per entry
  std::vector<uint16_t> entries;
  std::string explanation;  // LUT Explanation (0028,3003), may be empty
};

// What the header says; strings are trimmed of DICOM padding. Useful for metadata filters.
struct DicomInfo {
  std::string transfer_syntax_uid;       // (0002,0010), e.g. "1.2.840.10008.1.2.4.91"
  std::string transfer_syntax;           // GDCM's name for it, e.g. "JPEG 2000 Image Compression"
  std::string sop_class_uid;             // (0008,0016)
  std::string modality;                  // (0008,0060), e.g. "CR", "DX"
  std::string body_part;                 // (0018,0015), e.g. "CHEST"
  std::string view_position;             // (0018,5101), e.g. "PA"
  std::string photometric;               // (0028,0004), "MONOCHROME2" when absent
  int rows = 0;                          // (0028,0010)
  int columns = 0;                       // (0028,0011)
  int frames = 1;                        // (0028,0008)
  int samples_per_pixel = 1;             // (0028,0002)
  int bits_allocated = 0;                // (0028,0100)
  int bits_stored = 0;                   // (0028,0101)
  int high_bit = 0;                      // (0028,0102)
  bool pixel_signed = false;             // (0028,0103) == 1
  bool lossy = false;                    // (0028,2110) == "01", or a lossy transfer syntax
  double rescale_slope = 1;              // (0028,1053)
  double rescale_intercept = 0;          // (0028,1052)
  std::optional<DicomLut> modality_lut;  // first item of (0028,3000), if valid
  std::optional<double> window_center;   // first value of (0028,1050)
  std::optional<double> window_width;    // first value of (0028,1051)
  VoiFunction voi_function = VoiFunction::kLinear;  // (0028,1056)
  std::optional<DicomLut> voi_lut;                  // first item of (0028,3010), if valid
  // Why a LUT or window present in the file is not used ("" when nothing was dropped).
  std::string voi_notes;

  bool monochrome1() const { return photometric == "MONOCHROME1"; }
};

// Reads the header (everything before Pixel Data) and checks it against the rules above and
// `limits`, without decompressing anything. Pixel Data must be present; its value is not read.
StatusOr<DicomInfo> read_dicom_info(std::span<const uint8_t> bytes, const DecodeLimits& limits);

// Frame 0 after steps 1-2: values.pixels are rows * columns floats, row-major, top row first.
struct DicomPixels {
  DicomInfo info;
  GrayImageF values;
};

StatusOr<DicomPixels> decode_dicom_pixels(std::span<const uint8_t> bytes,
                                          const DecodeOptions& options);

// Steps 3-4 on decoded pixels → an 8-bit L image of the same size. When `voi_used` is given it
// receives a one-line description of the mapping chosen, with the reason for any fall-back
// (e.g. "percentile window [803, 26437] (window width 1 is degenerate ...)").
// Errors: those of choose_window (bad options).
StatusOr<Image> render_dicom(const DicomPixels& pixels, const WindowOptions& options,
                             std::string* voi_used = nullptr);

// decode_dicom_pixels + render_dicom(options.window): what decode_image does for DICOM.
StatusOr<Image> decode_dicom(std::span<const uint8_t> bytes, const DecodeOptions& options);

// Every attribute (group << 16 | element) this reader looks at. None of them identifies a
// person: a test checks it against identifying_dicom_attributes() (dicom_deid.h), so that
// nothing from a DICOM header that names a patient can reach DicomInfo, the catalog or the API.
std::span<const uint32_t> dicom_attributes_read();

// read_dicom_info as an ImageInfo (bits_per_sample = Bits Stored, channels = Samples per Pixel).
StatusOr<ImageInfo> probe_dicom(std::span<const uint8_t> bytes, const DecodeLimits& limits);

}  // namespace xrs
