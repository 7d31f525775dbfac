// The wire format between DecoderPool and xray-search-decoder (decoder_pool.h), private to
// imaging. Both ends are built from the same sources for the same machine, so headers are
// plain structs in native byte order; every size read from the other end is checked.
//   request:  RequestHeader, then `size` image bytes
//   response: ResponseHeader, then `message_size` bytes of message, then `pixel_size` pixel bytes
//             (pixel_size is 0 unless code == 0)
#pragma once

#include <cstdint>

#include "imaging/decode.h"

namespace xrs::decoder_wire {

inline constexpr uint32_t kRequestMagic = 0x31515258;   // "XRQ1"
inline constexpr uint32_t kResponseMagic = 0x31505258;  // "XRP1"
inline constexpr uint64_t kMaxMessageBytes = 64 * 1024;
// An image file larger than this is not sent (the callers read at most 1 GiB).
inline constexpr uint64_t kMaxRequestBytes = uint64_t(2) << 30;

struct RequestHeader {
  uint32_t magic = kRequestMagic;
  uint32_t dicom_first_frame = 0;
  uint64_t max_pixels = 0;
  int32_t max_side = 0;
  int32_t window_mode = 0;
  double low_percentile = 0;
  double high_percentile = 0;
  uint32_t has_center = 0;
  uint32_t has_width = 0;
  double center = 0;
  double width = 0;
  uint64_t size = 0;  // image bytes that follow
};

struct ResponseHeader {
  uint32_t magic = kResponseMagic;
  int32_t code = 0;  // StatusCode
  uint64_t message_size = 0;
  int32_t width = 0;
  int32_t height = 0;
  int32_t format = 0;  // PixelFormat
  uint32_t reserved = 0;
  uint64_t pixel_size = 0;
};

inline RequestHeader request_header(const DecodeOptions& o, uint64_t size) {
  RequestHeader h;
  h.dicom_first_frame = o.dicom_first_frame ? 1 : 0;
  h.max_pixels = o.limits.max_pixels;
  h.max_side = o.limits.max_side;
  h.window_mode = static_cast<int32_t>(o.window.mode);
  h.low_percentile = o.window.low_percentile;
  h.high_percentile = o.window.high_percentile;
  h.has_center = o.window.center.has_value() ? 1 : 0;
  h.has_width = o.window.width.has_value() ? 1 : 0;
  h.center = o.window.center.value_or(0);
  h.width = o.window.width.value_or(0);
  h.size = size;
  return h;
}

inline DecodeOptions decode_options(const RequestHeader& h) {
  DecodeOptions o;
  o.dicom_first_frame = h.dicom_first_frame != 0;
  o.limits.max_pixels = h.max_pixels;
  o.limits.max_side = h.max_side;
  o.window.mode = static_cast<WindowMode>(h.window_mode);
  o.window.low_percentile = h.low_percentile;
  o.window.high_percentile = h.high_percentile;
  if (h.has_center) o.window.center = h.center;
  if (h.has_width) o.window.width = h.width;
  return o;
}

}  // namespace xrs::decoder_wire
