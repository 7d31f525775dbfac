#include "imaging/dicom.h"

#include <gdcmFragment.h>
#include <gdcmImage.h>
#include <gdcmJPEGCodec.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <utility>

#include "imaging/dicom_format.h"
#include "imaging/jpeg_decode.h"

namespace xrs {
namespace {

constexpr uint32_t kSopClassUid = dicom_tag(0x0008, 0x0016);
constexpr uint32_t kModality = dicom_tag(0x0008, 0x0060);
constexpr uint32_t kBodyPart = dicom_tag(0x0018, 0x0015);
constexpr uint32_t kViewPosition = dicom_tag(0x0018, 0x5101);
constexpr uint32_t kSamplesPerPixel = dicom_tag(0x0028, 0x0002);
constexpr uint32_t kPhotometric = dicom_tag(0x0028, 0x0004);
constexpr uint32_t kNumberOfFrames = dicom_tag(0x0028, 0x0008);
constexpr uint32_t kRows = dicom_tag(0x0028, 0x0010);
constexpr uint32_t kColumns = dicom_tag(0x0028, 0x0011);
constexpr uint32_t kBitsAllocated = dicom_tag(0x0028, 0x0100);
constexpr uint32_t kBitsStored = dicom_tag(0x0028, 0x0101);
constexpr uint32_t kHighBit = dicom_tag(0x0028, 0x0102);
constexpr uint32_t kPixelRepresentation = dicom_tag(0x0028, 0x0103);
constexpr uint32_t kWindowCenter = dicom_tag(0x0028, 0x1050);
constexpr uint32_t kWindowWidth = dicom_tag(0x0028, 0x1051);
constexpr uint32_t kRescaleIntercept = dicom_tag(0x0028, 0x1052);
constexpr uint32_t kRescaleSlope = dicom_tag(0x0028, 0x1053);
constexpr uint32_t kVoiLutFunction = dicom_tag(0x0028, 0x1056);
constexpr uint32_t kLossyCompression = dicom_tag(0x0028, 0x2110);
constexpr uint32_t kModalityLutSequence = dicom_tag(0x0028, 0x3000);
constexpr uint32_t kLutDescriptor = dicom_tag(0x0028, 0x3002);
constexpr uint32_t kLutExplanation = dicom_tag(0x0028, 0x3003);
constexpr uint32_t kLutData = dicom_tag(0x0028, 0x3006);
constexpr uint32_t kVoiLutSequence = dicom_tag(0x0028, 0x3010);

Status dicom_error(StatusCode code, const std::string& message) {
  return Status(code, "DICOM: " + message);
}

// GDCM reports through gdcm::Trace to std::cerr by default; a library must not print.
void silence_gdcm() {
  static std::once_flag once;
  std::call_once(once, [] {
    gdcm::Trace::SetDebug(false);
    gdcm::Trace::SetWarning(false);
    gdcm::Trace::SetError(false);
  });
}

// First value of a DS or IS element: nullopt when absent or empty, an error naming the field
// when it is not a finite number.
StatusOr<std::optional<double>> get_number(const DicomDataSet& ds, uint32_t tag,
                                           std::string_view name) {
  const std::string text = ds.text(tag);
  std::string_view first = std::string_view(text).substr(0, text.find('\\'));
  while (!first.empty() && first.front() == ' ') first.remove_prefix(1);
  while (!first.empty() && first.back() == ' ') first.remove_suffix(1);
  if (first.empty()) return std::optional<double>();
  if (first.front() == '+') first.remove_prefix(1);  // DS allows it, from_chars does not
  double value = 0;
  const auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), value);
  if (ec != std::errc() || end != first.data() + first.size() || !std::isfinite(value)) {
    return dicom_error(StatusCode::kCorruption,
                       std::string(name) + " '" + std::string(first) + "' is not a number");
  }
  return std::optional<double>(value);
}

void add_note(std::string* notes, const std::string& note) {
  *notes += (notes->empty() ? "" : "; ") + note;
}

