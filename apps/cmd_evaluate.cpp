// xray-search evaluate --index IDX [--index IDX2 ...] [--queries FILE] [--k 5] [--json]
//                      [--model M] [--group-column COL] [--duplicate-min-score S]
//                      [--keep-near-duplicates] [--image-only]
// Retrieval quality on the stored embeddings (nothing is embedded again but the text queries):
// image→image leave-one-out, text→image from per-category prompts or a JSONL file, metrics with
// chance baselines and bootstrap intervals, and suggested score thresholds. docs/EVALUATION.md.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <thread>

#include "clip/clip_model.h"
#include "clip/model_settings.h"
#include "clip/prompt_ensemble.h"
#include "common.h"
#include "core/disjoint_sets.h"
#include "dataset/config.h"
#include "dataset/csv.h"
#include "eval/metrics.h"
#include "eval/retrieval.h"
#include "evaluate_report.h"
#include "index/catalog.h"
#include "index/duplicates.h"
#include "index/index_reader.h"
#include "progress.h"
#include "service/clip_search_service.h"
#include "service/search_service.h"

namespace xrs::app {

namespace {

using ojson = nlohmann::ordered_json;
using eval::Metric;
using eval::Metrics;

// The prompt of a category's built-in text query.
constexpr char kBuiltinTemplate[] = "a {} x-ray";
// The share of relevant top-k results a suggested threshold keeps.
constexpr double kKeep = 0.95;

struct EvaluateOptions {
  std::vector<std::string> index_dirs;
  std::string queries;
  std::string model;
  std::string group_column;
  bool has_group_column = false;
  // Near-duplicate groups left out of their members' rankings: at --duplicate-min-score, else
  // at the model's duplicate_min_score; off without either, or with --keep-near-duplicates.
  double duplicate_min_score = 0;  // > 0: given
  bool keep_near_duplicates = false;
  int k = kDefaultK;
  int threads = 0;
  int bootstrap = 1000;
  uint64_t seed = 20261205;
  bool json = false;
  bool image_only = false;
  bool write_model_config = false;
  std::string report;
};

// A data problem (exit 1) or a usage problem (exit 2).
struct Failure {
  Status status;
  bool usage = false;
};

std::string setting(const CatalogInfo& info, const std::string& name) {
  auto it = info.settings.find(name);
  return it == info.settings.end() ? std::string() : it->second;
}

std::string apply_template(std::string_view tmpl, std::string_view category) {
  std::string out(tmpl);
  if (size_t at = out.find("{}"); at != std::string::npos) out.replace(at, 2, category);
  return out;
}

ojson metrics_json(const Metrics& m) {
  ojson j;
  for (size_t i = 0; i < eval::kMetricCount; ++i) {
    j[std::string(eval::metric_key(static_cast<Metric>(i)))] = m.v[i];
  }
  return j;
}

ojson summary_json(const eval::Summary& s) {
  ojson j;
  j["scored_queries"] = s.queries;
  j["skipped_queries"] = s.skipped;
  ojson macro = metrics_json(s.macro);
  ojson ci;
  for (size_t i = 0; i < eval::kMetricCount; ++i) {
    ci[std::string(eval::metric_key(static_cast<Metric>(i)))] = {s.macro_ci[i].low,
                                                                 s.macro_ci[i].high};
  }
  macro["ci95"] = ci;
  j["macro"] = macro;
  j["micro"] = metrics_json(s.micro);
  j["chance"] = metrics_json(s.macro_chance);
  j["bootstrap_samples"] = s.bootstrap_samples;
  ojson per = ojson::object(), per_chance = ojson::object(), per_n = ojson::object();
  for (const auto& [c, m] : s.per_category) per[c] = metrics_json(m);
  for (const auto& [c, m] : s.per_category_chance) per_chance[c] = metrics_json(m);
  for (const auto& [c, n] : s.per_category_queries) per_n[c] = n;
  j["per_category"] = per;
  j["per_category_chance"] = per_chance;
  j["per_category_queries"] = per_n;
  return j;
}

ojson threshold_json(const eval::TopScores& scores, float default_min_score) {
  const eval::ThresholdSuggestion t =
      eval::suggest_threshold(scores.relevant, scores.irrelevant, kKeep);
  ojson j;
  if (std::isnan(t.min_score)) {
    j["suggested_min_score"] = nullptr;
  } else {
    j["suggested_min_score"] = t.min_score;
  }
  j["keep"] = kKeep;
  j["relevant_kept"] = t.relevant_kept;
  j["irrelevant_passed"] = t.irrelevant_passed;
  j["relevant_count"] = t.relevant;
  j["irrelevant_count"] = t.irrelevant;
  j["default_min_score"] = default_min_score;
  // What the default would do to the same results.
  size_t kept = 0, passed = 0;
  for (float s : scores.relevant) kept += s >= default_min_score;
  for (float s : scores.irrelevant) passed += s >= default_min_score;
  j["default_relevant_kept"] =
      scores.relevant.empty() ? 0.0 : double(kept) / double(scores.relevant.size());
  j["default_irrelevant_passed"] =
      scores.irrelevant.empty() ? 0.0 : double(passed) / double(scores.irrelevant.size());
  // Histograms over a range rounded out to 0.05, bins of 0.01.
  float lo = 1, hi = -1;
  for (const auto* v : {&scores.relevant, &scores.irrelevant}) {
    for (float s : *v) {
      lo = std::min(lo, s);
      hi = std::max(hi, s);
    }
  }
  if (lo > hi) lo = hi = 0;
  const double low = std::floor(lo * 20.0) / 20.0;
  double high = std::ceil(hi * 20.0) / 20.0;
  if (high <= low) high = low + 0.05;
  const size_t bins =
      std::clamp<size_t>(static_cast<size_t>(std::lround((high - low) / 0.01)), 1, 200);
  const eval::Histogram r = eval::histogram(scores.relevant, low, high, bins);
  const eval::Histogram i = eval::histogram(scores.irrelevant, low, high, bins);
  j["histogram"] = {{"low", low}, {"high", high}, {"relevant", r.counts}, {"irrelevant", i.counts}};
  return j;
}

// What evaluate_index keeps besides the JSON, for the report.
struct IndexEvaluation {
  ojson doc;
  std::string model_path;  // where the model (and its settings file) is
  // For the report.
  std::vector<eval::QueryResult> image_results, text_results;
  std::vector<ImageRecord> rows;
  std::string data_dir;
};

// One line of the JSONL queries file, parsed.
struct UserQuery {
  int line = 0;
  std::string text;   // a text query, or
  std::string image;  // an indexed image's name (its stored embedding is the query)
  std::optional<int32_t> category;
  std::vector<size_t> rows;
  std::string relevant_desc;
};

StatusOr<std::vector<UserQuery>> read_queries(const std::string& path,
                                              const std::vector<std::string>& categories,
                                              const std::map<std::string, size_t>& row_by_name,
                                              const std::map<int64_t, size_t>& row_by_id) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(path + ": cannot open the queries file");
  std::vector<UserQuery> out;
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return Status::invalid_argument(where + "not valid JSON");
    if (!j.is_object()) return Status::invalid_argument(where + "each line must be a JSON object");
    UserQuery q;
    q.line = line_no;
    for (const auto& [key, value] : j.items()) {
      if (key != "text" && key != "image" && key != "relevant") {
        return Status::invalid_argument(where + "unknown key '" + key +
                                        "' (known: text, image, relevant)");
      }
    }
    if (j.contains("text") == j.contains("image")) {
      return Status::invalid_argument(where + "give exactly one of \"text\" and \"image\"");
    }
    if (j.contains("text")) {
      if (!j["text"].is_string() ||
          j["text"].get<std::string>().find_first_not_of(" \t") == std::string::npos) {
        return Status::invalid_argument(where + "\"text\" must be a non-empty string");
      }
      q.text = j["text"].get<std::string>();
    } else {
      if (!j["image"].is_string() || !row_by_name.contains(j["image"].get<std::string>())) {
        return Status::invalid_argument(where + "\"image\" must name an indexed image");
      }
      q.image = j["image"].get<std::string>();
    }
    if (!j.contains("relevant") || !j["relevant"].is_object() || j["relevant"].size() != 1) {
      return Status::invalid_argument(
          where + "\"relevant\" must be {\"category\": C} or {\"images\": [...]}");
    }
    const nlohmann::json& rel = j["relevant"];
    if (rel.contains("category")) {
      if (!rel["category"].is_string()) {
        return Status::invalid_argument(where + "\"category\" must be a string");
      }
      const std::string c = rel["category"].get<std::string>();
      auto it = std::find(categories.begin(), categories.end(), c);
      if (it == categories.end()) {
        std::string known;
        for (const std::string& k : categories) known += (known.empty() ? "" : ", ") + k;
        return Status::invalid_argument(where + "unknown category '" + c +
                                        "' (the index has: " + known + ")");
      }
      q.category = static_cast<int32_t>(it - categories.begin());
      q.relevant_desc = "category " + c;
    } else if (rel.contains("images")) {
      if (!rel["images"].is_array() || rel["images"].empty()) {
        return Status::invalid_argument(where +
                                        "\"images\" must be a non-empty array of names or ids");
      }
      for (const nlohmann::json& v : rel["images"]) {
        if (v.is_string() && row_by_name.contains(v.get<std::string>())) {
          q.rows.push_back(row_by_name.at(v.get<std::string>()));
        } else if (v.is_number_integer() && row_by_id.contains(v.get<int64_t>())) {
          q.rows.push_back(row_by_id.at(v.get<int64_t>()));
        } else {
          return Status::invalid_argument(where + "relevant image " + v.dump() +
                                          " is not in the index");
        }
      }
      q.relevant_desc = std::to_string(q.rows.size()) + " listed images";
    } else {
      return Status::invalid_argument(
          where + "\"relevant\" must be {\"category\": C} or {\"images\": [...]}");
    }
    out.push_back(std::move(q));
  }
  if (out.empty()) return Status::invalid_argument(path + ": no queries (the file is empty)");
  return out;
}

