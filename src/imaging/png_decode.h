// PNG decoding through libpng: the PNG half of decode.h (internal to the imaging module; other
// modules call probe_image / decode_image).
//
// Mapping from the file to pixels, the same as Pillow 9.4's PngImagePlugin + convert():
//
//   colour type / depth       result
//   gray 1, 2, 4              L, samples scaled to 0..255 (x255, x85, x17), as Pillow's "1",
//                             "L;2", "L;4" unpackers do
//   gray 8                    L (a tRNS colour is ignored, as Pillow keeps mode L)
//   gray 16                   GrayImageF holding the stored values 0..65535 (decode.h windows it)
//   gray+alpha 8              LA
//   gray+alpha 16             RGBA, high bytes, gray replicated (Pillow's "LA;16B" → RGBA)
//   RGB 8 / 16                RGB (16-bit: high byte of each sample, Pillow's "RGB;16B")
//   RGBA 8 / 16               RGBA (16-bit: high bytes)
//   palette 1, 2, 4, 8        RGB, or RGBA when a tRNS chunk is present (Pillow keeps "P"; this
//                             equals its convert("RGB") / convert("RGBA"))
//
// Interlaced (Adam7) files are supported. Gamma, ICC profiles and sBIT are ignored, as Pillow
// ignores them. Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <variant>

#include "core/status.h"
#include "imaging/decode.h"
#include "imaging/image.h"

namespace xrs {

inline constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// Reads only the signature and IHDR (33 bytes) and validates them: chunk length 13, CRC, width
// and height 1..2^31-1, a legal colour type / bit depth pair, compression and filter method 0,
// interlace 0 or 1; then `limits` (kResourceExhausted). Other failures are kCorruption.
// `channels` is what the file stores per pixel (palette: 1).
StatusOr<ImageInfo> probe_png(std::span<const uint8_t> bytes, const DecodeLimits& limits);

// Decodes a whole PNG. 16-bit gray gives the GrayImageF alternative, everything else Image.
// probe_png runs first, so no pixel memory is allocated for a file above `limits`. Truncated
// files ("truncated PNG: data ends at byte N"), CRC errors in critical chunks and bad zlib data
// are kCorruption with libpng's message. Truncation is judged as Pillow judges it: a file cut
// after its last pixel row was decompressed (in the zlib checksum, a CRC, a chunk header or
// IEND) decodes; one cut inside the data of any chunk does not.
StatusOr<std::variant<Image, GrayImageF>> decode_png(std::span<const uint8_t> bytes,
                                                     const DecodeLimits& limits);

}  // namespace xrs
