// Image decoding: bytes → 8-bit Image, for every format xray-search accepts.
//
//   PNG  1/2/4/8-bit gray, gray+alpha, RGB, RGBA,     → pixels exactly as Pillow 9.4 decodes them
//        palette (expanded), 16-bit colour            (palette → RGB/RGBA, 16-bit colour → high
//                                                     bytes; png_decode.h has the table)
//   PNG  16-bit gray                                  → 8-bit L through an intensity window
//                                                     (options.window, see window.h)
//   JPEG baseline / progressive, gray, YCbCr, CMYK    → pixels exactly as Pillow (libjpeg-turbo,
//                                                     accurate integer IDCT, fancy upsampling);
//                                                     CMYK as Pillow's convert("RGB")
//   DICOM (via GDCM; JPEG 2000, JPEG-LS, JPEG lossless, RLE, uncompressed)
//                                                     → 8-bit L: modality LUT, VOI window or LUT,
//                                                       MONOCHROME1 inverted (see dicom.h)
//
// The format is taken from the content (magic bytes), never from the file name. Every failure
// is a Status naming what is wrong, never a crash; the caller adds the file name:
//   kInvalidArgument    empty input, or bytes that are no image format at all ("not an image
//                       (starts with 'hell')")
//   kUnsupported        a recognised format we do not read (GIF, BMP, TIFF, WebP, JPEG 2000
//                       codestream, 12-bit or lossless JPEG, ...)
//   kCorruption         truncated or damaged PNG/JPEG data ("truncated PNG: ...")
//   kResourceExhausted  the header's size is above DecodeLimits, found before any pixel memory
//                       is allocated
// Docs: docs/IMAGING.md ("Decoding and CLIP preprocessing", "Containing the codecs"). Safe
// from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "imaging/image.h"
#include "imaging/window.h"

namespace xrs {

// The version of what decoding and intensity mapping make of a file's bytes. Bumped whenever a
// change here gives different pixels for some file, so that an index built before the change is
// not mixed with embeddings made after it (it is part of ModelIdentity::preprocessing).
inline constexpr char kImagingVersion[] = "imaging-1";

enum class ImageFileType { kUnknown, kPng, kJpeg, kDicom };

std::string_view image_file_type_name(ImageFileType type);  // "png", "jpeg", "dicom", "unknown"

// The type from the first bytes (PNG signature, JPEG SOI FF D8 FF, DICOM "DICM" at offset 128).
ImageFileType sniff_image_type(std::span<const uint8_t> head);

// Limits that protect against decompression bombs and absurd inputs.
struct DecodeLimits {
  // Width * height above this is rejected before any pixel is decoded (kResourceExhausted).
  // Pillow's own bomb guard errors at twice its MAX_IMAGE_PIXELS (2 * 89,478,485).
  uint64_t max_pixels = 178'956'970;
  // Width or height above this is rejected.
  int max_side = 65'535;
};

// The check every decoder applies to a header's size before allocating: kResourceExhausted
// naming the size and the limit when a side exceeds max_side or width * height exceeds
// max_pixels; OK otherwise.
Status check_decode_limits(uint64_t width, uint64_t height, const DecodeLimits& limits);

struct DecodeOptions {
  DecodeLimits limits;
  // For 16-bit PNG and DICOM: how stored values become 8-bit (see window.h).
  WindowOptions window;
  // DICOM multi-frame files are rejected unless this is true, in which case frame 0 is used.
  bool dicom_first_frame = false;
};

// What the header says, without decoding pixels (cheap: used by dataset validation).
struct ImageInfo {
  ImageFileType type = ImageFileType::kUnknown;
  int width = 0;
  int height = 0;
  int bits_per_sample = 8;  // as stored: 1, 2, 4, 8 or 16 (PNG), 8 (JPEG), BitsStored (DICOM)
  int channels = 1;         // samples per pixel as stored (PNG palette: 1; JPEG CMYK: 4)
  int frames = 1;
};

// Reads only the header (PNG: signature + IHDR; JPEG: markers up to the first SOF; DICOM: the
// data set before Pixel Data) and validates it, including `limits`. A file that probes fine can
// still fail to decode (damaged pixel data).
StatusOr<ImageInfo> probe_image(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

// Decodes in a worker process (decoder_pool.h, default_decoder_pool()): a crash, abort, hang or
// memory blow-up of a codec on these bytes becomes an error Status for this image (its message
// contains kDecoderFailureMarker) and the calling process goes on. Bytes of no known format are
// refused here without a round trip. This is the decoder every caller uses for bytes it did not
// write itself (files of a dataset, uploads, downloads).
StatusOr<Image> decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options = {});

// Reads (memory-maps) and decodes a file through decode_image; error messages start with the
// path.
StatusOr<Image> decode_image_file(const std::string& path, const DecodeOptions& options = {});

// Part of the message of every contained decoder failure (the worker crashed, exited, timed out
// or hit its memory limit: decoder_pool.h), and the test for it. The upload route answers 422.
inline constexpr char kDecoderFailureMarker[] = "the image decoder ";
bool is_decoder_failure(const Status& status);

// The decoders themselves, in this process: what the worker process runs, and what the fuzz
// targets call (for coverage). Anything else must use decode_image: a codec may abort().
StatusOr<Image> decode_image_in_process(std::span<const uint8_t> bytes,
                                        const DecodeOptions& options = {});

}  // namespace xrs
