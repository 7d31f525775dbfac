#include "service/contact_sheet.h"

#include <cstdio>

#include "core/file_util.h"
#include "core/strings.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"
#include "imaging/encode.h"

namespace xrs {

namespace {

constexpr int kThumbnailJpegQuality = 80;
constexpr uint64_t kMaxImageFileBytes = 512ull * 1024 * 1024;

StatusOr<std::string> thumbnail(const std::string& file, int size) {
  XRS_ASSIGN_OR_RETURN(std::string bytes, read_file(file, kMaxImageFileBytes));
  XRS_ASSIGN_OR_RETURN(
      Image image, decode_image({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  return encode_jpeg(shrink_to_fit(image, size), kThumbnailJpegQuality);
}

constexpr char kStyle[] = R"(
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
p.sub { color: #556; margin: 0 0 1.2rem; }
section { background: #fff; border: 1px solid #d8dce3; border-radius: 6px; padding: .8rem;
          margin-bottom: 1rem; }
section h2 { font-size: 1rem; margin: 0 0 .6rem; }
.row { display: flex; flex-wrap: wrap; gap: .8rem; }
figure { margin: 0; width: SIZEpx; }
figure img, figure .missing { width: SIZEpx; height: SIZEpx; object-fit: contain; background: #000;
          display: block; }
figure .missing { background: #eee; color: #a00; font-size: .75rem; overflow: hidden; }
figcaption { font-size: .75rem; word-break: break-all; margin-top: .25rem; }
figcaption span { color: #667; }
)";

}  // namespace

StatusOr<std::string> render_contact_sheet(const std::vector<ContactSheetGroup>& groups,
                                           const ContactSheetOptions& options) {
  const int size = options.thumbnail_size;
  if (size < 16 || size > 1024) {
    return Status::invalid_argument("the thumbnail size must be between 16 and 1024, got " +
                                    std::to_string(size));
  }
  std::string style = kStyle;
  for (size_t at; (at = style.find("SIZEpx")) != std::string::npos;) {
    style.replace(at, 6, std::to_string(size) + "px");
  }
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<title>" + html_escape(options.title) + "</title>\n<style>" + style + "</style>\n";
  html += "</head>\n<body>\n<h1>" + html_escape(options.title) + "</h1>\n";
  size_t images = 0;
  for (const ContactSheetGroup& g : groups) images += g.images.size();
  html += "<p class=\"sub\">" + html_escape(options.subtitle) +
          (options.subtitle.empty() ? "" : " · ") + std::to_string(groups.size()) + " groups, " +
          std::to_string(images) + " images</p>\n";
  if (groups.empty()) html += "<p>No near-duplicates found.</p>\n";
  for (size_t i = 0; i < groups.size(); ++i) {
    const ContactSheetGroup& g = groups[i];
    char score[32];
    std::snprintf(score, sizeof score, "%.4f", g.min_score);
    html += "<section>\n<h2>Group " + std::to_string(i + 1) + ": " +
            std::to_string(g.images.size()) + " images, min score " + score + "</h2>\n";
    html += "<div class=\"row\">\n";
    for (const ContactSheetImage& im : g.images) {
      html += "<figure>";
      StatusOr<std::string> jpeg = thumbnail(im.file, size);
      if (jpeg.is_ok()) {
        html += "<img alt=\"" + html_escape(im.image_name) + "\" src=\"data:image/jpeg;base64," +
                base64_encode(*jpeg) + "\">";
      } else {
        html += "<div class=\"missing\">" + html_escape(jpeg.status().message()) + "</div>";
      }
      html += "<figcaption>" + html_escape(im.image_name) + "<br><span>" +
              html_escape(im.category) + " · id " + std::to_string(im.id) + "</span></figcaption>";
      html += "</figure>\n";
    }
    html += "</div>\n</section>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace xrs