// Group keys per row from the dataset's metadata.csv column `column` ("": no group).
StatusOr<std::vector<std::string>> read_groups(const std::string& data_dir,
                                               const std::string& column,
                                               const std::vector<ImageRecord>& rows) {
  if (data_dir.empty()) {
    return Status::failed_precondition(
        "the index does not record its dataset folder, so the "
        "group column '" +
        column + "' cannot be read");
  }
  const std::string path = data_dir + "/" + std::string(kMetadataFileName);
  XRS_ASSIGN_OR_RETURN(CsvTable table, read_csv_file(path, path));
  const int col = table.column_index(column);
  const int name_col = table.column_index(kColumnImageName);
  if (col < 0 || name_col < 0) {
    return Status::invalid_argument(path + ": no column '" + column + "' (the group column)");
  }
  std::map<std::string, std::string> group_of;
  for (const CsvRecord& r : table.records) {
    group_of[r.fields[static_cast<size_t>(name_col)]] = r.fields[static_cast<size_t>(col)];
  }
  std::vector<std::string> out;
  for (const ImageRecord& r : rows) {
    auto it = group_of.find(r.image_name);
    out.push_back(it == group_of.end() ? std::string() : it->second);
  }
  return out;
}

ojson query_json(const eval::QueryResult& q, const UserQuery* user,
                 const std::map<int64_t, const ImageRecord*>& by_id) {
  ojson j;
  if (user != nullptr && !user->image.empty()) {
    j["image"] = user->image;
  } else {
    j["text"] = q.label;
  }
  if (!q.category.empty()) j["category"] = q.category;
  if (user != nullptr) j["line"] = user->line;
  j["relevant"] = q.relevant;
  j["candidates"] = q.candidates;
  if (q.relevant > 0) {
    j["p@1"] = q.metrics[Metric::kP1];
    j["p@k"] = q.metrics[Metric::kPk];
    j["r_precision"] = q.metrics[Metric::kRPrecision];
    j["map_at_r"] = q.metrics[Metric::kMapAtR];
    j["ap"] = q.metrics[Metric::kMap];
    j["rr"] = q.metrics[Metric::kMrr];
  }
  ojson top = ojson::array();
  for (size_t i = 0; i < q.top_ids.size(); ++i) {
    const ImageRecord* r = by_id.at(q.top_ids[i]);
    top.push_back({{"id", r->id},
                   {"image_name", r->image_name},
                   {"category", r->category},
                   {"score", q.top_scores[i]},
                   {"relevant", q.top_relevant[i] != 0}});
  }
  j["top"] = top;
  return j;
}

