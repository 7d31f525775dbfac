// POST /api/search/{text,image,similar,embedding,combined}: request validation, the backend call,
// the response document. docs/API.md ("Search") is the contract; every rejection names the field at
// fault.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

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
constexpr std::string_view kTermFields[] = {"text", "id", "embedding", "upload", "weight"};
// The form field of a multipart combined request that holds its JSON document.
constexpr std::string_view kCombinedQueryField = "query";
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

// `text` as a JSON object with only `allowed` fields; `what` names it in messages ("the request
// body", "form field 'query'").
StatusOr<json> parse_json_text(std::string_view text, const std::string& what,
                               const RouterOptions& options,
                               std::span<const std::string_view> allowed) {
  if (text.size() > options.max_json_bytes) {
    return Status::resource_exhausted(what + " is " + std::to_string(text.size()) +
                                      " bytes; JSON requests are limited to " +
                                      std::to_string(options.max_json_bytes) + " bytes");
  }
  if (text.empty()) return Status::invalid_argument(what + " is empty; send a JSON object");
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string error = e.what();
    if (auto pos = error.find("] "); pos != std::string::npos) error.erase(0, pos + 2);
    return Status::invalid_argument(what + " is not valid JSON: " + error);
  }
  if (!body.is_object()) {
    return Status::invalid_argument(what + " must be a JSON object, got " + shown(body));
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

StatusOr<json> parse_json_object(const HttpRequest& request, const RouterOptions& options,
                                 std::span<const std::string_view> allowed) {
  return parse_json_text(request.body, "the request body", options, allowed);
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

// Uploads (POST /api/search/image, and the file parts of a multipart combined query).

// All the parts of a multipart request together against max_upload_bytes.
Status check_upload_size(const HttpRequest& request, const RouterOptions& options) {
  size_t total = 0;
  for (const FormPart& part : request.form) total += part.content.size();
  if (total > options.max_upload_bytes) {
    return Status::resource_exhausted("the upload is " + std::to_string(total) +
                                      " bytes; the limit is " +
                                      std::to_string(options.max_upload_bytes) + " bytes");
  }
  return Status::ok();
}

// How messages name an uploaded file: by its file name when it has one (never logged or
// audited: it may be a patient's).
std::string upload_name(const FormPart& file) {
  return file.filename.empty() ? "uploaded file"
                               : "uploaded file '" + clip_for_message(file.filename) + "'";
}

// A file part's bytes as a query image: refused (naming it as `name`) when empty, or when its
// header is not an image that is read; a cheap check, so that a text file or a GIF is refused
// with the decoder's own words before the backend spends anything on it.
StatusOr<std::span<const uint8_t>> read_upload(const FormPart& file, const std::string& name) {
  if (file.content.empty()) return Status::invalid_argument(name + " is empty");
  const auto bytes =
      std::span(reinterpret_cast<const uint8_t*>(file.content.data()), file.content.size());
  if (auto probe = probe_image(bytes); !probe.is_ok()) return probe.status().with_context(name);
  return bytes;
}

// The response to a search with an uploaded image. Errors about the image itself (undecodable,
// damaged, too large) are 4xx with `context` (the upload, when known) in front; the decoder
// process crashing, hanging or running out of memory on it (imaging/decoder_pool.h) is 422, the
// upload cannot be processed, and the server itself is unharmed.
HttpResponse upload_search_result(const StatusOr<SearchResponse>& result,
                                  const SearchQueryEcho& echo, const std::string& context) {
  const Status& status = result.status();
  const auto with_context = [&] { return context.empty() ? status : status.with_context(context); };
  if (is_decoder_failure(status)) {
    return error_response(422, "image_decoder_failed", with_context().message());
  }
  const StatusCode code = status.code();
  const bool about_upload = code == StatusCode::kInvalidArgument ||
                            code == StatusCode::kCorruption || code == StatusCode::kUnsupported ||
                            code == StatusCode::kResourceExhausted;
  if (about_upload) return error_response(with_context());
  return search_result(result, echo);
}

// The type and size of uploads for the audit line (never their names or bytes).
void audit_uploads(HttpResponse& response, std::span<const std::span<const uint8_t>> uploads) {
  int64_t bytes = 0;
  std::string types;
  for (const auto& upload : uploads) {
    bytes += static_cast<int64_t>(upload.size());
    if (!types.empty()) types += ',';
    types += image_type_name(upload);
  }
  response.log_detail = "upload_bytes=" + std::to_string(bytes);
  response.audit.add("upload_type", types);
  response.audit.add("upload_bytes", bytes);
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

// The file parts of a multipart combined query (every part but "query"), by name; null for a
// JSON body.
using UploadParts = std::vector<const FormPart*>;

// One element of "terms": {"text"|"id"|"embedding"|"upload": ..., "weight": w (default 1)}. An
// upload term names a file part of `uploads` (null: the request is JSON and has none); its part
// is returned in `upload`.
static StatusOr<QueryTerm> read_term(const json& value, size_t index, const SearchBackend& backend,
                                     const RouterOptions& options, const UploadParts* uploads,
                                     const FormPart*& upload) {
  const std::string name = "terms[" + std::to_string(index) + "]";
  upload = nullptr;
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
    return Status::invalid_argument(name +
                                    " must have exactly one of text, id, embedding, upload, got " +
                                    std::to_string(sources));
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
  } else if (auto up = value.find("upload"); up != value.end()) {
    if (!up->is_string()) {
      return Status::invalid_argument(
          name + ".upload must be the name of a file part (a string), got " + shown(*up));
    }
    const std::string& part_name = up->get_ref<const std::string&>();
    if (uploads == nullptr) {
      return Status::invalid_argument(
          name +
          ".upload needs a multipart/form-data request: send the JSON document as the form "
          "field 'query' and the image as a file part named '" +
          clip_for_message(part_name) + "'");
    }
    for (const FormPart* part : *uploads) {
      if (part->name == part_name) upload = part;
    }
    if (upload == nullptr) {
      std::string parts;
      for (const FormPart* part : *uploads) {
        parts += (parts.empty() ? "'" : ", '") + clip_for_message(part->name) + "'";
      }
      return Status::invalid_argument(
          name + ".upload names no file part of the request: '" + clip_for_message(part_name) +
          "' (its file parts: " + (parts.empty() ? std::string("none") : parts) + ")");
    }
    auto bytes = read_upload(*upload, upload_name(*upload));
    if (!bytes.is_ok()) return bytes.status().with_context(name);
    term.kind = QueryTerm::Kind::kImage;
    term.image_bytes = upload->content;
  } else {
    term.kind = QueryTerm::Kind::kEmbedding;
    XRS_ASSIGN_OR_RETURN(term.embedding, read_embedding(value["embedding"], name + ".embedding",
                                                        backend.info().dim));
  }
  return term;
}

// The JSON document of a combined query: the body, or the form field "query" of a multipart
// request, whose other parts are the files that upload terms name (`uploads`).
static StatusOr<json> read_combined_request(const HttpRequest& request,
                                            const RouterOptions& options, bool multipart,
                                            UploadParts& uploads) {
  if (!multipart) return parse_json_object(request, options, kFieldsCombined);
  XRS_RETURN_IF_ERROR(check_upload_size(request, options));
  const FormPart* query = nullptr;
  std::vector<std::string_view> seen;
  for (const FormPart& part : request.form) {
    if (std::find(seen.begin(), seen.end(), part.name) != seen.end()) {
      return Status::invalid_argument("form field '" + clip_for_message(part.name) +
                                      "' is given more than once");
    }
    seen.push_back(part.name);
    if (part.name == kCombinedQueryField) {
      query = &part;
    } else {
      uploads.push_back(&part);
    }
  }
  if (query == nullptr) {
    return Status::invalid_argument(
        "missing form field 'query' (the JSON document: {\"terms\": [...], \"k\": ...}, with "
        "{\"upload\": \"<file part name>\", \"weight\": w} terms for the uploaded images)");
  }
  return parse_json_text(query->content, "form field 'query'", options, kFieldsCombined);
}

HttpResponse handle_search_combined(const SearchBackend& backend, const RouterOptions& options,
                                    const HttpRequest& request) {
  const bool multipart =
      istarts_with(request.header("Content-Type").value_or(""), "multipart/form-data");
  UploadParts uploads;
  auto body = read_combined_request(request, options, multipart, uploads);
  if (!body.is_ok()) return error_response(body.status());
  auto it = body->find("terms");
  if (it == body->end() || it->is_null()) {
    return error_response(Status::invalid_argument(
        "missing field 'terms' (an array of {\"text\"|\"id\"|\"embedding\"|\"upload\", "
        "\"weight\"})"));
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
  std::vector<const FormPart*> term_uploads;  // per term: its file part, or null
  for (size_t i = 0; i < it->size(); ++i) {
    const FormPart* upload = nullptr;
    auto term = read_term((*it)[i], i, backend, options, multipart ? &uploads : nullptr, upload);
    if (!term.is_ok()) return error_response(term.status());
    terms.push_back(std::move(term).value());
    term_uploads.push_back(upload);
  }
  // A file that no term uses is a mistake (a misspelt name, or a term left out), not extra data.
  for (const FormPart* part : uploads) {
    if (std::find(term_uploads.begin(), term_uploads.end(), part) == term_uploads.end()) {
      return error_response(Status::invalid_argument(
          "form field '" + clip_for_message(part->name) +
          "' is not used by any term (name it in a term as {\"upload\": \"" +
          clip_for_message(part->name) + "\"}; options such as k go in the 'query' document)"));
    }
  }
  SearchOptions search;
  if (Status s = read_json_options(*body, backend, search); !s.is_ok()) return error_response(s);
  if (Status s = read_raw_text(*body, search); !s.is_ok()) return error_response(s);
  const auto result = backend.search_combined(terms, search);
  SearchQueryEcho echo = SearchQueryEcho::of("combined", search);
  echo.terms = terms.size();
  std::vector<std::span<const uint8_t>> upload_bytes;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (term_uploads[i] == nullptr) continue;
    echo.uploads.push_back({i, term_uploads[i]->name, terms[i].weight});
    const std::string& content = term_uploads[i]->content;
    upload_bytes.emplace_back(reinterpret_cast<const uint8_t*>(content.data()), content.size());
  }
  // The service names a failing term "term N" (1-based); an upload's is "terms[N-1].upload".
  std::string context;
  if (!result.is_ok() && result.status().message().starts_with("term ")) {
    const std::string& m = result.status().message();
    size_t n = 0;
    auto [ptr, ec] = std::from_chars(m.data() + 5, m.data() + m.size(), n);
    if (ec == std::errc() && n >= 1 && n <= terms.size() && term_uploads[n - 1] != nullptr) {
      context = "terms[" + std::to_string(n - 1) + "].upload '" +
                clip_for_message(term_uploads[n - 1]->name) + "' (" +
                upload_name(*term_uploads[n - 1]) + ")";
    }
  }
  HttpResponse response = upload_bytes.empty() ? search_result(result, echo)
                                               : upload_search_result(result, echo, context);
  audit_search(response, "search.combined", search, &result);
  response.audit.add("terms", static_cast<int64_t>(terms.size()));
  int64_t texts = 0;
  for (const QueryTerm& t : terms) texts += t.kind == QueryTerm::Kind::kText;
  response.audit.add("text_terms", texts);
  if (!upload_bytes.empty()) {
    response.audit.add("upload_terms", static_cast<int64_t>(upload_bytes.size()));
    audit_uploads(response, upload_bytes);
  }
  return response;
}

HttpResponse handle_search_image(const SearchBackend& backend, const RouterOptions& options,
                                 const HttpRequest& request) {
  if (Status s = check_upload_size(request, options); !s.is_ok()) return error_response(s);
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
  const std::string name = upload_name(*file);
  auto bytes = read_upload(*file, name);
  if (!bytes.is_ok()) return error_response(bytes.status());
  if (Status s = validate_search_options(search); !s.is_ok()) return error_response(s);
  auto result = backend.search_image(*bytes, search);
  HttpResponse response = upload_search_result(result, SearchQueryEcho::of("image", search), name);
  // The upload's type and size only: never its name (it may be a patient's) or its bytes.
  audit_search(response, "search.image", search, &result);
  audit_uploads(response, std::span(&*bytes, 1));
  return response;
}

}  // namespace xrs::api