// The first item of a LUT sequence (PS3.3 C.11.1), or nullopt with the reason added to `notes`.
std::optional<DicomLut> parse_lut(const DicomDataSet& ds, uint32_t sequence, std::string_view name,
                                  bool signed_input, std::string* notes) {
  const DicomElement* element = ds.find(sequence);
  if (!element) return std::nullopt;
  const auto reject = [&](const std::string& reason) {
    add_note(notes, std::string(name) + " ignored: " + reason);
    return std::nullopt;
  };
  if (element->items.empty()) return reject("no item");
  const DicomDataSet& item = element->items.front();
  const DicomElement* descriptor = item.find(kLutDescriptor);
  if (!descriptor || descriptor->value.size() < 6) {
    return reject("LUT Descriptor missing or shorter than 3 values");
  }
  const auto word = [&](size_t i) {
    return uint16_t(descriptor->value[2 * i] | descriptor->value[2 * i + 1] << 8);
  };
  DicomLut lut;
  const size_t count = word(0) == 0 ? 65536 : word(0);  // PS3.3: 0 means 2^16 entries
  // The first mapped value is SS when the descriptor says so or, in implicit VR where it
  // cannot, when the pixels are signed.
  const bool first_signed = descriptor->vr == "SS" || (descriptor->vr.empty() && signed_input);
  lut.first_mapped = first_signed ? int16_t(word(1)) : word(1);
  lut.bits = word(2);
  if (lut.bits < 1 || lut.bits > 16)
    return reject("LUT Descriptor bits " + std::to_string(lut.bits));
  const DicomElement* data = item.find(kLutData);
  const std::span<const uint8_t> bytes = data ? data->value : std::span<const uint8_t>();
  lut.entries.resize(count);
  if (bytes.size() >= 2 * count) {
    for (size_t i = 0; i < count; ++i)
      lut.entries[i] = uint16_t(bytes[2 * i] | bytes[2 * i + 1] << 8);
  } else if (lut.bits <= 8 && bytes.size() >= count) {  // 8-bit entries packed two per word
    for (size_t i = 0; i < count; ++i) lut.entries[i] = bytes[i];
  } else {
    return reject("LUT Data has " + std::to_string(bytes.size()) + " bytes for " +
                  std::to_string(count) + " entries");
  }
  const auto [lo, hi] = std::minmax_element(lut.entries.begin(), lut.entries.end());
  if (*lo == *hi) return reject("all LUT entries are equal");
  lut.explanation = item.text(kLutExplanation);
  return lut;
}

Status check_size(int rows, int columns, uint64_t frames, const DecodeLimits& limits) {
  const uint64_t pixels = uint64_t(rows) * uint64_t(columns);
  const std::string size = std::to_string(columns) + "x" + std::to_string(rows);
  if (rows > limits.max_side || columns > limits.max_side) {
    return dicom_error(StatusCode::kResourceExhausted,
                       size + " exceeds the side limit " + std::to_string(limits.max_side));
  }
  if (pixels * frames > limits.max_pixels) {
    return dicom_error(StatusCode::kResourceExhausted,
                       (frames > 1 ? std::to_string(frames) + " frames of " : "") + size +
                           " exceeds the pixel limit " + std::to_string(limits.max_pixels));
  }
  return Status::ok();
}