StatusOr<IndexEvaluation> evaluate_index(const std::string& index_dir, const EvaluateOptions& o,
                                         ProgressLine& progress) {
  const auto started = std::chrono::steady_clock::now();
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<Catalog> catalog,
                       Catalog::open(index_dir, Catalog::Mode::kReadOnly));
  XRS_ASSIGN_OR_RETURN(CatalogSnapshot snap, catalog->snapshot(true));
  catalog.reset();
  if (snap.rows.empty()) {
    return Status::failed_precondition(index_dir + ": the index has no images to evaluate");
  }
  if (snap.rows.size() < 2) {
    return Status::failed_precondition(index_dir +
                                       ": the index has 1 image; evaluation needs at least 2");
  }
  const EmbeddingSet& vectors = *snap.vectors;
  eval::Corpus corpus;
  corpus.dim = vectors.vectors.cols();
  corpus.vectors = {vectors.vectors.data(), vectors.vectors.rows() * vectors.vectors.cols()};
  corpus.ids = vectors.ids;
  std::map<std::string, int32_t> cat_index;
  for (const ImageRecord& r : snap.rows) cat_index.emplace(r.category, 0);
  for (auto& [name, i] : cat_index) {
    i = static_cast<int32_t>(corpus.category_names.size());
    corpus.category_names.push_back(name);
  }
  std::map<std::string, size_t> row_by_name;
  std::map<int64_t, size_t> row_by_id;
  std::map<int64_t, const ImageRecord*> record_by_id;
  for (size_t r = 0; r < snap.rows.size(); ++r) {
    corpus.category.push_back(cat_index.at(snap.rows[r].category));
    row_by_name.emplace(snap.rows[r].image_name, r);
    row_by_id.emplace(snap.rows[r].id, r);
    record_by_id.emplace(snap.rows[r].id, &snap.rows[r]);
  }

  // The grouping column: --group-column, else the dataset config's group_column.
  const std::string data_dir = setting(snap.info, kSettingDataDir);
  std::string group_column = o.group_column;
  if (!o.has_group_column && !data_dir.empty() && std::filesystem::exists(data_dir)) {
    StatusOr<DatasetConfig> config = load_dataset_config_for(data_dir);
    if (!config.is_ok()) return config.status();
    group_column = config->group_column;
  }
  std::vector<std::string> group_keys(snap.rows.size());
  size_t grouped = 0;
  if (!group_column.empty()) {
    XRS_ASSIGN_OR_RETURN(group_keys, read_groups(data_dir, group_column, snap.rows));
    for (const std::string& g : group_keys) grouped += !g.empty();
  }

  // The model's folder: its settings give the thresholds in force (and receive the suggested
  // ones with --write-model-config).
  std::string model_path = o.model;
  if (model_path.empty()) model_path = setting(snap.info, kSettingModelPath);
  if (model_path.empty()) model_path = default_model_path();
  XRS_ASSIGN_OR_RETURN(const ModelSettings model_settings, load_model_settings(model_path));

  // Near-duplicate groups (index/duplicates.h, one neighbour search per image) are left out of
  // their members' rankings like a patient's images: a repeat exposure of the query is no
  // evidence that the search finds the right X-ray. Joined with the column's groups (a chain
  // across both is one group). Only at a threshold meant for this model (given, or its
  // settings'): a fixed one can join most of a collection for a model whose embeddings of
  // distinct X-rays lie close together.
  std::vector<std::vector<size_t>> duplicate_rows;
  size_t duplicate_images = 0, largest_duplicate_group = 0;
  const float duplicate_min_score = o.keep_near_duplicates ? 0.0f
                                    : o.duplicate_min_score > 0.0
                                        ? static_cast<float>(o.duplicate_min_score)
                                        : model_settings.duplicate_min_score.value_or(0.0f);
  const bool near_duplicates = duplicate_min_score > 0.0f;
  if (near_duplicates) {
    XRS_ASSIGN_OR_RETURN(std::shared_ptr<const IndexReader> reader, IndexReader::open(index_dir));
    DuplicateOptions dopt;
    dopt.min_score = duplicate_min_score;
    XRS_ASSIGN_OR_RETURN(std::vector<DuplicateGroup> groups, find_duplicate_groups(*reader, dopt));
    for (const DuplicateGroup& g : groups) {
      std::vector<size_t> rows;
      for (int64_t id : g.ids) {
        if (auto it = row_by_id.find(id); it != row_by_id.end()) rows.push_back(it->second);
      }
      if (rows.size() < 2) continue;  // the index changed between the two reads
      duplicate_images += rows.size();
      largest_duplicate_group = std::max(largest_duplicate_group, rows.size());
      duplicate_rows.push_back(std::move(rows));
    }
  }
  if (grouped > 0 || !duplicate_rows.empty()) {
    const std::vector<size_t> label = link_components(group_keys, duplicate_rows);
    corpus.group.assign(label.begin(), label.end());
  }

  eval::RunOptions run;
  run.k = static_cast<size_t>(o.k);
  run.threads = o.threads > 0 ? o.threads
                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const auto run_started = std::chrono::steady_clock::now();
  run.progress = [&](size_t done, size_t total) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run_started).count();
    if (secs < 1.0 && done < total) return;
    if (secs < 1.0 && done == total && !progress.tty()) return;
    const std::string text = strfmt("evaluate: image→image %zu/%zu queries, %s", done, total,
                                    format_duration(secs).c_str());
    if (progress.tty()) {
      progress.draw(text, done == total);
    } else if (progress.plain_due(done == total)) {
      progress.print(text);
    }
  };
  XRS_ASSIGN_OR_RETURN(std::vector<eval::QueryResult> image_results,
                       eval::image_to_image(corpus, run));
  run.progress = nullptr;
  eval::SummaryOptions sopt;
  sopt.bootstrap_samples = static_cast<size_t>(o.bootstrap);
  sopt.seed = o.seed;

  ojson doc;
  doc["index"] = index_dir;
  doc["model"] = snap.info.model.name + " " + snap.info.model.weights_sha256.substr(0, 12);
  doc["precision"] = std::string(kernels::precision_name(recorded_precision(snap.info.model)));
  doc["images"] = snap.rows.size();
  doc["categories"] = corpus.category_names;
  doc["group_column"] = group_column.empty() ? ojson(nullptr) : ojson(group_column);
  doc["grouped_images"] = grouped;
  if (near_duplicates) {
    doc["near_duplicates"] = {
        {"min_score", duplicate_min_score},
        {"from", o.duplicate_min_score > 0.0 ? "--duplicate-min-score" : "model settings"},
        {"groups", duplicate_rows.size()},
        {"images", duplicate_images},
        {"largest_group", largest_duplicate_group}};
  } else {
    doc["near_duplicates"] = nullptr;
  }
  doc["k"] = o.k;
  ojson i2i = summary_json(eval::summarize(image_results, sopt));
  i2i["protocol"] = std::string("leave-one-out") +
                    (group_column.empty() && !near_duplicates ? ""
                     : group_column.empty() ? ", own near-duplicate group left out"
                     : !near_duplicates     ? ", own group left out"
                                            : ", own group and near-duplicates left out");
  doc["image_to_image"] = i2i;
  doc["model_settings"] = model_settings.path.empty() ? ojson(nullptr) : ojson(model_settings.path);

  std::vector<eval::QueryResult> text_results, ensemble_results;
  std::vector<UserQuery> user;
  ojson t2i;
  if (!o.image_only) {
    std::unique_ptr<ClipModel> model;
    auto need_model = [&]() -> Status {
      if (model) return Status::ok();
      // At the index's precision (part of the model identity; the text tower is float32 at
      // every precision, so the text queries are the same).
      ClipLoadOptions load;
      load.precision = recorded_precision(snap.info.model);
      StatusOr<std::unique_ptr<ClipModel>> m = ClipModel::load(model_path, load);
      if (!m.is_ok()) {
        return m.status().with_context(
            "loading the model for the text queries (--model, or "
            "--image-only to skip them)");
      }
      XRS_ASSIGN_OR_RETURN(ModelIdentity id, (*m)->identity());
      XRS_RETURN_IF_ERROR(check_same_model(snap.info.model, id).with_context(index_dir));
      model = std::move(m).value();
      return Status::ok();
    };
    if (!o.queries.empty()) {
      XRS_ASSIGN_OR_RETURN(user,
                           read_queries(o.queries, corpus.category_names, row_by_name, row_by_id));
    } else {
      XRS_RETURN_IF_ERROR(need_model());
    }
    // The text queries, embedded as typed (templates empty) or through a prompt ensemble: the
    // user's texts, else one per category (the built-in template, or the category name put
    // into each of the model's templates).
    auto text_queries = [&](const PromptEnsemble* ensemble) -> StatusOr<std::vector<eval::Query>> {
      std::vector<eval::Query> queries;
      if (!o.queries.empty()) {
        for (const UserQuery& u : user) {
          eval::Query q;
          if (!u.text.empty()) {
            XRS_RETURN_IF_ERROR(need_model());
            XRS_ASSIGN_OR_RETURN(q.embedding, ensemble != nullptr ? ensemble->embed(u.text)
                                                                  : model->embed_text(u.text));
            q.label = u.text;
          } else {
            const size_t row = row_by_name.at(u.image);
            const auto v = vectors.vectors.row(row);
            q.embedding.assign(v.begin(), v.end());
            q.exclude_row = row;
            q.label = u.image;
          }
          q.category = u.category;
          q.relevant_rows = u.rows;
          queries.push_back(std::move(q));
        }
        return queries;
      }
      for (size_t c = 0; c < corpus.category_names.size(); ++c) {
        eval::Query q;
        const std::string& name = corpus.category_names[c];
        if (ensemble == nullptr) {
          q.label = apply_template(kBuiltinTemplate, name);
          XRS_ASSIGN_OR_RETURN(q.embedding, model->embed_text(q.label));
        } else {
          q.label = name;
          XRS_ASSIGN_OR_RETURN(q.embedding, ensemble->embed(name));
        }
        q.category = static_cast<int32_t>(c);
        queries.push_back(std::move(q));
      }
      return queries;
    };
    auto text_section = [&](const std::vector<eval::QueryResult>& results) {
      ojson section;
      const ojson summary = summary_json(eval::summarize(results, sopt));
      for (auto it = summary.begin(); it != summary.end(); ++it) section[it.key()] = it.value();
      ojson list = ojson::array();
      for (size_t i = 0; i < results.size(); ++i) {
        list.push_back(query_json(results[i], user.empty() ? nullptr : &user[i], record_by_id));
      }
      section["queries"] = list;
      return section;
    };
    {
      XRS_ASSIGN_OR_RETURN(const std::vector<eval::Query> queries, text_queries(nullptr));
      XRS_ASSIGN_OR_RETURN(text_results, eval::run_queries(corpus, queries, run));
    }
    t2i["source"] = o.queries.empty() ? ojson("built-in prompts") : ojson(o.queries);
    if (o.queries.empty()) t2i["template"] = kBuiltinTemplate;
    t2i.update(text_section(text_results));
    doc["text_to_image"] = t2i;
    // The model's prompt ensemble (what search does with its text queries), side by side.
    const std::vector<std::string>& templates = model_settings.prompt_templates;
    const bool any_text =
        o.queries.empty() ||
        std::any_of(user.begin(), user.end(), [](const UserQuery& u) { return !u.text.empty(); });
    if (!templates.empty() && any_text) {
      XRS_RETURN_IF_ERROR(need_model());
      XRS_ASSIGN_OR_RETURN(const std::unique_ptr<PromptEnsemble> ensemble,
                           PromptEnsemble::create(*model, templates));
      XRS_ASSIGN_OR_RETURN(const std::vector<eval::Query> queries, text_queries(ensemble.get()));
      XRS_ASSIGN_OR_RETURN(ensemble_results, eval::run_queries(corpus, queries, run));
      ojson e;
      e["source"] = o.queries.empty() ? ojson("category names") : ojson(o.queries);
      e["templates"] = templates;
      e.update(text_section(ensemble_results));
      doc["text_to_image_ensemble"] = e;
    } else {
      doc["text_to_image_ensemble"] = nullptr;
    }
  } else {
    doc["text_to_image"] = nullptr;
    doc["text_to_image_ensemble"] = nullptr;
  }

  ojson thresholds;
  thresholds["top_k"] = o.k;
  if (!o.image_only) {
    thresholds["text"] =
        // Text search embeds through the ensemble when the model has templates.
        threshold_json(eval::top_scores(ensemble_results.empty() ? text_results : ensemble_results),
                       model_settings.text_min_score.value_or(kDefaultTextMinScore));
  } else {
    thresholds["text"] = nullptr;
  }
  thresholds["text_queries"] = o.image_only               ? ojson(nullptr)
                               : ensemble_results.empty() ? ojson("as typed")
                                                          : ojson("prompt ensemble");
  thresholds["image"] =
      threshold_json(eval::top_scores(image_results),
                     model_settings.image_min_score.value_or(kDefaultImageMinScore));
  thresholds["defaults_from"] = model_settings.text_min_score || model_settings.image_min_score
                                    ? ojson(model_settings.path)
                                    : ojson("built-in (0.25 text, 0.95 image)");
  doc["thresholds"] = thresholds;
  doc["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  IndexEvaluation out;
  out.doc = std::move(doc);
  out.model_path = model_path;
  out.image_results = std::move(image_results);
  out.text_results = std::move(text_results);
  out.rows = std::move(snap.rows);
  out.data_dir = data_dir;
  return out;
}

