// GET /api/images/<id> and /api/images/<id>/preview. The only files ever read are those the
// backend names for a valid id (IndexedImage::absolute_path); nothing in the request becomes part
// of a path. Neither route sends a stored file unless the server runs with --serve-originals
// (RouterOptions::serve_originals): the image is decoded (DICOM windowed as for indexing) and
// sent as a PNG, so no DICOM header (patient name, IDs, dates), PNG text chunk or JPEG
// EXIF/comment ever leaves with it (docs/SECURITY.md, "De-identification").
#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>

#include "core/file_util.h"
#include "core/log.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "server/api/handlers.h"

namespace xrs::api {
namespace {

// Indexed files are images; anything past this is refused rather than copied into memory.
constexpr uint64_t kMaxServedFileBytes = 512ull * 1024 * 1024;
constexpr int kPreviewJpegQuality = 85;

std::string_view content_type_of(std::span<const uint8_t> bytes) {
  switch (sniff_image_type(bytes)) {
    case ImageFileType::kPng:
      return "image/png";
    case ImageFileType::kJpeg:
      return "image/jpeg";
    case ImageFileType::kDicom:
      return "application/dicom";
    case ImageFileType::kUnknown:
      break;
  }
  return "application/octet-stream";
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// `inline; filename="..."` with anything but plain printable ASCII replaced, so that a hostile
// image name cannot break the header.
std::string content_disposition(std::string_view name) {
  std::string safe;
  for (char c : name) {
    const bool plain = c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
    safe += plain ? c : '_';
  }
  return "inline; filename=\"" + safe + "\"";
}

// The indexed record and file bytes for `id_text`, or the error response.
struct LoadedImage {
  IndexedImage record;
  std::string bytes;
};

StatusOr<LoadedImage> load_image(const SearchBackend& backend, std::string_view id_text) {
  XRS_ASSIGN_OR_RETURN(const int64_t id, parse_image_id(id_text));
  XRS_ASSIGN_OR_RETURN(IndexedImage record, backend.image(id));
  auto bytes = read_file(record.absolute_path, kMaxServedFileBytes);
  if (!bytes.is_ok()) {
    // The full story (with the server's path) goes to the server's log only.
    log_warning("GET /api/images/" + std::to_string(id) + ": " + bytes.status().to_string());
    const std::string what =
        "image " + std::to_string(id) + " ('" + clip_for_message(record.image_name) + "')";
    if (bytes.status().code() == StatusCode::kNotFound) {
      return Status::not_found(what + " is indexed but its file is missing on the server");
    }
    return Status::internal(what + ": its file could not be read on the server");
  }
  return LoadedImage{std::move(record), std::move(bytes).value()};
}

StatusOr<int> parse_preview_size(const HttpRequest& request) {
  auto text = request.query_param("size");
  if (!text) return kDefaultPreviewSize;
  int size = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, size);
  if (ec != std::errc() || ptr != end || size < kMinPreviewSize || size > kMaxPreviewSize) {
    return Status::invalid_argument(
        "size must be an integer between " + std::to_string(kMinPreviewSize) + " and " +
        std::to_string(kMaxPreviewSize) + ", got '" + clip_for_message(*text) + "'");
  }
  return size;
}

// A JPEG no larger than size x size, keeping the aspect ratio (never enlarged).
StatusOr<std::string> render_preview(const std::string& bytes, int size) {
  XRS_ASSIGN_OR_RETURN(Image image, decode_image(as_bytes(bytes)));
  return encode_jpeg(shrink_to_fit(image, size), kPreviewJpegQuality);
}

// Key of the full-size rendering in the thumbnail cache (previews use their size, >= 16).
constexpr int kFullSizeKey = 0;

// "chest.dcm" -> "chest.png": the name of the rendering.
std::string png_name(std::string_view image_name) {
  std::string name(image_name.substr(image_name.rfind('/') + 1));
  const size_t dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name + ".png";
}

// The whole image, decoded and encoded as PNG (never the stored file).
HttpResponse rendered_image(const SearchBackend& backend, int64_t id, std::string_view id_text,
                            ThumbnailCache* cache) {
  auto record = backend.image(id);
  if (!record.is_ok()) return error_response(record.status());
  std::optional<std::string> png = cache ? cache->get(id, kFullSizeKey) : std::nullopt;
  if (!png) {
    auto image = load_image(backend, id_text);
    if (!image.is_ok()) return error_response(image.status());
    auto decoded = decode_image(as_bytes(image->bytes));
    auto encoded = decoded.is_ok() ? encode_png(*decoded) : StatusOr<std::string>(decoded.status());
    if (!encoded.is_ok()) {
      log_warning("GET /api/images/" + std::to_string(id) + ": " + encoded.status().to_string());
      return error_response(
          500, status_code_name(encoded.status().code()),
          "image " + std::to_string(id) + ": cannot render it: " + encoded.status().message());
    }
    png = std::move(encoded).value();
    if (cache) cache->put(id, kFullSizeKey, *png);
  }
  HttpResponse response;
  response.content_type = "image/png";
  response.body = *std::move(png);
  response.set_header("Content-Disposition", content_disposition(png_name(record->image_name)));
  return response;
}

}  // namespace

StatusOr<int64_t> parse_image_id(std::string_view text) {
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    return Status::invalid_argument("an image id is a non-negative decimal integer, got '" +
                                    clip_for_message(text) + "'");
  }
  int64_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::not_found("no image with id " + clip_for_message(text));
  }
  return id;
}

