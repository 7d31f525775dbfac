// Pillow 9.4's ImagingResample (libImaging/Resample.c) for 8-bit images with the bicubic filter,
// reproduced bit for bit: the same double-precision filter weights, the same fixed-point
// rounding, the same two passes. Integer sums are exact, so the order of the additions is free;
// that freedom is what lets the loops below be vectorised.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "imaging/clip_preprocess.h"

namespace xrs {
namespace {

// 8 bits for the value, 2 guard bits for the negative lobes and overshoot (Pillow's choice).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

uint8_t clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup index
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One axis of the resampling, for a run of consecutive outputs: the i-th of them is the weighted
// sum of `count[i]` input samples starting at `first[i]`, with `taps` fixed-point weights per
// output (zero past count[i]).
struct AxisKernel {
  int taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  // first.size() * taps
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for box [0, in_size), restricted to outputs
// [out0, out0 + n_out): a crop of a huge resize costs only what the crop needs.
AxisKernel make_kernel(int in_size, int out_size, int out0, int n_out) {
  constexpr double kSupport = 2.0;  // bicubic
  const double scale = double(float(in_size)) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kSupport * filter_scale;
  const double inv = 1.0 / filter_scale;
  AxisKernel k;
  k.taps = int(std::ceil(support)) * 2 + 1;
  k.first.resize(n_out);
  k.count.resize(n_out);
  k.weights.assign(size_t(n_out) * k.taps, 0);
  std::vector<double> w(k.taps);
  for (int i = 0; i < n_out; ++i) {
    const double center = (out0 + i + 0.5) * scale;
    // (int) truncates toward zero, as in C; negative values are clamped right after.
    int lo = int(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = int(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double total = 0.0;
    for (int t = 0; t < n; ++t) {
      w[t] = bicubic_filter((t + lo - center + 0.5) * inv);
      total += w[t];
    }
    for (int t = 0; t < n; ++t) {
      const double v = total != 0.0 ? w[t] / total : w[t];
      const double fixed = v * (1 << kPrecisionBits);
      k.weights[size_t(i) * k.taps + t] = int32_t(v < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    k.first[i] = lo;
    k.count[i] = n;
  }
  return k;
}

// Eight int32 lanes (one AVX2 register; two SSE registers elsewhere), through the GCC/Clang vector
// extension so that one portable loop gets vectorised the same way everywhere.
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef uint8_t U8x8 __attribute__((vector_size(8)));

// *out = eight bytes zero-extended to int32 (GCC's generic conversion extracts them one by one).
// Vectors go by pointer: passed by value they would change the ABI of builds without AVX.
void load_widened(const uint8_t* p, I32x8* out) {
#if defined(__AVX2__)  // -march=native builds (XRS_NATIVE)
  *out = I32x8(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
#elif defined(__SSE2__)  // every x86-64: interleave with zero bytes, then with zero halves
  const __m128i zero = _mm_setzero_si128();
  const __m128i halves =
      _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), zero);
  const __m128i lanes[2] = {_mm_unpacklo_epi16(halves, zero), _mm_unpackhi_epi16(halves, zero)};
  std::memcpy(out, lanes, sizeof lanes);
#else
  U8x8 v;
  std::memcpy(&v, p, sizeof v);
  *out = __builtin_convertvector(v, I32x8);
#endif
}

// Lanes per block in the horizontal pass: a multiple of both 8 (one I32x8) and the channel
// count, so lane l always holds channel l % C.
template <int C>
constexpr int kBlock = C == 3 ? 24 : 8;

// The horizontal kernel spread over interleaved channels: for output x, byte j of the window
// starting at first[x] * C gets weight weights[x][j / C]; windows are padded with zero weights
// to whole blocks.
template <int C>
struct HorizontalPlan {
  int stride = 0;                // int32 per output in `weights`
  std::vector<int> start;        // first byte of the window in the input row
  std::vector<int> length;       // padded window length in bytes (multiple of kBlock<C>)
  std::vector<int32_t> weights;  // outputs * stride
  size_t overhang = 0;           // how far the padded windows reach past the end of a row
};

template <int C>
HorizontalPlan<C> plan_horizontal(const AxisKernel& k, int in_width) {
  constexpr int B = kBlock<C>;
  const int w = int(k.first.size());
  HorizontalPlan<C> p;
  p.stride = (k.taps * C + B - 1) / B * B;
  p.start.resize(w);
  p.length.resize(w);
  p.weights.assign(size_t(w) * p.stride, 0);
  const size_t row_bytes = size_t(in_width) * C;
  for (int x = 0; x < w; ++x) {
    p.start[x] = k.first[x] * C;
    p.length[x] = (k.count[x] * C + B - 1) / B * B;
    const size_t end = size_t(p.start[x]) + p.length[x];
    if (end > row_bytes) p.overhang = std::max(p.overhang, end - row_bytes);
    int32_t* dst = &p.weights[size_t(x) * p.stride];
    for (int t = 0; t < k.count[x]; ++t) {
      for (int c = 0; c < C; ++c) dst[t * C + c] = k.weights[size_t(x) * k.taps + t];
    }
  }
  return p;
}

// Horizontal pass over input rows [row0, row0 + rows) into `out` (rows * w * C bytes).
template <int C>
void horizontal_pass(const Image& in, const HorizontalPlan<C>& p, int row0, int rows,
                     uint8_t* out) {
  constexpr int B = kBlock<C>;
  const size_t row_bytes = size_t(in.width) * C;
  const size_t total = in.pixels.size();
  const int w = int(p.start.size());
  // A padded window may read past the end of its row: harmless inside the buffer (the weights
  // there are zero), so only rows near the end of the buffer are copied into a padded row.
  std::vector<uint8_t> padded;
  for (int r = 0; r < rows; ++r) {
    const size_t offset = size_t(row0 + r) * row_bytes;
    const uint8_t* src = in.pixels.data() + offset;
    if (offset + row_bytes + p.overhang > total) {
      padded.assign(row_bytes + p.overhang, 0);
      std::memcpy(padded.data(), src, row_bytes);
      src = padded.data();
    }
    uint8_t* dst = out + size_t(r) * w * C;
    for (int x = 0; x < w; ++x) {
      const uint8_t* s = src + p.start[x];
      const int32_t* k = &p.weights[size_t(x) * p.stride];
      I32x8 acc[B / 8] = {};
      for (int j = 0; j < p.length[x]; j += B) {
        for (int v = 0; v < B / 8; ++v) {
          I32x8 pixels, weights;
          load_widened(s + j + 8 * v, &pixels);
          std::memcpy(&weights, k + j + 8 * v, sizeof weights);
          acc[v] += pixels * weights;
        }
      }
      int32_t lanes[B];
      std::memcpy(lanes, acc, sizeof lanes);
      for (int c = 0; c < C; ++c) {
        int32_t sum = kHalf;
        for (int l = c; l < B; l += C) sum += lanes[l];
        dst[x * C + c] = clip8(sum);
      }
    }
  }
}

// Vertical pass: one output row per kernel entry, from `in`, whose row 0 is input row `in_row0`.
// Columns go in strips of 32 bytes whose sums stay in registers over all taps.
void vertical_pass(const uint8_t* in, size_t row_bytes, int in_row0, const AxisKernel& k,
                   uint8_t* out) {
  constexpr size_t kStrip = 32;
  for (size_t y = 0; y < k.first.size(); ++y) {
    const int32_t* weights = &k.weights[y * k.taps];
    const uint8_t* rows = in + size_t(k.first[y] - in_row0) * row_bytes;
    uint8_t* dst = out + y * row_bytes;
    size_t j = 0;
    for (; j + kStrip <= row_bytes; j += kStrip) {
      I32x8 acc[kStrip / 8];
      for (I32x8& a : acc) a = I32x8{} + kHalf;
      for (int t = 0; t < k.count[y]; ++t) {
        const uint8_t* src = rows + t * row_bytes + j;
        const I32x8 weight = I32x8{} + weights[t];
        for (size_t v = 0; v < kStrip / 8; ++v) {
          I32x8 pixels;
          load_widened(src + 8 * v, &pixels);
          acc[v] += pixels * weight;
        }
      }
      int32_t sums[kStrip];
      std::memcpy(sums, acc, sizeof sums);
      for (size_t i = 0; i < kStrip; ++i) dst[j + i] = clip8(sums[i]);
    }
    for (; j < row_bytes; ++j) {
      int32_t sum = kHalf;
      for (int t = 0; t < k.count[y]; ++t) sum += int32_t(rows[t * row_bytes + j]) * weights[t];
      dst[j] = clip8(sum);
    }
  }
}

// Pillow's ImagingResampleInner restricted to the output region [x0, x0 + w) x [y0, y0 + h).
template <int C>
Image resample_region(const Image& in, int out_width, int out_height, int x0, int y0, int w,
                      int h) {
  Image out;
  out.width = w;
  out.height = h;
  out.format = in.format;
  out.pixels.resize(size_t(w) * h * C);
  const bool need_horizontal = out_width != in.width;
  const bool need_vertical = out_height != in.height;
  const AxisKernel kv = need_vertical ? make_kernel(in.height, out_height, y0, h) : AxisKernel{};
  // Input rows the requested output rows read (first[] and first[] + count[] never decrease).
  const int row0 = need_vertical ? kv.first[0] : y0;
  const int row1 = need_vertical ? kv.first[h - 1] + kv.count[h - 1] : y0 + h;

  std::vector<uint8_t> temp;
  const uint8_t* columns;  // rows [row0, row1) with the output's columns, w * C bytes each
  if (need_horizontal) {
    const AxisKernel kh = make_kernel(in.width, out_width, x0, w);
    temp.resize(size_t(row1 - row0) * w * C);
    horizontal_pass<C>(in, plan_horizontal<C>(kh, in.width), row0, row1 - row0, temp.data());
    columns = temp.data();
  } else if (x0 == 0 && w == in.width) {
    columns = in.row(row0);
  } else {
    temp.resize(size_t(row1 - row0) * w * C);
    for (int r = row0; r < row1; ++r) {
      std::memcpy(&temp[size_t(r - row0) * w * C], in.row(r) + size_t(x0) * C, size_t(w) * C);
    }
    columns = temp.data();
  }
  if (need_vertical) {
    vertical_pass(columns, size_t(w) * C, row0, kv, out.pixels.data());
  } else {
    std::memcpy(out.pixels.data(), columns, out.pixels.size());
  }
  return out;
}

Image resample_any(const Image& in, int out_width, int out_height, int x0, int y0, int w, int h) {
  switch (in.channels()) {
    case 1:
      return resample_region<1>(in, out_width, out_height, x0, y0, w, h);
    case 2:
      return resample_region<2>(in, out_width, out_height, x0, y0, w, h);
    case 3:
      return resample_region<3>(in, out_width, out_height, x0, y0, w, h);
    default:
      return resample_region<4>(in, out_width, out_height, x0, y0, w, h);
  }
}

// Pillow's RGBA→RGBa / LA→La: colour (or gray) times alpha with its MULDIV255 rounding.
Image premultiply(const Image& in) {
  Image out = in;
  const int c = in.channels();
  for (size_t i = 0; i < out.pixels.size(); i += c) {
    const uint32_t alpha = out.pixels[i + c - 1];
    for (int j = 0; j < c - 1; ++j) {
      const uint32_t tmp = out.pixels[i + j] * alpha + 128;
      out.pixels[i + j] = uint8_t(((tmp >> 8) + tmp) >> 8);
    }
  }
  return out;
}

// Pillow's RGBa→RGBA / La→LA: divided by alpha (truncating, clipped), except at alpha 0 and 255.
void unpremultiply(Image& image) {
  const int c = image.channels();
  for (size_t i = 0; i < image.pixels.size(); i += c) {
    const uint32_t alpha = image.pixels[i + c - 1];
    if (alpha == 0 || alpha == 255) continue;
    for (int j = 0; j < c - 1; ++j) {
      const uint32_t v = 255 * image.pixels[i + j] / alpha;
      image.pixels[i + j] = uint8_t(std::min<uint32_t>(v, 255));
    }
  }
}

}  // namespace

Image resize_bicubic_crop(const Image& image, int width, int height, int left, int top,
                          int crop_width, int crop_height) {
  assert(image.width > 0 && image.height > 0 && width > 0 && height > 0);
  assert(left >= 0 && top >= 0 && crop_width > 0 && crop_height > 0);
  assert(left + crop_width <= width && top + crop_height <= height);
  if (image.width <= 0 || image.height <= 0 || width <= 0 || height <= 0 || left < 0 || top < 0 ||
      crop_width <= 0 || crop_height <= 0 || left + crop_width > width ||
      top + crop_height > height) {
    return Image{};
  }
  // Pillow returns a copy when the size does not change, skipping the premultiplication.
  if (width == image.width && height == image.height) {
    return resample_any(image, width, height, left, top, crop_width, crop_height);
  }
  const bool alpha = image.format == PixelFormat::kLA || image.format == PixelFormat::kRGBA;
  if (!alpha) return resample_any(image, width, height, left, top, crop_width, crop_height);
  Image out = resample_any(premultiply(image), width, height, left, top, crop_width, crop_height);
  unpremultiply(out);
  return out;
}

Image resize_bicubic(const Image& image, int width, int height) {
  return resize_bicubic_crop(image, width, height, 0, 0, width, height);
}

Image shrink_to_fit(const Image& image, int size) {
  const int longest = std::max(image.width, image.height);
  if (longest <= size) return image;
  const double scale = static_cast<double>(size) / longest;
  const int w = std::max(1, static_cast<int>(std::lround(image.width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(image.height * scale)));
  return resize_bicubic(image, w, h);
}

}  // namespace xrs