std::string fmt3(const ojson& v) {
  return v.is_number() ? strfmt("%.3f", v.get<double>()) : std::string("-");
}

void print_metrics_header(const char* first) {
  std::printf("  %-16s", first);
  for (size_t i = 0; i < eval::kMetricCount; ++i) {
    std::printf(" %13s", std::string(eval::metric_label(static_cast<Metric>(i))).c_str());
  }
  std::printf("\n");
}

void print_metrics_row(const std::string& name, const ojson& m, const ojson* ci = nullptr) {
  std::printf("  %-16s", name.c_str());
  for (size_t i = 0; i < eval::kMetricCount; ++i) {
    const std::string key(eval::metric_key(static_cast<Metric>(i)));
    std::printf(" %13s", fmt3(m[key]).c_str());
  }
  std::printf("\n");
  if (ci != nullptr) {
    std::printf("  %-16s", "  95% interval");
    for (size_t i = 0; i < eval::kMetricCount; ++i) {
      const std::string key(eval::metric_key(static_cast<Metric>(i)));
      const ojson& b = (*ci)[key];
      std::printf(" %13s", strfmt("%.3f-%.3f", b[0].get<double>(), b[1].get<double>()).c_str());
    }
    std::printf("\n");
  }
}

void print_section(const char* title, const ojson& s) {
  std::printf("\n%s: %zu queries scored", title, s["scored_queries"].get<size_t>());
  if (s["skipped_queries"].get<size_t>() > 0) {
    std::printf(" (%zu with nothing relevant left out)", s["skipped_queries"].get<size_t>());
  }
  std::printf("\n");
  print_metrics_header("");
  print_metrics_row("macro", s["macro"], &s["macro"]["ci95"]);
  print_metrics_row("  chance", s["chance"]);
  for (const auto& [c, m] : s["per_category"].items()) {
    print_metrics_row(c + " (" + std::to_string(s["per_category_queries"][c].get<size_t>()) + ")",
                      m);
  }
}

