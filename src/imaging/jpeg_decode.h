// JPEG decoding through libjpeg-turbo's TurboJPEG API: the JPEG half of decode.h (internal to
// the imaging module; other modules call probe_image / decode_image).
//
// Pixels are those Pillow 9.4 gives: the same libjpeg-turbo with its defaults (accurate integer
// IDCT, fancy upsampling), baseline, extended, progressive and arithmetic-coded files:
//
//   1 component               L
//   3 components (YCbCr/RGB)  RGB (libjpeg's colour conversion)
//   4 components (CMYK/YCCK)  RGB: the samples are taken as Adobe-inverted CMYK (Pillow's
//                             "CMYK;I") and converted with Pillow's CMYK→RGB formula
//                             (r = k' - k'·c'/255 with its MULDIV255 rounding)
//
// Refused: 12-bit and lossless/hierarchical JPEG, 2-component files (kUnsupported, as Pillow
// refuses them). Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "imaging/decode.h"
#include "imaging/image.h"

namespace xrs {

// Walks the markers from SOI to the first frame header (SOFn) without decoding anything and
// validates it (8-bit precision, 1/3/4 components, non-zero size), then `limits`.
// Failures: kCorruption (no SOI, truncated header, bad segment length, scan before SOF),
// kUnsupported (see above), kResourceExhausted (limits).
StatusOr<ImageInfo> probe_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits);

// Decodes a whole JPEG. probe_jpeg runs first, so no pixel memory is allocated for a file above
// `limits`. Failures: those of probe_jpeg; kCorruption for a file that ends before its EOI marker
// ("truncated JPEG", as Pillow raises "image file is truncated"), for libjpeg errors, and for
// libjpeg warnings that mean lost image data (corrupt entropy-coded data, which Pillow would
// silently fill with gray); harmless warnings (extraneous bytes before a marker, unknown JFIF
// revision or Adobe transform, bad ICC marker, inconsistent progression) are ignored as Pillow
// ignores them. Progressive files with more than 500 scans are refused (kCorruption), a guard
// against the scan-bomb denial of service.
StatusOr<Image> decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits);

}  // namespace xrs