// Everything in DicomInfo, checked against the rules in dicom.h (single frame size only).
StatusOr<DicomInfo> parse_info(const DicomFile& file, const DecodeLimits& limits) {
  // Checked first: a file cut at an element boundary would otherwise blame whichever field is
  // missing.
  if (!file.pixels.present) {
    return dicom_error(StatusCode::kCorruption,
                       "no Pixel Data (7FE0,0010): the data set ends without it (truncated, or "
                       "not an image)");
  }
  const DicomDataSet& ds = file.data;
  DicomInfo info;
  info.transfer_syntax_uid = file.transfer_syntax_uid;
  const gdcm::TransferSyntax ts(gdcm::TransferSyntax::GetTSType(info.transfer_syntax_uid.c_str()));
  if (const char* name = gdcm::TransferSyntax::GetTSString(ts)) info.transfer_syntax = name;
  info.sop_class_uid = ds.text(kSopClassUid);
  info.modality = ds.text(kModality);
  info.body_part = ds.text(kBodyPart);
  info.view_position = ds.text(kViewPosition);

  const std::optional<int> rows = ds.us(kRows);
  const std::optional<int> columns = ds.us(kColumns);
  if (!rows || !columns || *rows == 0 || *columns == 0) {
    return dicom_error(StatusCode::kCorruption,
                       "Rows (0028,0010) and Columns (0028,0011) must be "
                       "present and non-zero");
  }
  info.rows = *rows;
  info.columns = *columns;
  XRS_RETURN_IF_ERROR(check_size(info.rows, info.columns, 1, limits));

  info.samples_per_pixel = ds.us(kSamplesPerPixel).value_or(1);
  info.photometric = ds.text(kPhotometric);
  if (info.photometric.empty() && info.samples_per_pixel == 1) info.photometric = "MONOCHROME2";
  if (info.samples_per_pixel != 1 ||
      (info.photometric != "MONOCHROME1" && info.photometric != "MONOCHROME2")) {
    return dicom_error(StatusCode::kUnsupported,
                       "Photometric Interpretation '" + info.photometric + "' with " +
                           std::to_string(info.samples_per_pixel) +
                           " samples per pixel is not supported (only MONOCHROME1/MONOCHROME2)");
  }

  const std::optional<int> allocated = ds.us(kBitsAllocated);
  const std::optional<int> stored = ds.us(kBitsStored);
  if (!allocated || !stored) {
    return dicom_error(StatusCode::kCorruption, "Bits Allocated/Bits Stored missing");
  }
  info.bits_allocated = *allocated;
  info.bits_stored = *stored;
  info.high_bit = ds.us(kHighBit).value_or(info.bits_stored - 1);
  info.pixel_signed = ds.us(kPixelRepresentation).value_or(0) == 1;
  if (info.bits_allocated != 8 && info.bits_allocated != 16) {
    return dicom_error(
        StatusCode::kUnsupported,
        "Bits Allocated " + std::to_string(info.bits_allocated) + " is not supported (8 or 16)");
  }
  if (info.bits_stored < 1 || info.bits_stored > info.bits_allocated) {
    return dicom_error(StatusCode::kCorruption, "Bits Stored " + std::to_string(info.bits_stored) +
                                                    " does not fit Bits Allocated " +
                                                    std::to_string(info.bits_allocated));
  }
  if (info.high_bit != info.bits_stored - 1) {
    return dicom_error(StatusCode::kUnsupported,
                       "High Bit " + std::to_string(info.high_bit) + " with Bits Stored " +
                           std::to_string(info.bits_stored) + " is not supported");
  }

  XRS_ASSIGN_OR_RETURN(const std::optional<double> frames,
                       get_number(ds, kNumberOfFrames, "Number of Frames (0028,0008)"));
  if (frames && (*frames < 1 || *frames != std::floor(*frames) || *frames > 1e9)) {
    return dicom_error(StatusCode::kCorruption, "Number of Frames (0028,0008) is invalid");
  }
  info.frames = frames ? int(*frames) : 1;
  info.lossy = ds.text(kLossyCompression) == "01" || ts.IsLossy();

  XRS_ASSIGN_OR_RETURN(const std::optional<double> slope,
                       get_number(ds, kRescaleSlope, "Rescale Slope (0028,1053)"));
  XRS_ASSIGN_OR_RETURN(const std::optional<double> intercept,
                       get_number(ds, kRescaleIntercept, "Rescale Intercept (0028,1052)"));
  if (slope && *slope == 0) {
    return dicom_error(StatusCode::kCorruption, "Rescale Slope (0028,1053) is 0");
  }
  info.rescale_slope = slope.value_or(1);
  info.rescale_intercept = intercept.value_or(0);
  info.modality_lut = parse_lut(ds, kModalityLutSequence, "Modality LUT Sequence",
                                info.pixel_signed, &info.voi_notes);

  // A window that cannot be read is dropped with a note, not an error: the data still decode.
  const auto center = get_number(ds, kWindowCenter, "Window Center (0028,1050)");
  const auto width = get_number(ds, kWindowWidth, "Window Width (0028,1051)");
  if (center.is_ok() && width.is_ok() && center.value() && width.value()) {
    info.window_center = *center.value();
    info.window_width = *width.value();
  } else if (!center.is_ok() || !width.is_ok()) {
    add_note(&info.voi_notes,
             "window ignored: " + (center.is_ok() ? width : center).status().message());
  }
  const std::string function = ds.text(kVoiLutFunction);
  if (function == "LINEAR_EXACT") {
    info.voi_function = VoiFunction::kLinearExact;
  } else if (function == "SIGMOID") {
    info.voi_function = VoiFunction::kSigmoid;
  } else if (!function.empty() && function != "LINEAR") {
    add_note(&info.voi_notes, "unknown VOI LUT Function '" + function + "' read as LINEAR");
  }
  info.voi_lut =
      parse_lut(ds, kVoiLutSequence, "VOI LUT Sequence", info.pixel_signed, &info.voi_notes);
  return info;
}

