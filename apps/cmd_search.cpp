// xray-search search --index IDX (--text Q | --image FILE | --id N | --embedding FILE |
//                                 --term [W:]TERM ...) [--k 5]
// [--offset N]
// [--min-score S]
//                    [--category C] [--include-self] [--collapse-duplicates[=S]] [--model M]
//                    [--json]
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common.h"
#include "core/file_util.h"
#include "embedding_file.h"
#include "service/clip_search_service.h"
#include "service/search_json.h"

namespace xrs::app {

namespace {

struct SearchCmdOptions {
  std::string precision;
  std::string index_dir;
  std::string model;
  std::string text;
  std::string image;
  std::string embedding;
  std::vector<std::string> terms;
  int64_t id = -1;
  int k = kDefaultK;
  int offset = 0;
  double min_score = NAN;
  // Which options were given (an empty --text or a NaN --min-score is given, and refused).
  bool has_text = false, has_image = false, has_id = false, has_embedding = false,
       has_terms = false, has_min_score = false;
  std::string category;
  bool include_self = false;
  std::string collapse;  // --collapse-duplicates[=S]: "" for the default threshold
  bool has_collapse = false;
  bool raw_text = false;
  bool json = false;
};

void print_table(const SearchResponse& r, bool collapsed) {
  if (r.results.empty()) {
    std::printf("no image scored at or above %.3f (try a lower --min-score)\n", r.min_score);
    return;
  }
  std::printf("%-4s  %-6s  %-8s  %-32s  %s%s\n", "rank", "score", "category", "image",
              collapsed ? "hidden  " : "", "path");
  for (const SearchHit& h : r.results) {
    std::printf("%-4d  %.4f  %-8s  %-32s  ", h.rank, h.score, h.category.c_str(),
                h.image_name.c_str());
    if (collapsed) std::printf("%-6d  ", h.duplicates_hidden);
    std::printf("%s\n", h.path.c_str());
  }
}

// --collapse-duplicates[=S]: nullopt without a value (the model's threshold, known once the
// service is open).
StatusOr<std::optional<float>> parse_collapse(const std::string& text) {
  if (text.empty()) return std::optional<float>();
  double t = NAN;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
  if (ec != std::errc() || ptr != text.data() + text.size() || !(t > 0.0 && t <= 1.0)) {
    return Status::invalid_argument(
        "--collapse-duplicates must be a cosine similarity in (0, 1], "
        "got '" +
        text + "'");
  }
  return std::optional<float>(static_cast<float>(t));
}

// One --term: [WEIGHT:]SOURCE, SOURCE one of text:T, image:FILE, id:N, embedding:FILE, or bare:
// an existing file (.npy/.json: an embedding, else an image) or else a text. A WEIGHT is a
// number (negative subtracts), recognised when what precedes the first ':' starts like one.
StatusOr<QueryTerm> parse_term(const std::string& spec) {
  const std::string what = "--term '" + spec + "': ";
  QueryTerm term;
  std::string rest = spec;
  if (const size_t colon = rest.find(':'); colon != std::string::npos && colon > 0) {
    const std::string w = rest.substr(0, colon);
    if (std::isdigit(static_cast<unsigned char>(w[0])) || w[0] == '-' || w[0] == '+' ||
        w[0] == '.') {
      const char* begin = w.data() + (w[0] == '+' ? 1 : 0);
      double weight = NAN;
      auto [ptr, ec] = std::from_chars(begin, w.data() + w.size(), weight);
      if (ec != std::errc() || ptr != w.data() + w.size() ||
          !std::isfinite(static_cast<float>(weight)) || weight == 0.0) {
        return Status::invalid_argument(what + "malformed weight '" + w +
                                        "' (a finite number other than 0)");
      }
      term.weight = static_cast<float>(weight);
      rest = rest.substr(colon + 1);
    }
  }
  auto strip = [&](std::string_view prefix) {
    if (!rest.starts_with(prefix)) return false;
    rest = rest.substr(prefix.size());
    return true;
  };
  auto load_embedding = [&](const std::string& path) -> Status {
    term.kind = QueryTerm::Kind::kEmbedding;
    XRS_ASSIGN_OR_RETURN(term.embedding, read_embedding_file(path));
    return Status::ok();
  };
  auto load_image = [&](const std::string& path) -> Status {
    term.kind = QueryTerm::Kind::kImage;
    XRS_ASSIGN_OR_RETURN(term.image_bytes, read_file(path, uint64_t(1) << 30));
    return Status::ok();
  };
  if (strip("text:")) {
    term.kind = QueryTerm::Kind::kText;
    term.text = rest;
  } else if (strip("id:")) {
    term.kind = QueryTerm::Kind::kId;
    int64_t id = -1;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    if (ec != std::errc() || ptr != rest.data() + rest.size() || id < 0) {
      return Status::invalid_argument(what + "the id must be a non-negative integer");
    }
    term.id = id;
  } else if (strip("embedding:")) {
    XRS_RETURN_IF_ERROR(load_embedding(rest));
  } else if (strip("image:")) {
    XRS_RETURN_IF_ERROR(load_image(rest));
  } else if (std::error_code ec; std::filesystem::is_regular_file(rest, ec)) {
    if (rest.ends_with(".npy") || rest.ends_with(".json")) {
      XRS_RETURN_IF_ERROR(load_embedding(rest));
    } else {
      XRS_RETURN_IF_ERROR(load_image(rest));
    }
  } else {
    term.kind = QueryTerm::Kind::kText;
    term.text = rest;
  }
  return term;
}

int run_search(const SearchCmdOptions& o) {
  const int queries = o.has_text + o.has_image + o.has_id + o.has_embedding + o.has_terms;
  if (queries != 1) {
    return report_error(
        Status::invalid_argument("give exactly one of --text, --image, --id, --embedding, --term"),
        true);
  }
  std::vector<QueryTerm> terms;
  for (const std::string& spec : o.terms) {
    StatusOr<QueryTerm> t = parse_term(spec);
    if (!t.is_ok()) return report_error(t.status(), true);
    terms.push_back(std::move(t).value());
  }
  SearchOptions options;
  options.k = o.k;
  options.offset = o.offset;
  if (o.has_min_score) options.min_score = static_cast<float>(o.min_score);
  if (!o.category.empty()) options.category = o.category;
  options.exclude_self = !o.include_self;
  bool collapse_default = false;
  if (o.has_collapse) {
    StatusOr<std::optional<float>> t = parse_collapse(o.collapse);
    if (!t.is_ok()) return report_error(t.status(), true);
    // Checked with the other options now; the model's own threshold replaces it below.
    options.collapse_duplicates = t->value_or(kDefaultDuplicateMinScore);
    collapse_default = !t->has_value();
  }
  options.raw_text = o.raw_text;
  if (Status s = validate_search_options(options); !s.is_ok()) return report_error(s, true);

  SearchServiceOptions service_options;
  service_options.index_dir = o.index_dir;
  service_options.model_path = o.model;
  StatusOr<std::optional<kernels::Precision>> precision = parse_precision_option(o.precision);
  if (!precision.is_ok()) return report_error(precision.status(), true);
  service_options.precision = *precision;
  StatusOr<std::unique_ptr<SearchService>> service = SearchService::open(service_options);
  if (!service.is_ok()) return report_error(service.status());
  if (collapse_default) options.collapse_duplicates = (*service)->info().duplicate_min_score;

  StatusOr<SearchResponse> response = Status::internal("no query");
  std::string kind;
  if (o.has_text) {
    kind = "text";
    response = (*service)->search_text(o.text, options);
  } else if (o.has_image) {
    kind = "image";
    StatusOr<std::string> bytes = read_file(o.image, uint64_t(1) << 30);
    if (!bytes.is_ok()) return report_error(bytes.status());
    response = (*service)->search_image(
        {reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()}, options);
    if (!response.is_ok()) return report_error(response.status().with_context(o.image));
  } else if (o.has_terms) {
    kind = "combined";
    response = (*service)->search_combined(terms, options);
  } else if (o.has_embedding) {
    kind = "embedding";
    StatusOr<std::vector<float>> e = read_embedding_file(o.embedding);
    if (!e.is_ok()) return report_error(e.status(), true);
    response = (*service)->search_vector(*e, options);
    if (!response.is_ok()) return report_error(response.status().with_context(o.embedding), true);
  } else {
    kind = "similar";
    response = (*service)->search_by_id(o.id, options);
  }
  if (!response.is_ok()) return report_error(response.status());
  if (o.json) {
    SearchQueryEcho echo = SearchQueryEcho::of(kind, options);
    if (o.has_terms) echo.terms = terms.size();
    std::printf("%s\n", search_response_json(*response, echo, 2).c_str());
  } else {
    if (response->prompt_templates > 0) {
      std::printf("text embedded through the model's %d prompt templates (--raw-text: as typed)\n",
                  response->prompt_templates);
    }
    if (!response->min_score_rule.empty()) {
      std::printf("minimum score %.3f: %s\n", response->min_score,
                  response->min_score_rule.c_str());
    }
    print_table(*response, options.collapse_duplicates.has_value());
  }
  return kExitOk;
}

}  // namespace

void setup_search(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SearchCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "search", "Find the indexed images most similar to a text or an image (cosine, top-k)");
  cmd->add_option("--index", o->index_dir, "index folder")->required();
  CLI::Option* text = cmd->add_option("--text,-t", o->text, "a text query");
  CLI::Option* image = cmd->add_option("--image,-i", o->image, "an image query (PNG, JPEG, DICOM)");
  CLI::Option* id = cmd->add_option("--id", o->id, "query with an indexed image's id");
  CLI::Option* embedding = cmd->add_option(
      "--embedding", o->embedding,
      "query with an embedding computed elsewhere: a .npy (float32/64, shape (d,) or (1,d)) or a "
      "JSON array (or an `embed` output line); default --min-score: the image threshold");
  cmd->add_option("--k,-k", o->k, "number of results (1-20)")
      ->check(CLI::Range(1, kMaxK))
      ->capture_default_str();
  cmd->add_option("--offset", o->offset,
                  "skip this many of the best results (paging: page n of size k is offset n*k)")
      ->check(CLI::Range(0, kMaxOffset))
      ->capture_default_str();
  CLI::Option* term = cmd->add_option(
      "--term", o->terms,
      "a combined query's term, repeated: [WEIGHT:]text:T | image:FILE | id:N | embedding:FILE, "
      "or a bare file (image; .npy/.json: embedding) or text, e.g. --term '2:hand x-ray' --term "
      "q.png --term=-1:cast (write --term=-W:... for negative weights); the weighted sum of "
      "normalised embeddings, renormalised; id terms are left out of the results");
  CLI::Option* min_score =
      cmd->add_option("--min-score", o->min_score,
                      "lowest cosine similarity returned (default: the model folder's "
                      "xray-search-model.json thresholds, else 0.25 for text, 0.95 for images)")
          ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--category,-c", o->category, "only this category");
  cmd->add_flag("--include-self", o->include_self,
                "keep the query image in the results when it is itself indexed");
  CLI::Option* collapse =
      cmd->add_option(
             "--collapse-duplicates", o->collapse,
             "hide near-duplicates of a result shown above (cosine >= S; default: the model's "
             "duplicate_min_score in xray-search-model.json, else 0.97); "
             "each result counts what it hides; --k/--offset page the collapsed ranking")
          ->expected(0, 1);
  cmd->add_flag("--raw-text", o->raw_text,
                "embed the text as typed, not through the model's prompt templates "
                "(prompt_templates in xray-search-model.json)");
  cmd->add_option("--model,-m", o->model, "model (default: the one the index was built with)");
  add_precision_option(*cmd, o->precision, "default: the one the index was built with");
  cmd->add_flag("--json", o->json, "print JSON (the HTTP API's search response)");
  cmd->callback([=, &exit_code] {
    o->has_text = text->count() > 0;
    o->has_image = image->count() > 0;
    o->has_id = id->count() > 0;
    o->has_embedding = embedding->count() > 0;
    o->has_terms = term->count() > 0;
    o->has_min_score = min_score->count() > 0;  // NaN passes CLI::Range; the service refuses it
    o->has_collapse = collapse->count() > 0;
    exit_code = run_search(*o);
  });
}

}  // namespace xrs::app