void print_thresholds(const char* kind, const ojson& t) {
  if (t.is_null()) return;
  std::printf("  %-6s", kind);
  if (t["suggested_min_score"].is_null()) {
    std::printf("no relevant result in any top k: no suggestion\n");
    return;
  }
  std::printf(
      "min score %.3f keeps %.0f%% of %zu relevant top-k results and lets through %.0f%% of %zu "
      "irrelevant ones (default %.2f: keeps %.0f%%, lets through %.0f%%)\n",
      t["suggested_min_score"].get<double>(), 100 * t["relevant_kept"].get<double>(),
      t["relevant_count"].get<size_t>(), 100 * t["irrelevant_passed"].get<double>(),
      t["irrelevant_count"].get<size_t>(), t["default_min_score"].get<double>(),
      100 * t["default_relevant_kept"].get<double>(),
      100 * t["default_irrelevant_passed"].get<double>());
}

void print_one(const ojson& d) {
  std::printf("index %s: %zu images, %zu categories, model %s (%s), k = %d\n",
              d["index"].get<std::string>().c_str(), d["images"].get<size_t>(),
              d["categories"].size(), d["model"].get<std::string>().c_str(),
              d["precision"].get<std::string>().c_str(), d["k"].get<int>());
  if (!d["group_column"].is_null()) {
    std::printf("groups: column '%s' (%zu images grouped): a query's own group is left out\n",
                d["group_column"].get<std::string>().c_str(), d["grouped_images"].get<size_t>());
  }
  if (!d["near_duplicates"].is_null()) {
    const ojson& n = d["near_duplicates"];
    std::printf(
        "near-duplicates: %zu groups of %zu images at cosine >= %.3f (%s): a query's "
        "near-duplicates are left out\n",
        n["groups"].get<size_t>(), n["images"].get<size_t>(), n["min_score"].get<double>(),
        n["from"].get<std::string>().c_str());
    if (4 * n["largest_group"].get<size_t>() > d["images"].get<size_t>()) {
      std::printf(
          "  warning: one near-duplicate group holds %zu of %zu images: %.3f is too low a "
          "threshold for this model (check with `xray-search duplicates --sheet`)\n",
          n["largest_group"].get<size_t>(), d["images"].get<size_t>(),
          n["min_score"].get<double>());
    }
  } else {
    std::printf(
        "near-duplicates: not left out (no threshold for this model: give "
        "--duplicate-min-score S or set duplicate_min_score in its xray-search-model.json)\n");
  }
  print_section("image → image (leave-one-out)", d["image_to_image"]);
  if (!d["text_to_image"].is_null()) {
    const ojson& t = d["text_to_image"];
    const std::string title =
        t.contains("template")
            ? "text → image (one query per category, \"" + t["template"].get<std::string>() + "\")"
            : "text → image (" + t["source"].get<std::string>() + ")";
    print_section(title.c_str(), t);
    std::printf("\n  %-40s %6s %6s %6s  %s\n", "query", "R", "P@k", "AP", "top result");
    for (const ojson& q : t["queries"]) {
      const std::string label = q.contains("text") ? q["text"].get<std::string>()
                                                   : "image " + q["image"].get<std::string>();
      std::string top = "-";
      if (!q["top"].empty()) {
        const ojson& h = q["top"][0];
        top = strfmt("%s (%s, %.3f)%s", h["image_name"].get<std::string>().c_str(),
                     h["category"].get<std::string>().c_str(), h["score"].get<double>(),
                     h["relevant"].get<bool>() ? "" : " irrelevant");
      }
      std::printf("  %-40s %6zu %6s %6s  %s\n", label.substr(0, 40).c_str(),
                  q["relevant"].get<size_t>(), fmt3(q.value("p@k", ojson())).c_str(),
                  fmt3(q.value("ap", ojson())).c_str(), top.c_str());
    }
  }
  if (d.contains("text_to_image_ensemble") && !d["text_to_image_ensemble"].is_null()) {
    const ojson& e = d["text_to_image_ensemble"];
    const std::string title = "text → image through the model's prompt ensemble (" +
                              std::to_string(e["templates"].size()) +
                              " templates, as search embeds text)";
    print_section(title.c_str(), e);
  }
  std::printf("\nthresholds (scores of the top %d results, keeping %.0f%% of the relevant):\n",
              d["k"].get<int>(), 100 * kKeep);
  print_thresholds("text", d["thresholds"]["text"]);
  print_thresholds("image", d["thresholds"]["image"]);
  std::printf("\n%.2f s\n", d["seconds"].get<double>());
}