// GDCM (and the codecs under it) may throw; nothing may escape this module.
template <typename T, typename F>
StatusOr<T> guarded(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return dicom_error(StatusCode::kResourceExhausted, "out of memory while decoding");
  } catch (const std::exception& e) {
    return dicom_error(StatusCode::kCorruption, std::string("GDCM failed: ") + e.what());
  } catch (...) {
    return dicom_error(StatusCode::kCorruption, "GDCM failed with an unknown exception");
  }
}

// The frame 0 samples GDCM's codecs decompress from the fragments our reader delimited (GDCM
// never parses the file: see dicom_format.h). GDCM decodes every frame at once. `bits_stored`
// and `is_signed` receive the pixel format the codec reports, which it may correct to what the
// compressed stream holds.
Status gdcm_decompress(const DicomInfo& info, const DicomPixelData& pixels,
                       std::vector<uint16_t>& samples, int& bits_stored, bool& is_signed) {
  const gdcm::TransferSyntax ts(gdcm::TransferSyntax::GetTSType(info.transfer_syntax_uid.c_str()));
  if (ts == gdcm::TransferSyntax::TS_END || !ts.IsEncapsulated()) {
    return dicom_error(StatusCode::kUnsupported,
                       "transfer syntax " + info.transfer_syntax_uid + " is not supported");
  }
  // GDCM's JPEG codec (every JPEG process, lossy and lossless) ends each frame in
  // ImageCodec::DecodeByStreams, which asserts (gdcmImageCodec.cxx:699, an abort in Debian's
  // build) that Bits Stored equals Bits Allocated when Bits Allocated is 8. 16-bit samples with
  // fewer bits stored take another branch (the unused bits are masked).
  if (gdcm::JPEGCodec().CanDecode(ts) && info.bits_allocated == 8 && info.bits_stored != 8) {
    return dicom_error(StatusCode::kUnsupported,
                       "Bits Stored " + std::to_string(info.bits_stored) +
                           " with Bits Allocated 8 is not supported for JPEG transfer syntax " +
                           info.transfer_syntax_uid + " (8-bit JPEG needs Bits Stored 8)");
  }
  for (std::span<const uint8_t> fragment : pixels.fragments) {
    XRS_ASSIGN_OR_RETURN(const std::optional<CodestreamHeader> header,
                         read_codestream_header(fragment));
    if (header &&
        (header->width != info.columns || header->height != info.rows || header->components != 1 ||
         header->precision < 1 || header->precision > info.bits_allocated)) {
      return dicom_error(StatusCode::kCorruption,
                         "the compressed frame declares " + std::to_string(header->width) + "x" +
                             std::to_string(header->height) + ", " +
                             std::to_string(header->components) + " component(s) of " +
                             std::to_string(header->precision) + " bits; the DICOM header " +
                             std::to_string(info.columns) + "x" + std::to_string(info.rows) +
                             ", 1 of at most " + std::to_string(info.bits_allocated));
    }
  }
  gdcm::Image image;
  image.SetNumberOfDimensions(info.frames > 1 ? 3 : 2);
  image.SetDimension(0, unsigned(info.columns));
  image.SetDimension(1, unsigned(info.rows));
  if (info.frames > 1) image.SetDimension(2, unsigned(info.frames));
  image.SetPixelFormat(gdcm::PixelFormat(1, uint16_t(info.bits_allocated),
                                         uint16_t(info.bits_stored), uint16_t(info.high_bit),
                                         info.pixel_signed ? 1 : 0));
  image.SetPhotometricInterpretation(
      gdcm::PhotometricInterpretation::GetPIType(info.photometric.c_str()));
  image.SetTransferSyntax(ts);
  gdcm::SmartPointer<gdcm::SequenceOfFragments> fragments = new gdcm::SequenceOfFragments;
  for (std::span<const uint8_t> f : pixels.fragments) {
    gdcm::Fragment fragment;
    fragment.SetByteValue(reinterpret_cast<const char*>(f.data()), uint32_t(f.size()));
    fragments->AddFragment(fragment);
  }
  gdcm::DataElement element(gdcm::Tag(0x7fe0, 0x0010));
  element.SetValue(*fragments);
  element.SetVLToUndefined();
  image.SetDataElement(element);

  const size_t count = samples.size();
  const size_t sample_bytes = size_t(info.bits_allocated / 8);
  std::vector<char> decoded(count * size_t(info.frames) * sample_bytes);
  if (image.GetBufferLength() != decoded.size()) {
    return dicom_error(StatusCode::kInternal, "GDCM's buffer length disagrees with the header");
  }
  if (!image.GetBuffer(decoded.data())) {
    return dicom_error(StatusCode::kCorruption, "Pixel Data (" + info.transfer_syntax +
                                                    ") does not decode: truncated or corrupt");
  }
  const gdcm::PixelFormat& format = image.GetPixelFormat();
  if (format.GetBitsAllocated() != info.bits_allocated || format.GetSamplesPerPixel() != 1 ||
      format.GetBitsStored() < 1 || format.GetBitsStored() > info.bits_allocated) {
    return dicom_error(StatusCode::kCorruption,
                       "the compressed stream's pixel format disagrees with the header");
  }
  bits_stored = format.GetBitsStored();
  is_signed = format.GetPixelRepresentation() == 1;
  if (sample_bytes == 2) {
    std::memcpy(samples.data(), decoded.data(), count * 2);  // host order
  } else {
    std::copy_n(reinterpret_cast<const uint8_t*>(decoded.data()), count, samples.begin());
  }
  return Status::ok();
}

