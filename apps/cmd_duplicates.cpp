// xray-search duplicates --index IDX [--min-score S] [--json] [--sheet FILE.html] [--data DIR]
// (S default: the duplicate_min_score of the index's model, xray-search-model.json, else 0.97)
// Groups of near-identical images (index/duplicates.h): a table, or JSON
// {"groups":[{"images":[names...],"min_score":S},...]}, and optionally an HTML contact sheet.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "clip/model_settings.h"
#include "common.h"
#include "core/file_util.h"
#include "index/duplicates.h"
#include "service/contact_sheet.h"
#include "service/search_json.h"
#include "service/search_service.h"

namespace xrs::app {

namespace {

struct DuplicatesOptions {
  std::string index_dir;
  double min_score = kDefaultDuplicateMinScore;
  bool has_min_score = false;
  bool json = false;
  std::string sheet;
  std::string data_dir;
  int thumbnail_size = 160;
};

void print_table(const IndexReader& index, const std::vector<DuplicateGroup>& groups,
                 float min_score) {
  if (groups.empty()) {
    std::printf("no near-duplicates at or above %.3f among %zu images\n", min_score, index.size());
    return;
  }
  std::printf("%-5s  %-6s  %-9s  %-8s  %s\n", "group", "images", "min_score", "category", "image");
  for (size_t i = 0; i < groups.size(); ++i) {
    const DuplicateGroup& g = groups[i];
    for (size_t j = 0; j < g.ids.size(); ++j) {
      const ImageRecord* r = index.find(g.ids[j]);
      if (j == 0) {
        std::printf("%-5zu  %-6zu  %-9.4f  ", i + 1, g.ids.size(), g.min_score);
      } else {
        std::printf("%-5s  %-6s  %-9s  ", "", "", "");
      }
      std::printf("%-8s  %s\n", r->category.c_str(), r->image_name.c_str());
    }
  }
  size_t images = 0;
  for (const DuplicateGroup& g : groups) images += g.ids.size();
  std::printf("%zu groups, %zu of %zu images (threshold %.3f)\n", groups.size(), images,
              index.size(), min_score);
}

int write_sheet(const DuplicatesOptions& o, const IndexReader& index,
                const std::vector<DuplicateGroup>& groups, float min_score) {
  std::string data_dir = o.data_dir;
  if (data_dir.empty()) {
    auto it = index.catalog_info().settings.find(kSettingDataDir);
    if (it != index.catalog_info().settings.end()) data_dir = it->second;
  }
  if (data_dir.empty()) {
    return report_error(Status::failed_precondition(
        "the index does not record where its images are: pass --data DIR for the contact sheet"));
  }
  std::vector<ContactSheetGroup> sheet_groups;
  for (const DuplicateGroup& g : groups) {
    ContactSheetGroup sg;
    sg.min_score = g.min_score;
    for (int64_t id : g.ids) {
      const ImageRecord* r = index.find(id);
      sg.images.push_back({id, r->image_name, r->category, r->relative_path,
                           (std::filesystem::path(data_dir) / r->relative_path).string()});
    }
    sheet_groups.push_back(std::move(sg));
  }
  ContactSheetOptions so;
  char subtitle[64];
  std::snprintf(subtitle, sizeof subtitle, "cosine similarity >= %.3f", min_score);
  so.subtitle = "Index " + o.index_dir + ", " + subtitle;
  so.thumbnail_size = o.thumbnail_size;
  StatusOr<std::string> html = render_contact_sheet(sheet_groups, so);
  if (!html.is_ok()) return report_error(html.status(), true);
  if (Status s = write_file_atomic(o.sheet, *html); !s.is_ok()) return report_error(s);
  std::fprintf(stderr, "xray-search: wrote the contact sheet %s\n", o.sheet.c_str());
  return kExitOk;
}

int run_duplicates(const DuplicatesOptions& o) {
  float min_score = static_cast<float>(o.min_score);
  if (Status s = validate_duplicate_min_score(min_score); !s.is_ok()) return report_error(s, true);
  if (o.thumbnail_size < 16 || o.thumbnail_size > 1024) {
    return report_error(Status::invalid_argument("--thumbnail-size must be between 16 and 1024"),
                        true);
  }
  StatusOr<std::shared_ptr<const IndexReader>> index = IndexReader::open(o.index_dir);
  if (!index.is_ok()) return report_error(index.status().with_context(o.index_dir));
  if (!o.has_min_score) {
    // The threshold of the model the index was built with, when its folder sets one.
    const auto& settings = (*index)->catalog_info().settings;
    if (auto it = settings.find(kSettingModelPath); it != settings.end() && !it->second.empty()) {
      StatusOr<ModelSettings> model = load_model_settings(it->second);
      if (!model.is_ok()) return report_error(model.status());
      min_score = model->duplicate_min_score.value_or(min_score);
    }
  }
  DuplicateOptions options;
  options.min_score = min_score;
  StatusOr<std::vector<DuplicateGroup>> groups = find_duplicate_groups(**index, options);
  if (!groups.is_ok()) return report_error(groups.status());
  if (o.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const DuplicateGroup& g : *groups) {
      nlohmann::json names = nlohmann::json::array();
      for (int64_t id : g.ids) names.push_back((*index)->find(id)->image_name);
      list.push_back({{"images", std::move(names)}, {"min_score", round_score(g.min_score)}});
    }
    print_json({{"groups", std::move(list)}}, true);
  } else {
    print_table(**index, *groups, min_score);
  }
  if (!o.sheet.empty()) return write_sheet(o, **index, *groups, min_score);
  return kExitOk;
}

}  // namespace

void setup_duplicates(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DuplicatesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "duplicates",
      "List groups of near-identical indexed images (one neighbour search per image; groups are "
      "linked pairs at or above --min-score)");
  cmd->add_option("--index", o->index_dir, "index folder")->required();
  CLI::Option* min_score =
      cmd->add_option("--min-score", o->min_score,
                      "cosine similarity at or above which two images are near-duplicates, in "
                      "(0, 1] (default: the duplicate_min_score of the index's model, "
                      "xray-search-model.json, else 0.97)");
  cmd->add_flag("--json", o->json, "print JSON: {\"groups\":[{\"images\":[...],\"min_score\":S}]}");
  cmd->add_option("--sheet", o->sheet,
                  "also write a self-contained HTML contact sheet (thumbnails embedded) here");
  cmd->add_option("--data", o->data_dir,
                  "where the indexed images are (default: the folder recorded in the index)");
  cmd->add_option("--thumbnail-size", o->thumbnail_size, "contact sheet thumbnails, pixels")
      ->capture_default_str();
  cmd->callback([o, min_score, &exit_code] {
    o->has_min_score = min_score->count() > 0;
    exit_code = run_duplicates(*o);
  });
}

}  // namespace xrs::app