// Several indexes: one column each.
void print_side_by_side(const std::vector<ojson>& docs) {
  std::printf("%-22s", "");
  for (size_t i = 0; i < docs.size(); ++i) std::printf(" %18s", strfmt("[%zu]", i + 1).c_str());
  std::printf("\n");
  auto row = [&](const std::string& name, auto&& cell) {
    std::printf("%-22s", name.c_str());
    for (const ojson& d : docs) std::printf(" %18s", cell(d).c_str());
    std::printf("\n");
  };
  row("images", [](const ojson& d) { return std::to_string(d["images"].get<size_t>()); });
  for (const char* section : {"image_to_image", "text_to_image", "text_to_image_ensemble"}) {
    const std::string name = section;
    if (name == "text_to_image_ensemble" &&
        std::none_of(docs.begin(), docs.end(), [](const ojson& d) {
          return d.contains("text_to_image_ensemble") && !d["text_to_image_ensemble"].is_null();
        })) {
      continue;
    }
    std::printf("%s\n", name == "image_to_image"  ? "image → image, macro"
                        : name == "text_to_image" ? "text → image, macro"
                                                  : "text → image, prompt ensemble, macro");
    for (size_t i = 0; i < eval::kMetricCount; ++i) {
      const std::string key(eval::metric_key(static_cast<Metric>(i)));
      row("  " + std::string(eval::metric_label(static_cast<Metric>(i))), [&](const ojson& d) {
        const ojson& s = d[section];
        if (s.is_null() || s["scored_queries"].get<size_t>() == 0) return std::string("-");
        return strfmt("%.3f (%.3f)", s["macro"][key].get<double>(), s["chance"][key].get<double>());
      });
    }
  }
  std::printf("suggested min score\n");
  for (const char* kind : {"text", "image"}) {
    row(std::string("  ") + kind, [&](const ojson& d) {
      const ojson& t = d["thresholds"][kind];
      if (t.is_null() || t["suggested_min_score"].is_null()) return std::string("-");
      return strfmt("%.3f", t["suggested_min_score"].get<double>());
    });
  }
  std::printf("(chance in parentheses)\n");
  for (size_t i = 0; i < docs.size(); ++i) {
    std::printf("[%zu] %s: model %s, %s\n", i + 1, docs[i]["index"].get<std::string>().c_str(),
                docs[i]["model"].get<std::string>().c_str(),
                docs[i]["precision"].get<std::string>().c_str());
  }
}