// Steps 1 and 2 of dicom.h on frame 0.
void to_values(const std::vector<uint16_t>& samples, int bits_stored, bool is_signed,
               const DicomInfo& info, std::vector<float>& out) {
  const uint32_t mask = (uint32_t(1) << bits_stored) - 1;
  const uint32_t sign = uint32_t(1) << (bits_stored - 1);
  const auto stored = [&](size_t i) {
    const uint32_t v = samples[i] & mask;
    return is_signed && (v & sign) ? int64_t(v) - int64_t(mask) - 1 : int64_t(v);
  };
  out.resize(samples.size());
  if (info.modality_lut) {
    const DicomLut& lut = *info.modality_lut;
    const int64_t last = int64_t(lut.entries.size()) - 1;
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = lut.entries[size_t(std::clamp(stored(i) - lut.first_mapped, int64_t(0), last))];
    }
  } else {
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = float(double(stored(i)) * info.rescale_slope + info.rescale_intercept);
    }
  }
}

constexpr std::string_view kRleLossless = "1.2.840.10008.1.2.5";
constexpr std::string_view kJpegBaseline = "1.2.840.10008.1.2.4.50";

// The compressed bytes of frame 0 when they can be told apart without the offset table: all
// fragments of a single-frame image, or the first of a multi-frame one with a fragment per frame.
std::optional<std::string> first_frame_bytes(const DicomInfo& info, const DicomPixelData& pixels) {
  if (pixels.fragments.empty()) return std::nullopt;
  std::string bytes;
  if (info.frames == 1) {
    for (std::span<const uint8_t> f : pixels.fragments) bytes.append(f.begin(), f.end());
  } else if (pixels.fragments.size() == size_t(info.frames)) {
    bytes.assign(pixels.fragments.front().begin(), pixels.fragments.front().end());
  } else {
    return std::nullopt;
  }
  return bytes;
}

// JPEG Baseline (8-bit, process 1) through libjpeg-turbo, the decoder 8-bit JPEG files use:
// GDCM's bundled IJG libjpeg leaks its decompressor on some corrupt streams (found by fuzzing;
// docs/FUZZING.md), which a long-running server must not. Same integer IDCT, so the same
// samples.
Status decode_dicom_jpeg_baseline(const DicomInfo& info, std::span<const uint8_t> frame,
                                  const DecodeLimits& limits, std::vector<uint16_t>& samples) {
  StatusOr<Image> image = decode_jpeg(frame, limits);
  if (!image.is_ok()) {
    return dicom_error(image.status().code(),
                       "Pixel Data (JPEG Baseline): " + image.status().message());
  }
  if (image->width != info.columns || image->height != info.rows ||
      image->format != PixelFormat::kL) {
    return dicom_error(StatusCode::kCorruption,
                       "the compressed frame declares " + std::to_string(image->width) + "x" +
                           std::to_string(image->height) + " with " +
                           std::to_string(image->channels()) + " component(s); the DICOM header " +
                           std::to_string(info.columns) + "x" + std::to_string(info.rows) +
                           " with 1");
  }
  std::copy(image->pixels.begin(), image->pixels.end(), samples.begin());
  return Status::ok();
}

