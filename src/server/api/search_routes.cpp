// POST /api/search/{text,image,similar,embedding}: request validation, the backend call, the
// response document. docs/API.md ("Search") is the contract; every rejection names the field at
// fault.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <span>
#include <string>

#include "imaging/decode.h"
#include "server/api/handlers.h"

namespace xrs::api {
namespace {

using json = nlohmann::json;

constexpr std::string_view kFieldsText[] = {
    "query", "k", "offset", "min_score", "category", "collapse_duplicates", "raw_text"};
constexpr std::string_view kFieldsSimilar[] = {"id",        "k",        "offset",
                                               "min_score", "category", "collapse_duplicates"};
constexpr std::string_view kFieldsEmbedding[] = {"embedding", "k",        "offset",
                                                 "min_score", "category", "collapse_duplicates"};
constexpr std::string_view kFieldsCombined[] = {
    "terms", "k", "offset", "min_score", "category", "collapse_duplicates", "raw_text"};
constexpr std::string_view kTermFields[] = {"text", "id", "embedding", "weight"};
constexpr std::string_view kFieldsImage[] = {"file",      "k",        "offset",
                                             "min_score", "category", "collapse_duplicates"};

std::string collapse_message() {
  return "collapse_duplicates must be true, false or a cosine similarity in (0, 1], got ";
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

// A JSON value quoted in a message, cut short when long.
std::string shown(const json& value) {
  return clip_for_message(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string k_range_message() {
  return "k must be an integer between 1 and " + std::to_string(kMaxK) + ", got ";
}

std::string offset_range_message() {
  return "offset must be an integer between 0 and " + std::to_string(kMaxOffset) + ", got ";
}

StatusOr<json> parse_json_object(const HttpRequest& request, const RouterOptions& options,
                                 std::span<const std::string_view> allowed) {
  if (request.body.size() > options.max_json_bytes) {
    return Status::resource_exhausted("the request body is " + std::to_string(request.body.size()) +
                                      " bytes; JSON requests are limited to " +
                                      std::to_string(options.max_json_bytes) + " bytes");
  }
  if (request.body.empty()) {
    return Status::invalid_argument("the request body is empty; send a JSON object");
  }
  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    return Status::invalid_argument("the request body is not valid JSON: " + what);
  }
  if (!body.is_object()) {
    return Status::invalid_argument("the request body must be a JSON object, got " + shown(body));
  }
  // Unknown fields are rejected rather than ignored: a misspelt "min_scor" would otherwise
  // silently fall back to the default threshold.
  for (const auto& item : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      return Status::invalid_argument("unknown field '" + clip_for_message(item.key()) +
                                      "'; allowed fields: " + join(allowed));
    }
  }
  return body;
}

Status check_category(const SearchBackend& backend, const std::string& category) {
  if (category.empty()) {
    return Status::invalid_argument("category must not be empty (leave it out for all categories)");
  }
  if (!utf8_valid(category)) return Status::invalid_argument("category is not valid UTF-8");
  const BackendInfo info = backend.info();
  if (!info.categories.empty() && std::find(info.categories.begin(), info.categories.end(),
                                            category) == info.categories.end()) {
    std::string known;
    for (const auto& c : info.categories) known += (known.empty() ? "" : ", ") + c;
    return Status::invalid_argument("unknown category '" + clip_for_message(category) +
                                    "'; the index holds: " + known);
  }
  return Status::ok();
}

// k, offset, min_score and category of a JSON request (each optional; null means "the default").
Status read_json_options(const json& body, const SearchBackend& backend, SearchOptions& options) {
  if (auto it = body.find("k"); it != body.end() && !it->is_null()) {
    // Non-negative JSON integers parse as unsigned; negative ones, floats and the rest fail.
    const bool in_range = it->is_number_unsigned() && it->get<uint64_t>() >= 1 &&
                          it->get<uint64_t>() <= static_cast<uint64_t>(kMaxK);
    if (!in_range) return Status::invalid_argument(k_range_message() + shown(*it));
    options.k = static_cast<int>(it->get<uint64_t>());
  }
  if (auto it = body.find("offset"); it != body.end() && !it->is_null()) {
    const bool in_range =
        it->is_number_unsigned() && it->get<uint64_t>() <= static_cast<uint64_t>(kMaxOffset);
    if (!in_range) return Status::invalid_argument(offset_range_message() + shown(*it));
    options.offset = static_cast<int>(it->get<uint64_t>());
  }
  if (auto it = body.find("min_score"); it != body.end() && !it->is_null()) {
    const double s = it->is_number() ? it->get<double>() : NAN;
    if (!(s >= -1.0 && s <= 1.0)) {
      return Status::invalid_argument("min_score must be a number between -1 and 1, got " +
                                      shown(*it));
    }
    options.min_score = static_cast<float>(s);
  }
  if (auto it = body.find("category"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) {
      return Status::invalid_argument("category must be a string, got " + shown(*it));
    }
    options.category = it->get<std::string>();
    XRS_RETURN_IF_ERROR(check_category(backend, *options.category));
  }
  if (auto it = body.find("collapse_duplicates"); it != body.end() && !it->is_null()) {
    if (it->is_boolean()) {
      if (it->get<bool>()) options.collapse_duplicates = backend.info().duplicate_min_score;
    } else {
      const double t = it->is_number() ? it->get<double>() : NAN;
      if (!(t > 0.0 && t <= 1.0)) return Status::invalid_argument(collapse_message() + shown(*it));
      options.collapse_duplicates = static_cast<float>(t);
    }
  }
  return validate_search_options(options);
}

// raw_text of a text or combined request: a boolean (null: false).
Status read_raw_text(const json& body, SearchOptions& options) {
  if (auto it = body.find("raw_text"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return Status::invalid_argument("raw_text must be true or false, got " + shown(*it));
    }
    options.raw_text = it->get<bool>();
  }
  return Status::ok();
}

// A form field's k / offset / min_score: the whole text must be the number.
Status read_form_option(const FormPart& part, const SearchBackend& backend,
                        SearchOptions& options) {
  const std::string& v = part.content;
  const char* end = v.data() + v.size();
  if (part.name == "k") {
    int k = 0;
    auto [ptr, ec] = std::from_chars(v.data(), end, k);
    if (ec != std::errc() || ptr != end || k < 1 || k > kMaxK) {
      return Status::invalid_argument(k_range_message() + "'" + clip_for_message(v) + "'");
    }
    options.k = k;
  } else if (part.name == "offset") {
    int offset = 0;
    auto [ptr, ec] = std::from_chars(v.data(), end, offset);
    if (ec != std::errc() || ptr != end || offset < 0 || offset > kMaxOffset) {
      return Status::invalid_argument(offset_range_message() + "'" + clip_for_message(v) + "'");
    }
    options.offset = offset;
  } else if (part.name == "min_score") {
    double s = NAN;
    auto [ptr, ec] = std::from_chars(v.data(), end, s);
    if (ec != std::errc() || ptr != end || !(s >= -1.0 && s <= 1.0)) {
      return Status::invalid_argument("min_score must be a number between -1 and 1, got '" +
                                      clip_for_message(v) + "'");
    }
    options.min_score = static_cast<float>(s);
  } else if (part.name == "collapse_duplicates") {
    if (v == "true") {
      options.collapse_duplicates = backend.info().duplicate_min_score;
    } else if (v != "false") {
      double t = NAN;
      auto [ptr, ec] = std::from_chars(v.data(), end, t);
      if (ec != std::errc() || ptr != end || !(t > 0.0 && t <= 1.0)) {
        return Status::invalid_argument(collapse_message() + "'" + clip_for_message(v) + "'");
      }
      options.collapse_duplicates = static_cast<float>(t);
    }
  } else {  // category
    options.category = v;
    XRS_RETURN_IF_ERROR(check_category(backend, v));
  }
  return Status::ok();
}

HttpResponse search_result(const StatusOr<SearchResponse>& result, const SearchQueryEcho& query) {
  if (!result.is_ok()) return error_response(result.status());
  return json_text_response(search_response_json(*result, query));
}

// The audit facts every search shares: k, the category filter, how many results came back.
void audit_search(HttpResponse& response, const std::string& event, const SearchOptions& search,
                  const StatusOr<SearchResponse>* result) {
  response.audit.event = event;
  response.audit.add("k", int64_t{search.k});
  if (search.offset != 0) response.audit.add("offset", int64_t{search.offset});
  if (search.category) response.audit.add("category", *search.category);
  if (search.collapse_duplicates) {
    char threshold[16];
    std::snprintf(threshold, sizeof threshold, "%.4f", *search.collapse_duplicates);
    response.audit.add("collapse_duplicates", std::string(threshold));
  }
  if (result != nullptr && result->is_ok()) {
    response.audit.add("results", static_cast<int64_t>((*result)->results.size()));
  }
}

// A JSON array of numbers as floats: kInvalidArgument naming `what` and the position of the
// first value that is not a number or does not fit a float (the JSON parser already refuses
// NaN, Infinity and 1e400); the dimension and the rest are validate_query_embedding's.
StatusOr<std::vector<float>> read_embedding(const json& value, const std::string& what,
                                            size_t dim) {
  if (!value.is_array()) {
    return Status::invalid_argument(what + " must be an array of numbers, got " + shown(value));
  }
  std::vector<float> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const json& v = value[i];
    const double d = v.is_number() ? v.get<double>() : NAN;
    const float f = static_cast<float>(d);
    if (!std::isfinite(f)) {
      return Status::invalid_argument(what + "[" + std::to_string(i) +
                                      "] must be a finite number (float range), got " + shown(v));
    }
    out.push_back(f);
  }
  if (Status s = validate_query_embedding(out, dim); !s.is_ok()) {
    return Status::invalid_argument(what + ": " + s.message());
  }
  return out;
}

std::string_view image_type_name(std::span<const uint8_t> bytes) {
  switch (sniff_image_type(bytes)) {
    case ImageFileType::kPng:
      return "png";
    case ImageFileType::kJpeg:
      return "jpeg";
    case ImageFileType::kDicom:
      return "dicom";
    case ImageFileType::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace

HttpResponse handle_search_text(const SearchBackend& backend, const RouterOptions& options,
                                const HttpRequest& request) {
  auto body = parse_json_object(request, options, kFieldsText);
  if (!body.is_ok()) return error_response(body.status());
  auto it = body->find("query");
  if (it == body->end() || it->is_null()) {
    return error_response(
        Status::invalid_argument("missing field 'query' (the text to search for)"));
  }
  if (!it->is_string()) {
    return error_response(Status::invalid_argument("query must be a string, got " + shown(*it)));
  }
  const std::string& query = it->get_ref<const std::string&>();
  // The JSON parser already refuses ill-formed UTF-8; this guards the contract itself.
  if (!utf8_valid(query)) {
    return error_response(Status::invalid_argument("query is not valid UTF-8"));
  }
  if (std::all_of(query.begin(), query.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return error_response(Status::invalid_argument("query must not be empty"));
  }
  const size_t chars = utf8_length(query);
  if (chars > options.max_query_chars) {
    return error_response(Status::invalid_argument("query is " + std::to_string(chars) +
                                                   " characters long; the limit is " +
                                                   std::to_string(options.max_query_chars)));
  }
  SearchOptions search;
  if (Status s = read_json_options(*body, backend, search); !s.is_ok()) return error_response(s);
  if (Status s = read_raw_text(*body, search); !s.is_ok()) return error_response(s);
  const auto result = backend.search_text(query, search);
  HttpResponse response = search_result(result, SearchQueryEcho::of("text", search));
  response.log_detail = "query_chars=" + std::to_string(chars);
  audit_search(response, "search.text", search, &result);
  response.audit.add("text_chars", static_cast<int64_t>(chars));
  if (options.audit && options.audit->log_query_text()) response.audit.add("text", query);
  return response;
}

HttpResponse handle_search_similar(const SearchBackend& backend, const RouterOptions& options,
                                   const HttpRequest& request) {
  auto body = parse_json_object(request, options, kFieldsSimilar);
  if (!body.is_ok()) return error_response(body.status());
  auto it = body->find("id");
  if (it == body->end() || it->is_null()) {
    return error_response(Status::invalid_argument("missing field 'id' (an indexed image's id)"));
  }
  if (!it->is_number_integer() || (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
    return error_response(
        Status::invalid_argument("id must be a non-negative integer, got " + shown(*it)));
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX)) {
    return error_response(Status::not_found("no image with id " + shown(*it)));
  }
  const int64_t id = it->get<int64_t>();
  SearchOptions search;
  if (Status s = read_json_options(*body, backend, search); !s.is_ok()) return error_response(s);
  SearchQueryEcho echo = SearchQueryEcho::of("similar", search);
  echo.id = id;
  const auto result = backend.search_by_id(id, search);
  HttpResponse response = search_result(result, echo);
  audit_search(response, "search.similar", search, &result);
  response.audit.add("image_id", id);
  return response;
}

HttpResponse handle_search_embedding(const SearchBackend& backend, const RouterOptions& options,
                                     const HttpRequest& request) {
  auto body = parse_json_object(request, options, kFieldsEmbedding);
  if (!body.is_ok()) return error_response(body.status());
  auto it = body->find("embedding");
  if (it == body->end() || it->is_null()) {
    return error_response(Status::invalid_argument(
        "missing field 'embedding' (the query vector, an array of numbers)"));
  }
  auto embedding = read_embedding(*it, "embedding", backend.info().dim);
  if (!embedding.is_ok()) return error_response(embedding.status());
  SearchOptions search;
  if (Status s = read_json_options(*body, backend, search); !s.is_ok()) return error_response(s);
  const auto result = backend.search_vector(*embedding, search);
  HttpResponse response = search_result(result, SearchQueryEcho::of("embedding", search));
  audit_search(response, "search.embedding", search, &result);
  response.audit.add("dim", static_cast<int64_t>(embedding->size()));
  return response;
}

// One element of "terms": {"text"|"id"|"embedding": ..., "weight": w (default 1)}.
static StatusOr<QueryTerm> read_term(const json& value, size_t index, const SearchBackend& backend,
                                     const RouterOptions& options) {
  const std::string name = "terms[" + std::to_string(index) + "]";
  if (!value.is_object()) {
    return Status::invalid_argument(name + " must be an object, got " + shown(value));
  }
  int sources = 0;
  for (const auto& item : value.items()) {
    if (std::find(std::begin(kTermFields), std::end(kTermFields), item.key()) ==
        std::end(kTermFields)) {
      return Status::invalid_argument(name + ": unknown field '" + clip_for_message(item.key()) +
                                      "'; allowed fields: " + join(kTermFields));
    }
    if (item.key() != "weight") ++sources;
  }
  if (sources != 1) {
    return Status::invalid_argument(name + " must have exactly one of text, id, embedding");
  }
  QueryTerm term;
  if (auto it = value.find("weight"); it != value.end()) {
    const double w = it->is_number() ? it->get<double>() : NAN;
    if (!std::isfinite(static_cast<float>(w)) || w == 0.0) {
      return Status::invalid_argument(name + ".weight must be a finite number other than 0, got " +
                                      shown(*it));
    }
    term.weight = static_cast<float>(w);
  }
  if (auto it = value.find("text"); it != value.end()) {
    if (!it->is_string()) {
      return Status::invalid_argument(name + ".text must be a string, got " + shown(*it));
    }
    term.kind = QueryTerm::Kind::kText;
    term.text = it->get<std::string>();
    if (std::all_of(term.text.begin(), term.text.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
      return Status::invalid_argument(name + ".text must not be empty");
    }
    if (utf8_length(term.text) > options.max_query_chars) {
      return Status::invalid_argument(name + ".text is longer than " +
                                      std::to_string(options.max_query_chars) + " characters");
    }
  } else if (auto id = value.find("id"); id != value.end()) {
    if (!id->is_number_integer() || (!id->is_number_unsigned() && id->get<int64_t>() < 0)) {
      return Status::invalid_argument(name + ".id must be a non-negative integer, got " +
                                      shown(*id));
    }
    if (id->is_number_unsigned() && id->get<uint64_t>() > uint64_t(INT64_MAX)) {
      return Status::not_found(name + ": no image with id " + shown(*id));
    }
    term.kind = QueryTerm::Kind::kId;
    term.id = id->get<int64_t>();
  } else {
    term.kind = QueryTerm::Kind::kEmbedding;
    XRS_ASSIGN_OR_RETURN(term.embedding, read_embedding(value["embedding"], name + ".embedding",
                                                        backend.info().dim));
  }
  return term;
}

HttpResponse handle_search_combined(const SearchBackend& backend, const RouterOptions& options,
                                    const HttpRequest& request) {
  auto body = parse_json_object(request, options, kFieldsCombined);
  if (!body.is_ok()) return error_response(body.status());
  auto it = body->find("terms");
  if (it == body->end() || it->is_null()) {
    return error_response(Status::invalid_argument(
        "missing field 'terms' (an array of {\"text\"|\"id\"|\"embedding\", \"weight\"})"));
  }
  if (!it->is_array()) {
    return error_response(
        Status::invalid_argument("terms must be an array of objects, got " + shown(*it)));
  }
  if (it->empty()) {
    return error_response(
        Status::invalid_argument("the combination is empty: give at least one term"));
  }
  if (it->size() > kMaxTerms) {
    return error_response(Status::invalid_argument("terms has " + std::to_string(it->size()) +
                                                   " terms; the limit is " +
                                                   std::to_string(kMaxTerms)));
  }
  std::vector<QueryTerm> terms;
  for (size_t i = 0; i < it->size(); ++i) {
    auto term = read_term((*it)[i], i, backend, options);
    if (!term.is_ok()) return error_response(term.status());
    terms.push_back(std::move(term).value());
  }
  SearchOptions search;
  if (Status s = read_json_options(*body, backend, search); !s.is_ok()) return error_response(s);
  if (Status s = read_raw_text(*body, search); !s.is_ok()) return error_response(s);
  const auto result = backend.search_combined(terms, search);
  SearchQueryEcho echo = SearchQueryEcho::of("combined", search);
  echo.terms = terms.size();
  HttpResponse response = search_result(result, echo);
  audit_search(response, "search.combined", search, &result);
  response.audit.add("terms", static_cast<int64_t>(terms.size()));
  int64_t texts = 0;
  for (const QueryTerm& t : terms) texts += t.kind == QueryTerm::Kind::kText;
  response.audit.add("text_terms", texts);
  return response;
}

HttpResponse handle_search_image(const SearchBackend& backend, const RouterOptions& options,
                                 const HttpRequest& request) {
  size_t total = 0;
  for (const FormPart& part : request.form) total += part.content.size();
  if (total > options.max_upload_bytes) {
    return error_response(Status::resource_exhausted(
        "the upload is " + std::to_string(total) + " bytes; the limit is " +
        std::to_string(options.max_upload_bytes) + " bytes"));
  }
  const FormPart* file = nullptr;
  SearchOptions search;
  std::vector<std::string_view> seen;
  for (const FormPart& part : request.form) {
    if (std::find(std::begin(kFieldsImage), std::end(kFieldsImage), part.name) ==
        std::end(kFieldsImage)) {
      return error_response(Status::invalid_argument("unknown form field '" +
                                                     clip_for_message(part.name) +
                                                     "'; allowed fields: " + join(kFieldsImage)));
    }
    if (std::find(seen.begin(), seen.end(), part.name) != seen.end()) {
      return error_response(
          Status::invalid_argument("form field '" + part.name + "' is given more than once"));
    }
    seen.push_back(part.name);
    if (part.name == "file") {
      file = &part;
    } else if (!part.content.empty()) {  // an empty field (a form's blank input) means the default
      if (Status s = read_form_option(part, backend, search); !s.is_ok()) return error_response(s);
    }
  }
  if (file == nullptr) {
    return error_response(Status::invalid_argument(
        "missing form field 'file' (the query image, as multipart/form-data)"));
  }
  const std::string name = file->filename.empty()
                               ? "uploaded file"
                               : "uploaded file '" + clip_for_message(file->filename) + "'";
  if (file->content.empty()) return error_response(Status::invalid_argument(name + " is empty"));
  const auto bytes =
      std::span(reinterpret_cast<const uint8_t*>(file->content.data()), file->content.size());
  // A cheap header check first, so that a text file or a GIF is refused with the decoder's own
  // words before the backend spends anything on it.
  if (auto probe = probe_image(bytes); !probe.is_ok()) {
    return error_response(probe.status().with_context(name));
  }
  if (Status s = validate_search_options(search); !s.is_ok()) return error_response(s);
  auto result = backend.search_image(bytes, search);
  // Errors about the image itself (undecodable, damaged, too large) name the upload.
  const StatusCode code = result.status().code();
  const bool about_upload = code == StatusCode::kInvalidArgument ||
                            code == StatusCode::kCorruption || code == StatusCode::kUnsupported ||
                            code == StatusCode::kResourceExhausted;
  HttpResponse response =
      // The decoder process crashed, hung or ran out of memory on it (imaging/decoder_pool.h):
      // 422, the upload cannot be processed; the server itself is unharmed.
      is_decoder_failure(result.status())
          ? error_response(422, "image_decoder_failed",
                           result.status().with_context(name).message())
      : about_upload ? error_response(result.status().with_context(name))
                     : search_result(result, SearchQueryEcho::of("image", search));
  response.log_detail = "upload_bytes=" + std::to_string(file->content.size());
  // The upload's type and size only: never its name (it may be a patient's) or its bytes.
  audit_search(response, "search.image", search, &result);
  response.audit.add("upload_type", std::string(image_type_name(bytes)));
  response.audit.add("upload_bytes", static_cast<int64_t>(file->content.size()));
  return response;
}

}  // namespace xrs::api