// --write-model-config: the suggested thresholds into the model's settings file.
Status write_model_config(const IndexEvaluation& e) {
  const ojson& t = e.doc["thresholds"];
  auto suggested = [](const ojson& x) {
    return x.is_null() || x["suggested_min_score"].is_null()
               ? std::numeric_limits<float>::quiet_NaN()
               : x["suggested_min_score"].get<float>();
  };
  const float text = suggested(t["text"]), image = suggested(t["image"]);
  if (std::isnan(text) && std::isnan(image)) {
    return Status::failed_precondition("no threshold to write: no relevant result in any top k");
  }
  ojson evaluation = {
      {"index", e.doc["index"]}, {"images", e.doc["images"]}, {"k", e.doc["k"]}, {"keep", kKeep}};
  if (!t["text"].is_null()) evaluation["text_irrelevant_passed"] = t["text"]["irrelevant_passed"];
  evaluation["image_irrelevant_passed"] = t["image"]["irrelevant_passed"];
  XRS_RETURN_IF_ERROR(write_model_thresholds(e.model_path, text, image, evaluation.dump()));
  std::fprintf(stderr, "xray-search: wrote %s (text_min_score %s, image_min_score %s)\n",
               model_settings_path(e.model_path).c_str(),
               std::isnan(text) ? "unchanged" : strfmt("%.4f", text).c_str(),
               std::isnan(image) ? "unchanged" : strfmt("%.4f", image).c_str());
  return Status::ok();
}