StatusOr<DicomPixels> decode_pixels(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  XRS_ASSIGN_OR_RETURN(const DicomFile file, parse_dicom_file(bytes, /*read_pixel_data=*/true));
  DicomPixels result;
  XRS_ASSIGN_OR_RETURN(result.info, parse_info(file, options.limits));
  const DicomInfo& info = result.info;
  if (info.frames > 1 && !options.dicom_first_frame) {
    return dicom_error(
        StatusCode::kUnsupported,
        std::to_string(info.frames) + " frames (multi-frame DICOM needs dicom_first_frame)");
  }
  XRS_RETURN_IF_ERROR(check_size(info.rows, info.columns, uint64_t(info.frames), options.limits));

  const size_t pixels = size_t(info.rows) * size_t(info.columns);
  const int sample_bytes = info.bits_allocated / 8;
  int bits_stored = info.bits_stored;
  bool is_signed = info.pixel_signed;
  std::vector<uint16_t> samples(pixels);
  if (!file.pixels.encapsulated) {
    const std::span<const uint8_t> native = file.pixels.native;
    if (native.size() < pixels * size_t(sample_bytes)) {
      return dicom_error(StatusCode::kCorruption, "Pixel Data (7FE0,0010) has " +
                                                      std::to_string(native.size()) +
                                                      " bytes, fewer than Rows * Columns needs");
    }
    for (size_t i = 0; i < pixels; ++i) {  // little endian
      samples[i] = sample_bytes == 1 ? native[i] : uint16_t(native[2 * i] | native[2 * i + 1] << 8);
    }
  } else if (info.transfer_syntax_uid == kRleLossless) {  // one fragment per frame (PS3.5 G.1)
    XRS_RETURN_IF_ERROR(
        decode_dicom_rle(file.pixels.fragments.front(), pixels, sample_bytes, samples));
  } else if (std::optional<std::string> frame; info.transfer_syntax_uid == kJpegBaseline &&
                                               info.bits_allocated == 8 &&
                                               (frame = first_frame_bytes(info, file.pixels))) {
    const auto* data = reinterpret_cast<const uint8_t*>(frame->data());
    XRS_RETURN_IF_ERROR(
        decode_dicom_jpeg_baseline(info, {data, frame->size()}, options.limits, samples));
    bits_stored = 8;
    is_signed = false;
  } else {
    XRS_RETURN_IF_ERROR(gdcm_decompress(info, file.pixels, samples, bits_stored, is_signed));
  }
  result.values.width = info.columns;
  result.values.height = info.rows;
  to_values(samples, bits_stored, is_signed, info, result.values.pixels);
  return result;
}

std::string number(double v) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return ec == std::errc() ? std::string(text, end) : "?";
}

// Step 3 with a VOI LUT: entries normalised from their own [min, max] range onto 0..255 (see
// docs/IMAGING.md for why not the descriptor's bit depth), input rounded to the nearest integer.
Image apply_voi_lut(const GrayImageF& values, const DicomLut& lut, bool invert) {
  const auto [lo_it, hi_it] = std::minmax_element(lut.entries.begin(), lut.entries.end());
  const double lo = *lo_it;
  const double range = double(*hi_it) - lo;
  const double last = double(lut.entries.size() - 1);
  Image out;
  out.width = values.width;
  out.height = values.height;
  out.format = PixelFormat::kL;
  out.pixels.resize(values.pixels.size());
  for (size_t i = 0; i < values.pixels.size(); ++i) {
    const double v = values.pixels[i];
    const double index =
        std::isnan(v) ? 0 : std::clamp(std::floor(v + 0.5) - double(lut.first_mapped), 0.0, last);
    const uint8_t level =
        uint8_t(std::floor((lut.entries[size_t(index)] - lo) / range * 255 + 0.5));
    out.pixels[i] = invert ? uint8_t(255 - level) : level;
  }
  return out;
}

}  // namespace

