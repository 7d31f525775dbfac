#include "evaluate_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "core/file_util.h"
#include "core/strings.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"
#include "imaging/encode.h"
#include "progress.h"

namespace xrs::app {

namespace {

using ojson = nlohmann::ordered_json;

constexpr int kThumb = 96;  // longest side of a thumbnail, pixels

// Thumbnails, rendered once per image.
class Thumbnails {
 public:
  explicit Thumbnails(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  // A data: URI, or "" when the image cannot be shown.
  const std::string& uri(const ImageRecord& r) {
    auto [it, fresh] = cache_.try_emplace(r.id);
    if (fresh && !data_dir_.empty()) it->second = render(data_dir_ + "/" + r.relative_path);
    return it->second;
  }

 private:
  static std::string render(const std::string& path) {
    StatusOr<Image> image = decode_image_file(path);
    if (!image.is_ok() || image->width < 1 || image->height < 1) return "";
    const double scale = double(kThumb) / std::max(image->width, image->height);
    Image small = *image;
    if (scale < 1) {
      small = resize_bicubic(*image, std::max(1, int(std::lround(image->width * scale))),
                             std::max(1, int(std::lround(image->height * scale))));
    }
    if (small.format == PixelFormat::kLA || small.format == PixelFormat::kRGBA) {
      StatusOr<std::string> png = encode_png(small);
      return png.is_ok() ? "data:image/png;base64," + base64_encode(*png) : "";
    }
    StatusOr<std::string> jpeg = encode_jpeg(small, 80);
    return jpeg.is_ok() ? "data:image/jpeg;base64," + base64_encode(*jpeg) : "";
  }

  std::string data_dir_;
  std::map<int64_t, std::string> cache_;
};

std::string fmt(const ojson& v) {
  return v.is_number() ? strfmt("%.3f", v.get<double>()) : std::string("–");
}

const char* const kKeys[] = {"p@1", "p@k", "r_precision", "map_at_r", "map", "mrr"};
const char* const kLabels[] = {"P@1", "P@k", "R-precision", "MAP@R", "mAP", "MRR"};

std::string metrics_table(const ojson& s) {
  std::string h = "<table><tr><th></th>";
  for (const char* l : kLabels) h += std::string("<th>") + l + "</th>";
  h += "</tr>";
  auto row = [&](const std::string& name, const ojson& m, const char* cls) {
    h += std::string("<tr class=\"") + cls + "\"><th>" + html_escape(name) + "</th>";
    for (const char* k : kKeys) h += "<td>" + fmt(m[k]) + "</td>";
    h += "</tr>";
  };
  row("macro", s["macro"], "macro");
  h += "<tr class=\"ci\"><th>95% interval</th>";
  for (const char* k : kKeys) {
    const ojson& b = s["macro"]["ci95"][k];
    h += "<td>" + fmt(b[0]) + "–" + fmt(b[1]) + "</td>";
  }
  h += "</tr>";
  row("chance", s["chance"], "chance");
  for (const auto& [c, m] : s["per_category"].items()) {
    row(c + " (" + std::to_string(s["per_category_queries"][c].get<size_t>()) + ")", m, "cat");
  }
  return h + "</table>";
}

// Relevant and irrelevant score histograms, overlaid, with the suggested and default thresholds.
std::string histogram_svg(const ojson& t, const std::string& title) {
  if (t.is_null()) return "";
  const ojson& hist = t["histogram"];
  const std::vector<size_t> rel = hist["relevant"].get<std::vector<size_t>>();
  const std::vector<size_t> irr = hist["irrelevant"].get<std::vector<size_t>>();
  const double low = hist["low"].get<double>(), high = hist["high"].get<double>();
  size_t top = 1;
  for (size_t i = 0; i < rel.size(); ++i) top = std::max({top, rel[i], irr[i]});
  const double w = 560, h = 160, left = 40, bottom = 24;
  const double bw = (w - left) / double(std::max<size_t>(rel.size(), 1));
  auto x_of = [&](double score) { return left + (score - low) / (high - low) * (w - left); };
  std::string s = strfmt(
      "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "role=\"img\" aria-label=\"%s\">",
      w, h + bottom, html_escape(title).c_str());
  for (size_t i = 0; i < rel.size(); ++i) {
    for (int pass = 0; pass < 2; ++pass) {
      const size_t n = pass == 0 ? irr[i] : rel[i];
      if (n == 0) continue;
      const double bh = double(n) / double(top) * h;
      s += strfmt(
          "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
          "<title>%zu</title></rect>",
          pass == 0 ? "irr" : "rel", left + double(i) * bw, h - bh, std::max(bw - 1, 1.0), bh, n);
    }
  }
  s += strfmt("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"axis\"/>", left, h, w,
              h);
  for (int i = 0; i <= 4; ++i) {
    const double v = low + (high - low) * i / 4;
    s += strfmt("<text x=\"%.1f\" y=\"%.0f\" class=\"tick\">%.2f</text>", x_of(v) - 12, h + 16, v);
  }
  s += strfmt("<text x=\"0\" y=\"12\" class=\"tick\">%zu</text>", top);
  auto mark = [&](const ojson& v, const char* cls) {
    if (!v.is_number()) return;
    const double x = std::clamp(x_of(v.get<double>()), left, w);
    s += strfmt("<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\" class=\"%s\"/>", x, x, h, cls);
  };
  mark(t["suggested_min_score"], "suggested");
  mark(t["default_min_score"], "default");
  s += "</svg><figcaption>" + html_escape(title) +
       ": relevant (green) and irrelevant (red) top-k " +
       "scores; solid line the suggested minimum score " + fmt(t["suggested_min_score"]) +
       strfmt(" (keeps %.0f%% of relevant, lets through %.0f%% of irrelevant), dashed line the ",
              100 * t["relevant_kept"].get<double>(), 100 * t["irrelevant_passed"].get<double>()) +
       "default " + fmt(t["default_min_score"]) + "</figcaption></figure>";
  return s;
}

}  // namespace

Status write_evaluation_report(const std::string& dir, const ReportInput& in) {
  const ojson& d = *in.doc;
  std::map<int64_t, const ImageRecord*> by_id;
  for (const ImageRecord& r : *in.rows) by_id.emplace(r.id, &r);
  Thumbnails thumbs(in.data_dir);

  auto tile = [&](int64_t id, float score, int relevant) {
    const ImageRecord& r = *by_id.at(id);
    const std::string& uri = thumbs.uri(r);
    const char* cls = relevant < 0 ? "query" : relevant ? "relevant" : "irrelevant";
    std::string t = std::string("<div class=\"tile ") + cls + "\">";
    t += uri.empty() ? "<div class=\"noimg\">" + html_escape(r.image_name) + "</div>"
                     : "<img alt=\"" + html_escape(r.image_name) + "\" src=\"" + uri + "\">";
    t += "<div class=\"cap\">" + html_escape(r.image_name) + "<br>" + html_escape(r.category);
    if (relevant >= 0) {
      t += strfmt("<br>%.3f %s", score, relevant ? "✓ relevant" : "✗ irrelevant");
    } else {
      t += "<br>query";
    }
    return t + "</div></div>";
  };
  auto query_row = [&](const eval::QueryResult& q, const std::string& title,
                       std::optional<int64_t> query_id) {
    std::string h = "<div class=\"query\"><h4>" + html_escape(title) + "</h4><div class=\"tiles\">";
    if (query_id) h += tile(*query_id, 0, -1);
    for (size_t i = 0; i < q.top_ids.size(); ++i) {
      h += tile(q.top_ids[i], q.top_scores[i], q.top_relevant[i]);
    }
    return h + "</div></div>";
  };

  std::string body;
  body += "<h1>Retrieval quality: " + html_escape(d["index"].get<std::string>()) + "</h1>";
  body += "<p>" + std::to_string(d["images"].get<size_t>()) + " images, model " +
          html_escape(d["model"].get<std::string>()) + ", k = " + std::to_string(d["k"].get<int>());
  if (!d["group_column"].is_null()) {
    body += ", a query's own group (column " + html_escape(d["group_column"].get<std::string>()) +
            ") left out";
  }
  body += ". Definitions: docs/EVALUATION.md.</p>";

  body += "<h2>Image → image (leave-one-out)</h2>" + metrics_table(d["image_to_image"]);
  if (!d["text_to_image"].is_null()) {
    body += "<h2>Text → image</h2>" + metrics_table(d["text_to_image"]);
  }
  body += "<h2>Score thresholds</h2>";
  body += histogram_svg(d["thresholds"]["text"], "text queries");
  body += histogram_svg(d["thresholds"]["image"], "image queries");

  if (in.text_results != nullptr && !in.text_results->empty()) {
    body += "<h2>Text queries: top results</h2>";
    for (const eval::QueryResult& q : *in.text_results) {
      std::string title = "“" + q.label + "”";
      if (q.relevant > 0) {
        title += strfmt(" — P@k %.3f, AP %.3f", q.metrics[eval::Metric::kPk],
                        q.metrics[eval::Metric::kMap]);
      }
      body += query_row(q, title, std::nullopt);
    }
  }
  body += "<h2>Image queries: top results, " + std::to_string(in.queries_per_category) +
          " per category</h2>";
  std::map<std::string, size_t> shown;
  for (size_t r = 0; r < in.image_results->size(); ++r) {
    const eval::QueryResult& q = (*in.image_results)[r];
    if (q.relevant == 0 || shown[q.category]++ >= in.queries_per_category) continue;
    const ImageRecord& rec = (*in.rows)[r];
    body += query_row(q,
                      rec.image_name + " (" + rec.category + ")" +
                          strfmt(" — P@k %.3f, AP %.3f", q.metrics[eval::Metric::kPk],
                                 q.metrics[eval::Metric::kMap]),
                      rec.id);
  }

  const std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>xray-search evaluate: " +
      html_escape(d["index"].get<std::string>()) +
      "</title><style>"
      "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}"
      "table{border-collapse:collapse;margin:.5em 0 1.5em}"
      "th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}"
      "tr.macro td{font-weight:600}tr.chance td,tr.ci td{color:#777}"
      "rect.rel{fill:#2a9d4b;fill-opacity:.75}rect.irr{fill:#d64545;fill-opacity:.6}"
      "line.axis{stroke:#444}line.suggested{stroke:#000;stroke-width:2}"
      "line.default{stroke:#555;stroke-dasharray:4 3}text.tick{font-size:10px;fill:#444}"
      "figure{margin:1em 0}figcaption{color:#555;max-width:560px}"
      ".tiles{display:flex;flex-wrap:wrap;gap:8px}"
      ".tile{width:110px;border:3px solid #ccc;padding:2px;font-size:11px;word-break:break-all}"
      ".tile.relevant{border-color:#2a9d4b}.tile.irrelevant{border-color:#d64545}"
      ".tile.query{border-color:#333;border-style:dashed}"
      ".tile img{display:block;max-width:100px;max-height:100px;margin:auto}"
      ".noimg{height:60px;background:#eee}h4{margin:.8em 0 .3em}"
      "</style></head><body>" +
      body + "</body></html>\n";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error(dir + ": cannot create the report folder: " + ec.message());
  return write_file_atomic(dir + "/report.html", page);
}

}  // namespace xrs::app