int run_evaluate(const EvaluateOptions& o) {
  if (o.write_model_config && o.index_dirs.size() != 1) {
    return report_error(Status::invalid_argument("--write-model-config needs exactly one --index"),
                        true);
  }
  if (!o.report.empty() && o.index_dirs.size() != 1) {
    return report_error(Status::invalid_argument("--report needs exactly one --index"), true);
  }
  ProgressLine progress(std::chrono::seconds(5));
  std::vector<ojson> docs;
  for (const std::string& dir : o.index_dirs) {
    StatusOr<IndexEvaluation> e = evaluate_index(dir, o, progress);
    if (!e.is_ok()) return report_error(e.status());
    if (o.write_model_config) {
      if (Status s = write_model_config(*e); !s.is_ok()) return report_error(s);
    }
    if (!o.report.empty()) {
      ReportInput in;
      in.doc = &e->doc;
      in.image_results = &e->image_results;
      in.text_results = &e->text_results;
      in.rows = &e->rows;
      in.data_dir = e->data_dir;
      if (Status s = write_evaluation_report(o.report, in); !s.is_ok()) return report_error(s);
      std::fprintf(stderr, "xray-search: wrote %s/report.html\n", o.report.c_str());
    }
    docs.push_back(std::move(e->doc));
  }
  progress.finish();
  if (o.json) {
    ojson out;
    if (docs.size() == 1) {
      out = docs[0];
    } else {
      out["indexes"] = docs;
    }
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (docs.size() == 1) {
    print_one(docs[0]);
  } else {
    print_side_by_side(docs);
  }
  return kExitOk;
}

}  // namespace

void setup_evaluate(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<EvaluateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Measure retrieval quality on an index's stored embeddings: image→image leave-one-out and "
      "text→image queries, P@1/P@k/R-precision/MAP@R/mAP/MRR with chance baselines, suggested "
      "score thresholds (docs/EVALUATION.md)");
  cmd->add_option("--index", o->index_dirs, "index folder; repeat to compare several side by side")
      ->required();
  cmd->add_option(
      "--queries", o->queries,
      "JSONL text queries, one a line: {\"text\": \"...\", \"relevant\": {\"category\": "
      "\"hand\"}} or {\"relevant\": {\"images\": [names or ids]}} (default: one "
      "built-in prompt per category)");
  cmd->add_option("--k,-k", o->k, "the k of P@k and of the top results judged for thresholds")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--model,-m", o->model,
                  "model for the text queries (default: the one the index records)");
  CLI::Option* group = cmd->add_option(
      "--group-column", o->group_column,
      "metadata.csv column grouping images (patient/study id); default: the dataset config's "
      "group_column; \"\" for none");
  CLI::Option* duplicate_min_score =
      cmd->add_option("--duplicate-min-score", o->duplicate_min_score,
                      "near-duplicates (cosine >= S) are left out of each other's image→image "
                      "rankings (default: the model's duplicate_min_score; none: not left out)")
          ->check(CLI::Validator(
              [](const std::string& text) -> std::string {
                double v = NAN;
                auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
                const bool ok =
                    ec == std::errc() && ptr == text.data() + text.size() && v > 0.0 && v <= 1.0;
                return ok ? std::string() : "must be a cosine similarity in (0, 1], got " + text;
              },
              "in (0, 1]"));
  cmd->add_flag("--keep-near-duplicates", o->keep_near_duplicates,
                "rank near-duplicates of the query like any other image, whatever the model's "
                "duplicate_min_score")
      ->excludes(duplicate_min_score);
  cmd->add_option("--threads", o->threads, "ranking threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--bootstrap", o->bootstrap, "bootstrap samples for the 95% intervals (0: none)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "the bootstrap's random seed")->capture_default_str();
  cmd->add_flag("--image-only", o->image_only, "image→image only (no model is loaded)");
  cmd->add_option("--report", o->report,
                  "write DIR/report.html: a self-contained page with the tables, score histograms "
                  "and the top results of a few queries per category as thumbnails");
  cmd->add_flag("--write-model-config", o->write_model_config,
                "write the suggested thresholds (text_min_score, image_min_score) into the model "
                "folder's xray-search-model.json, used by search and serve as their defaults");
  cmd->add_flag("--json", o->json, "print JSON (docs/EVALUATION.md describes the document)");
  cmd->callback([o, group, &exit_code] {
    o->has_group_column = group->count() > 0;
    exit_code = run_evaluate(*o);
  });
}

}  // namespace xrs::app