StatusOr<DicomInfo> read_dicom_info(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  return guarded<DicomInfo>([&]() -> StatusOr<DicomInfo> {
    XRS_ASSIGN_OR_RETURN(const DicomFile file, parse_dicom_file(bytes, /*read_pixel_data=*/false));
    return parse_info(file, limits);
  });
}

StatusOr<DicomPixels> decode_dicom_pixels(std::span<const uint8_t> bytes,
                                          const DecodeOptions& options) {
  silence_gdcm();
  return guarded<DicomPixels>([&] { return decode_pixels(bytes, options); });
}

StatusOr<Image> render_dicom(const DicomPixels& pixels, const WindowOptions& options,
                             std::string* voi_used) {
  const DicomInfo& info = pixels.info;
  const bool invert = info.monochrome1();
  const std::string inverted = invert ? ", inverted (MONOCHROME1)" : "";
  std::string notes = info.voi_notes;
  std::optional<Window> file_window;
  std::string description;
  if (options.mode == WindowMode::kAuto) {
    if (info.voi_lut) {
      if (voi_used) {
        *voi_used = "VOI LUT '" + info.voi_lut->explanation + "' (" +
                    std::to_string(info.voi_lut->entries.size()) + " entries)" + inverted +
                    (notes.empty() ? "" : " [" + notes + "]");
      }
      return apply_voi_lut(pixels.values, *info.voi_lut, invert);
    }
    if (info.window_center && info.window_width) {
      StatusOr<Window> window =
          window_from_center_width(*info.window_center, *info.window_width, info.voi_function);
      if (window.is_ok()) {
        file_window = *window;
        description = "file window center " + number(*info.window_center) + " width " +
                      number(*info.window_width);
      } else {
        notes += (notes.empty() ? "" : "; ") + ("file " + window.status().message());
      }
    }
  }
  XRS_ASSIGN_OR_RETURN(const Window window, choose_window(pixels.values, options, file_window));
  if (voi_used) {
    if (description.empty()) {
      description = options.mode == WindowMode::kFixed    ? "fixed window"
                    : options.mode == WindowMode::kMinMax ? "min-max window"
                                                          : "percentile window";
    }
    *voi_used = description + " [" + number(window.lower) + ", " + number(window.upper) + "]" +
                (window.shape == WindowShape::kSigmoid ? " sigmoid" : "") + inverted +
                (notes.empty() ? "" : " [" + notes + "]");
  }
  return apply_window(pixels.values, window, invert);
}

StatusOr<Image> decode_dicom(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  XRS_ASSIGN_OR_RETURN(const DicomPixels pixels, decode_dicom_pixels(bytes, options));
  return render_dicom(pixels, options.window);
}

StatusOr<ImageInfo> probe_dicom(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  XRS_ASSIGN_OR_RETURN(const DicomInfo info, read_dicom_info(bytes, limits));
  XRS_RETURN_IF_ERROR(check_size(info.rows, info.columns, uint64_t(info.frames), limits));
  ImageInfo result;
  result.type = ImageFileType::kDicom;
  result.width = info.columns;
  result.height = info.rows;
  result.bits_per_sample = info.bits_stored;
  result.channels = info.samples_per_pixel;
  result.frames = info.frames;
  return result;
}

std::span<const uint32_t> dicom_attributes_read() {
  // Everything parse_info and the pixel path look at, plus what the file reader delimits the
  // data set with (dicom_format.cpp). Keep in step with the constants above.
  static constexpr uint32_t kRead[] = {dicom_tag(0x0002, 0x0010),
                                       kSopClassUid,
                                       kModality,
                                       kBodyPart,
                                       kViewPosition,
                                       kSamplesPerPixel,
                                       kPhotometric,
                                       kNumberOfFrames,
                                       kRows,
                                       kColumns,
                                       kBitsAllocated,
                                       kBitsStored,
                                       kHighBit,
                                       kPixelRepresentation,
                                       kWindowCenter,
                                       kWindowWidth,
                                       kRescaleIntercept,
                                       kRescaleSlope,
                                       kVoiLutFunction,
                                       kLossyCompression,
                                       kModalityLutSequence,
                                       kLutDescriptor,
                                       kLutExplanation,
                                       kLutData,
                                       kVoiLutSequence,
                                       dicom_tag(0x7fe0, 0x0010)};
  return kRead;
}

}  // namespace xrs