std::optional<std::string> ThumbnailCache::get(int64_t id, int size) {
  std::lock_guard lock(mutex_);
  auto it = index_.find({id, size});
  if (it == index_.end()) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->jpeg;
}

void ThumbnailCache::put(int64_t id, int size, std::string jpeg) {
  if (jpeg.size() > capacity_) return;
  std::lock_guard lock(mutex_);
  const Key key{id, size};
  if (index_.count(key)) return;  // another thread rendered it meanwhile
  bytes_ += jpeg.size();
  entries_.push_front({key, std::move(jpeg)});
  index_[key] = entries_.begin();
  while (bytes_ > capacity_) {
    bytes_ -= entries_.back().jpeg.size();
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
}

HttpResponse handle_image(const SearchBackend& backend, const RouterOptions& options,
                          std::string_view id_text, ThumbnailCache* cache) {
  auto id = parse_image_id(id_text);
  HttpResponse response;
  if (!id.is_ok()) return error_response(id.status());
  if (options.serve_originals) {
    auto image = load_image(backend, id_text);
    if (!image.is_ok()) {
      response = error_response(image.status());
    } else {
      response.content_type = std::string(content_type_of(as_bytes(image->bytes)));
      response.body = std::move(image->bytes);
      response.set_header("Content-Disposition", content_disposition(image->record.image_name));
    }
  } else {
    response = rendered_image(backend, *id, id_text, cache);
  }
  if (response.status == 200) response.set_header("Cache-Control", "private, max-age=300");
  response.audit.event = "image.open";
  response.audit.add("image_id", *id);
  response.audit.add("original", options.serve_originals);
  return response;
}

HttpResponse handle_preview(const SearchBackend& backend, std::string_view id_text,
                            const HttpRequest& request, ThumbnailCache* cache) {
  auto size = parse_preview_size(request);
  if (!size.is_ok()) return error_response(size.status());
  auto id = parse_image_id(id_text);
  if (!id.is_ok()) return error_response(id.status());

  std::optional<std::string> jpeg = cache ? cache->get(*id, *size) : std::nullopt;
  if (!jpeg) {
    auto image = load_image(backend, id_text);
    if (!image.is_ok()) return error_response(image.status());
    auto rendered = render_preview(image->bytes, *size);
    if (!rendered.is_ok()) {
      // An indexed file that no longer decodes is the server's problem, not the client's.
      log_warning("GET /api/images/" + std::to_string(*id) +
                  "/preview: " + rendered.status().to_string());
      return error_response(500, status_code_name(rendered.status().code()),
                            "image " + std::to_string(*id) +
                                ": cannot render a preview: " + rendered.status().message());
    }
    jpeg = std::move(rendered).value();
    if (cache) cache->put(*id, *size, *jpeg);
  }
  HttpResponse response;
  response.content_type = "image/jpeg";
  response.body = *std::move(jpeg);
  response.set_header("Cache-Control", "private, max-age=300");
  response.audit.event = "image.preview";
  response.audit.add("image_id", *id);
  response.audit.add("size", int64_t{*size});
  return response;
}

}  // namespace xrs::api
