// POST /api/search/{text,image,similar} through ApiRouter: the response document, every
// validation rule, and the mapping of backend failures to HTTP statuses.
#include <zlib.h>

#include "router_fixture.h"

namespace xrs::testing {
namespace {

TEST_F(RouterTest, TextSearchReturnsRankedResults) {
  HttpResponse r = search_text(R"({"query":"chest x-ray"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_EQ(r.log_detail, "query_chars=11");
  json j = body_json(r);
  ASSERT_TRUE(j["results"].is_array());
  ASSERT_FALSE(j["results"].empty());
  EXPECT_LE(j["results"].size(), 5u);
  EXPECT_EQ(j["min_score"], 0.25);
  EXPECT_TRUE(j["took_ms"].is_number());
  EXPECT_EQ(j["query"], json({{"type", "text"}, {"k", 5}, {"offset", 0}, {"category", nullptr}}));
  double previous = 2;
  int rank = 1;
  for (const auto& hit : j["results"]) {
    EXPECT_EQ(hit["rank"], rank++);
    const int64_t id = hit["id"];
    EXPECT_EQ(hit["url"], "/api/images/" + std::to_string(id));
    EXPECT_EQ(hit["preview_url"], "/api/images/" + std::to_string(id) + "/preview");
    EXPECT_TRUE(hit["image_name"].is_string());
    EXPECT_TRUE(hit["category"].is_string());
    EXPECT_TRUE(hit["path"].is_string());
    EXPECT_EQ(hit["source_url"], "https://example.org/" + hit["image_name"].get<std::string>());
    const double score = hit["score"];
    EXPECT_GE(score, 0.25);
    EXPECT_LE(score, previous);
    previous = score;
  }
  EXPECT_EQ(backend_->last_query(), "chest x-ray");
}

TEST_F(RouterTest, TextSearchPassesOptionsThrough) {
  HttpResponse r = search_text(R"({"query":"chest","k":2,"min_score":-0.5,"category":"dental"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(j["results"].size(), 2u);
  for (const auto& hit : j["results"]) EXPECT_EQ(hit["category"], "dental");
  EXPECT_EQ(j["min_score"], -0.5);
  EXPECT_EQ(j["query"]["k"], 2);
  EXPECT_EQ(j["query"]["category"], "dental");
  SearchOptions seen = backend_->last_options();
  EXPECT_EQ(seen.k, 2);
  EXPECT_EQ(seen.min_score, -0.5f);
  EXPECT_EQ(seen.category, "dental");

  // null means "the default".
  ASSERT_EQ(search_text(R"({"query":"chest","k":null,"min_score":null,"category":null})").status,
            200);
  seen = backend_->last_options();
  EXPECT_EQ(seen.k, kDefaultK);
  EXPECT_FALSE(seen.min_score);
  EXPECT_FALSE(seen.category);
  EXPECT_EQ(seen.offset, 0);
  // offset pages through the ranking and is echoed.
  r = search_text(R"({"query":"chest","k":3,"offset":6})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["query"]["offset"], 6);
  EXPECT_EQ(backend_->last_options().offset, 6);
  EXPECT_EQ(search_text(R"({"query":"q","offset":10000})").status, 200);
  // raw_text (text and combined queries) reaches the backend and is echoed; it must be a boolean.
  EXPECT_FALSE(backend_->last_options().raw_text);
  r = search_text(R"({"query":"chest","raw_text":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(backend_->last_options().raw_text);
  EXPECT_EQ(body_json(r)["query"]["raw_text"], true);
  ASSERT_EQ(search_text(R"({"query":"chest","raw_text":false})").status, 200);
  EXPECT_FALSE(backend_->last_options().raw_text);
  EXPECT_FALSE(body_json(search_text(R"({"query":"chest"})"))["query"].contains("raw_text"));
  for (const char* v : {"1", R"("yes")", "[true]"}) {
    expect_error(search_text(std::string(R"({"query":"a","raw_text":)") + v + "}"), 400,
                 "invalid_argument", "raw_text must be true or false");
  }
  r = handle(
      json_request("/api/search/combined", R"({"terms":[{"text":"chest"}],"raw_text":true})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(backend_->last_options().raw_text);
  expect_error(handle(json_request("/api/search/similar", R"({"id":0,"raw_text":true})")), 400,
               "invalid_argument", "unknown field 'raw_text'");
  // Boundaries are inclusive.
  EXPECT_EQ(search_text(R"({"query":"q","k":1,"min_score":1})").status, 200);
  EXPECT_EQ(search_text(R"({"query":"q","k":20,"min_score":-1})").status, 200);
}

TEST_F(RouterTest, EmptyResultIsStill200) {
  HttpResponse r = search_text(R"({"query":"chest","min_score":0.999})");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(body_json(r)["results"].empty());
  EXPECT_EQ(body_json(r)["min_score"], 0.999);
}

TEST_F(RouterTest, TextSearchRejectsMalformedBodies) {
  expect_error(search_text(""), 400, "invalid_argument", "empty");
  expect_error(search_text("{\"query\": "), 400, "invalid_argument", "not valid JSON");
  expect_error(search_text("query=chest"), 400, "invalid_argument", "not valid JSON");
  expect_error(search_text(R"({"query":"a",})"), 400, "invalid_argument", "not valid JSON");
  expect_error(search_text(R"({"query":"a","k":NaN})"), 400, "invalid_argument", "not valid JSON");
  expect_error(search_text(R"(["chest"])"), 400, "invalid_argument", "JSON object");
  expect_error(search_text(R"("chest")"), 400, "invalid_argument", "JSON object");
  expect_error(search_text(R"({"query":"a","min_scor":0.1})"), 400, "invalid_argument",
               "unknown field 'min_scor'");
}

TEST_F(RouterTest, TextSearchValidatesTheQuery) {
  expect_error(search_text("{}"), 400, "invalid_argument", "missing field 'query'");
  expect_error(search_text(R"({"query":null})"), 400, "invalid_argument", "missing field 'query'");
  expect_error(search_text(R"({"query":""})"), 400, "invalid_argument", "must not be empty");
  expect_error(search_text(R"({"query":" \t\n "})"), 400, "invalid_argument", "must not be empty");
  expect_error(search_text(R"({"query":42})"), 400, "invalid_argument", "must be a string");
  expect_error(search_text(R"({"query":["a"]})"), 400, "invalid_argument", "must be a string");
  // Ill-formed UTF-8, raw or as a lone surrogate escape.
  expect_error(search_text("{\"query\":\"ch\xff\xfe"
                           "est\"}"),
               400, "invalid_argument");
  expect_error(search_text("{\"query\":\"\xc0\xaf\"}"), 400, "invalid_argument");
  expect_error(search_text(R"({"query":"\ud800"})"), 400, "invalid_argument");
  EXPECT_EQ(backend_->search_count(), 0) << "nothing invalid reaches the backend";
}

TEST_F(RouterTest, TextSearchLimitsQueryLengthInCharacters) {
  auto query_of = [](const std::string& text) { return json({{"query", text}}).dump(); };
  EXPECT_EQ(search_text(query_of(std::string(1000, 'a'))).status, 200);
  expect_error(search_text(query_of(std::string(1001, 'a'))), 400, "invalid_argument",
               "1001 characters long; the limit is 1000");
  std::string three_byte;  // 1000 × U+00E9-style two-byte and U+2603 three-byte characters
  for (int i = 0; i < 1000; ++i) three_byte += "\xe2\x98\x83";
  EXPECT_EQ(search_text(query_of(three_byte)).status, 200) << "the limit counts code points";
  expect_error(search_text(query_of(three_byte + "x")), 400, "invalid_argument", "1001");

  make_router(with<RouterOptions>([](auto& o) { o.max_json_bytes = 200; }));
  expect_error(search_text(query_of(std::string(300, 'a'))), 413, "resource_exhausted",
               "limited to 200 bytes");
}

TEST_F(RouterTest, TextSearchValidatesOptionTypesAndRanges) {
  const char* bad_k[] = {R"("5")", "5.5", "5.0", "0", "21", "-1", "1e30", "99999999999999999999",
                         "true",   "[5]"};
  for (const char* k : bad_k) {
    expect_error(search_text(std::string(R"({"query":"a","k":)") + k + "}"), 400,
                 "invalid_argument", "k must be an integer between 1 and 20");
  }
  for (const char* offset : {R"("5")", "5.5", "-1", "10001", "1e30", "true", "[0]"}) {
    expect_error(search_text(std::string(R"({"query":"a","offset":)") + offset + "}"), 400,
                 "invalid_argument", "offset must be an integer between 0 and 10000");
  }
  for (const char* s : {"1.5", "-2", R"("0.3")", "true", "1e400"}) {
    HttpResponse r = search_text(std::string(R"({"query":"a","min_score":)") + s + "}");
    EXPECT_EQ(r.status, 400) << s << " " << r.body;
  }
  expect_error(search_text(R"({"query":"a","category":5})"), 400, "invalid_argument",
               "category must be a string");
  expect_error(search_text(R"({"query":"a","category":""})"), 400, "invalid_argument",
               "must not be empty");
  expect_error(search_text(R"({"query":"a","category":"skull"})"), 400, "invalid_argument",
               "unknown category 'skull'; the index holds: chest, dental, hand");
  EXPECT_EQ(backend_->search_count(), 0);
}

TEST_F(RouterTest, TextSearchNeedsJsonContentType) {
  HttpRequest r = json_request("/api/search/text", R"({"query":"a"})");
  r.headers = {{"Content-Type", "text/plain"}};
  expect_error(handle(r), 415, "unsupported_media_type", "application/json");
  r.headers.clear();
  expect_error(handle(r), 415, "unsupported_media_type", "none was given");
  r.headers = {{"content-type", "Application/JSON; charset=utf-8"}};
  EXPECT_EQ(handle(r).status, 200);
}

TEST_F(RouterTest, BackendFailuresMapToStatuses) {
  const std::vector<std::pair<Status, int>> cases = {
      {Status::failed_precondition("the model has no tokenizer"), 503},
      {Status::invalid_argument("bad"), 400},
      {Status::not_found("gone"), 404},
      {Status::unsupported("nope"), 415},
      {Status::resource_exhausted("too big"), 413},
      {Status::io_error("disk"), 500},
      {Status::internal("bug"), 500},
      {Status::unavailable("later"), 503},
  };
  for (const auto& [status, http] : cases) {
    backend_->fail_searches_with(status);
    HttpResponse r = search_text(R"({"query":"chest"})");
    expect_error(r, http, std::string(status_code_name(status.code())), status.message());
  }
}

TEST_F(RouterTest, ImageSearchReturnsResults) {
  HttpResponse r = handle(form_request({file_part(png_bytes(32, 32))}));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(j["min_score"], 0.95);
  EXPECT_EQ(j["query"]["type"], "image");
  EXPECT_FALSE(j["results"].empty());
  EXPECT_NE(r.log_detail.find("upload_bytes="), std::string::npos);

  r = handle(form_request({field("k", "2"), field("min_score", "0"), field("category", "chest"),
                           file_part(jpeg_bytes(20, 20), "q.jpg")}));
  ASSERT_EQ(r.status, 200) << r.body;
  j = body_json(r);
  EXPECT_EQ(j["results"].size(), 2u);
  for (const auto& hit : j["results"]) EXPECT_EQ(hit["category"], "chest");
  EXPECT_EQ(j["min_score"], 0.0);

  // Empty fields, as a browser form sends them, mean the defaults.
  r = handle(form_request(
      {field("k", ""), field("min_score", ""), field("category", ""), file_part(png_bytes(8, 8))}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().k, kDefaultK);
  EXPECT_FALSE(backend_->last_options().category);
}

TEST_F(RouterTest, ImageSearchValidatesTheForm) {
  const std::string png = png_bytes(8, 8);
  expect_error(handle(form_request({})), 400, "invalid_argument", "missing form field 'file'");
  expect_error(handle(form_request({field("k", "3")})), 400, "invalid_argument", "'file'");
  expect_error(handle(form_request({file_part("")})), 400, "invalid_argument", "is empty");
  expect_error(handle(form_request({file_part(png), file_part(png)})), 400, "invalid_argument",
               "more than once");
  expect_error(handle(form_request({file_part(png), field("image", "x")})), 400, "invalid_argument",
               "unknown form field 'image'");
  for (const char* k : {"abc", "5.0", "0", "21", "-3", " 5", "5 ", "99999999999"}) {
    expect_error(handle(form_request({file_part(png), field("k", k)})), 400, "invalid_argument",
                 "k must be an integer");
  }
  for (const char* offset : {"abc", "-1", "10001", "2.0", " 1"}) {
    expect_error(handle(form_request({file_part(png), field("offset", offset)})), 400,
                 "invalid_argument", "offset must be an integer");
  }
  for (const char* s : {"nan", "NaN", "inf", "-inf", "2", "-1.01", "0.5x", "x"}) {
    expect_error(handle(form_request({file_part(png), field("min_score", s)})), 400,
                 "invalid_argument", "min_score");
  }
  expect_error(handle(form_request({file_part(png), field("category", "skull")})), 400,
               "invalid_argument", "unknown category");
  expect_error(handle(form_request({file_part(png), field("category", "\xff")})), 400,
               "invalid_argument", "UTF-8");
  EXPECT_EQ(backend_->search_count(), 0);
}

TEST_F(RouterTest, ImageSearchRejectsNonImagesWithTheDecodersMessage) {
  expect_error(handle(form_request({file_part("hello, this is text", "notes.png")})), 400,
               "invalid_argument", "uploaded file 'notes.png': not an image");
  expect_error(handle(form_request({file_part("GIF89a\x01\x00\x01\x00\x00\x00\x00", "a.gif")})),
               415, "unsupported", "uploaded file 'a.gif'");
  // A PNG whose header is fine but whose data is cut short: the decoder (in the backend) says so.
  const std::string png = png_bytes(64, 64);
  HttpResponse truncated =
      handle(form_request({file_part(png.substr(0, png.size() / 2), "cut.png")}));
  EXPECT_EQ(truncated.status, 400) << truncated.body;
  EXPECT_NE(truncated.body.find("uploaded file 'cut.png'"), std::string::npos) << truncated.body;
  const std::string jpeg = jpeg_bytes(64, 64);
  HttpResponse cut_jpeg = handle(form_request({file_part(jpeg.substr(0, 40), "cut.jpg")}));
  EXPECT_GE(cut_jpeg.status, 400);
  EXPECT_LT(cut_jpeg.status, 500) << cut_jpeg.body;
}

TEST_F(RouterTest, ImageSearchRefusesDecompressionBombsBeforeDecoding) {
  // A valid 1x1 PNG whose header then claims 100,000 x 100,000 pixels (CRC fixed up).
  std::string png = png_bytes(1, 1);
  for (int offset : {16, 20}) {
    png[offset] = 0;
    png[offset + 1] = 0x01;
    png[offset + 2] = static_cast<char>(0x86);
    png[offset + 3] = static_cast<char>(0xA0);
  }
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
  expect_error(handle(form_request({file_part(png, "bomb.png")})), 413, "resource_exhausted",
               "uploaded file 'bomb.png'");
  EXPECT_EQ(backend_->search_count(), 0);
}

TEST_F(RouterTest, ImageSearchLimitsUploadSize) {
  make_router(with<RouterOptions>([](auto& o) { o.max_upload_bytes = 1000; }));
  expect_error(handle(form_request({file_part(std::string(1001, 'x'))})), 413, "resource_exhausted",
               "the limit is 1000 bytes");
  HttpRequest wrong_type = form_request({file_part(png_bytes(8, 8))});
  wrong_type.headers = {{"Content-Type", "application/json"}};
  expect_error(handle(wrong_type), 415, "unsupported_media_type", "multipart/form-data");
}

// POST /api/search/combined as multipart/form-data: the JSON document in the form field "query",
// the images as file parts that {"upload": "<part name>"} terms name.
HttpRequest combined_form(const std::string& query, std::vector<FormPart> files) {
  std::vector<FormPart> parts = {field("query", query)};
  for (FormPart& f : files) parts.push_back(std::move(f));
  HttpRequest r = form_request(std::move(parts));
  r.path = "/api/search/combined";
  return r;
}
FormPart named_file(std::string name, std::string bytes, std::string filename = "q.png") {
  return {std::move(name), std::move(filename), "image/png", std::move(bytes)};
}

TEST_F(RouterTest, CombinedSearchWithUploadedImages) {
  const std::string png = png_bytes(40, 30);
  const std::string jpeg = jpeg_bytes(24, 24);
  HttpResponse r = handle(
      combined_form(R"({"terms":[{"text":"chest x-ray","weight":2},{"upload":"img","weight":-0.5},)"
                    R"({"upload":"second"},{"id":1}],"k":3})",
                    {named_file("img", png, "film.png"), named_file("second", jpeg, "other.jpg")}));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(j["query"]["type"], "combined");
  EXPECT_EQ(j["query"]["terms"], 4);
  EXPECT_EQ(j["query"]["k"], 3);
  EXPECT_EQ(j["query"]["uploads"], json::parse(R"([{"term":1,"upload":"img","weight":-0.5},)"
                                               R"({"term":2,"upload":"second","weight":1.0}])"));
  EXPECT_EQ(j["min_score_rule"], "the text default, as a term is text");
  EXPECT_LE(j["results"].size(), 3u);
  // Neither the bytes nor the file names come back.
  EXPECT_EQ(r.body.find("PNG"), std::string::npos);
  EXPECT_EQ(r.body.find("film.png"), std::string::npos);
  // The backend got the uploads' bytes as image terms, in the terms' order and weights.
  const std::vector<QueryTerm> terms = backend_->last_terms();
  ASSERT_EQ(terms.size(), 4u);
  EXPECT_EQ(terms[0].kind, QueryTerm::Kind::kText);
  EXPECT_EQ(terms[0].weight, 2.0f);
  EXPECT_EQ(terms[1].kind, QueryTerm::Kind::kImage);
  EXPECT_EQ(terms[1].image_bytes, png);
  EXPECT_EQ(terms[1].weight, -0.5f);
  EXPECT_EQ(terms[2].kind, QueryTerm::Kind::kImage);
  EXPECT_EQ(terms[2].image_bytes, jpeg);
  EXPECT_EQ(terms[3].kind, QueryTerm::Kind::kId);
  EXPECT_EQ(backend_->last_options().k, 3);
  // Audited by type and size, never by name.
  EXPECT_EQ(r.audit.event, "search.combined");
  auto member = [&](const std::string& name) -> std::variant<int64_t, std::string, bool> {
    for (const auto& [key, value] : r.audit.members) {
      if (key == name) return value;
    }
    return false;
  };
  EXPECT_EQ(std::get<int64_t>(member("upload_terms")), 2);
  EXPECT_EQ(std::get<std::string>(member("upload_type")), "png,jpeg");
  EXPECT_EQ(std::get<int64_t>(member("upload_bytes")), int64_t(png.size() + jpeg.size()));
  EXPECT_EQ(r.log_detail, "upload_bytes=" + std::to_string(png.size() + jpeg.size()));

  // Image terms alone: the image default threshold; one part may serve two terms.
  r = handle(combined_form(R"({"terms":[{"upload":"a"},{"upload":"a","weight":0.5}]})",
                           {named_file("a", png)}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["min_score_rule"], "the image default, as no term is text");
  EXPECT_EQ(body_json(r)["query"]["uploads"].size(), 2u);

  // A JSON body is answered as before: no "uploads" in the echo.
  r = handle(json_request("/api/search/combined", R"({"terms":[{"text":"chest"}]})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(body_json(r)["query"].contains("uploads"));
}

TEST_F(RouterTest, CombinedSearchUploadErrorsNameTheField) {
  const std::string png = png_bytes(16, 16);
  const int before = backend_->search_count();
  auto form = [&](const std::string& query, std::vector<FormPart> files) {
    return handle(combined_form(query, std::move(files)));
  };
  expect_error(form(R"({"terms":[{"upload":"img"}]})", {named_file("image", png)}), 400,
               "invalid_argument",
               "terms[0].upload names no file part of the request: 'img' (its file parts: "
               "'image')");
  expect_error(form(R"({"terms":[{"text":"chest"},{"upload":"a"}]})", {}), 400, "invalid_argument",
               "terms[1].upload names no file part of the request: 'a' (its file parts: none)");
  expect_error(
      form(R"({"terms":[{"upload":"a"}]})", {named_file("a", png), named_file("extra", png)}), 400,
      "invalid_argument", "form field 'extra' is not used by any term");
  expect_error(form(R"({"terms":[{"upload":"a","text":"chest"}]})", {named_file("a", png)}), 400,
               "invalid_argument", "terms[0] must have exactly one of text, id, embedding, upload");
  expect_error(form(R"({"terms":[{"upload":"a","id":1}]})", {named_file("a", png)}), 400,
               "invalid_argument", "terms[0] must have exactly one of");
  expect_error(form(R"({"terms":[{"upload":3}]})", {named_file("a", png)}), 400, "invalid_argument",
               "terms[0].upload must be the name of a file part");
  expect_error(form("{\"terms\":[{\"upload\":\"a\"}]", {named_file("a", png)}), 400,
               "invalid_argument", "form field 'query' is not valid JSON");
  expect_error(form(R"(["a"])", {named_file("a", png)}), 400, "invalid_argument",
               "form field 'query' must be a JSON object");
  expect_error(form("", {named_file("a", png)}), 400, "invalid_argument",
               "form field 'query' is empty");
  expect_error(form(R"({"terms":[{"upload":"a"}],"file":"a"})", {named_file("a", png)}), 400,
               "invalid_argument", "unknown field 'file'");
  expect_error(form(R"({"terms":[{"upload":"a"}],"k":0})", {named_file("a", png)}), 400,
               "invalid_argument", "k must be");
  HttpRequest no_query = combined_form("", {named_file("a", png)});
  no_query.form.erase(no_query.form.begin());
  expect_error(handle(no_query), 400, "invalid_argument", "missing form field 'query'");
  expect_error(form(R"({"terms":[{"upload":"a"}]})", {named_file("a", png), named_file("a", png)}),
               400, "invalid_argument", "form field 'a' is given more than once");
  // In a JSON body an upload term has nothing to refer to.
  expect_error(
      handle(json_request("/api/search/combined", R"({"terms":[{"upload":"a"}]})")), 400,
      "invalid_argument",
      "terms[0].upload needs a multipart/form-data request: send the JSON document as the form "
      "field 'query'");
  // Not images, the same refusals (and words) as POST /api/search/image, naming the term.
  expect_error(
      form(R"({"terms":[{"upload":"a"}]})", {named_file("a", "hello, this is text", "notes.png")}),
      400, "invalid_argument", "terms[0]: uploaded file 'notes.png': not an image");
  expect_error(form(R"({"terms":[{"text":"x"},{"upload":"a"}]})",
                    {named_file("a", "GIF89a\x01\x00\x01\x00\x00\x00\x00", "a.gif")}),
               415, "unsupported", "terms[1]: uploaded file 'a.gif'");
  expect_error(form(R"({"terms":[{"upload":"a"}]})", {named_file("a", "", "empty.png")}), 400,
               "invalid_argument", "terms[0]: uploaded file 'empty.png' is empty");
  EXPECT_EQ(backend_->search_count(), before) << "refused before the backend";
  // Cut short after a valid header: the decoder in the backend refuses it; the answer names the
  // term and its part.
  HttpResponse cut = form(R"({"terms":[{"text":"x"},{"upload":"half"}]})",
                          {named_file("half", png.substr(0, png.size() / 2), "cut.png")});
  EXPECT_EQ(cut.status, 400) << cut.body;
  EXPECT_NE(cut.body.find("terms[1].upload 'half' (uploaded file 'cut.png')"), std::string::npos)
      << cut.body;
}

TEST_F(RouterTest, CombinedSearchUploadLimits) {
  make_router(with<RouterOptions>([](auto& o) {
    o.max_upload_bytes = 1000;
    o.max_json_bytes = 100;
  }));
  expect_error(handle(combined_form(R"({"terms":[{"upload":"a"}]})",
                                    {named_file("a", std::string(1001, 'x'))})),
               413, "resource_exhausted", "the limit is 1000 bytes");
  expect_error(handle(combined_form(
                   R"({"terms":[{"upload":"a"}],"category":")" + std::string(100, 'c') + "\"}",
                   {named_file("a", png_bytes(8, 8))})),
               413, "resource_exhausted", "form field 'query' is");
  // The body limit of a multipart request is the upload limit; JSON keeps the JSON limit.
  auto limit = [&](HttpRequest r) {
    auto admitted = router_->admit(r);
    auto* a = std::get_if<ApiRouter::Admission>(&admitted);
    EXPECT_NE(a, nullptr);
    return a == nullptr ? size_t{0} : router_->body_limit(*a);
  };
  EXPECT_EQ(limit(combined_form("{}", {})), 1000u);
  EXPECT_EQ(limit(json_request("/api/search/combined", "{}")), 100u);
  // Neither JSON nor multipart: 415 names both.
  HttpRequest text = json_request("/api/search/combined", "{}");
  text.headers = {{"Content-Type", "text/plain"}};
  expect_error(handle(text), 415, "unsupported_media_type",
               "application/json (or multipart/form-data with uploads)");
  // Other JSON routes still refuse multipart.
  HttpRequest form_text = combined_form("{}", {});
  form_text.path = "/api/search/text";
  expect_error(handle(form_text), 415, "unsupported_media_type", "application/json");
}

// The fake backend scores image i with the query's value i % kFakeDim, so the ranking is known.
TEST_F(RouterTest, EmbeddingSearch) {
  HttpResponse r = handle(json_request(
      "/api/search/embedding",
      R"({"embedding":[0.1,0.9,0.2,0.8,0.3,0.7,0.4,0.6],"k":3,"min_score":-1,"offset":1})"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(j["query"]["type"], "embedding");
  EXPECT_EQ(j["query"]["offset"], 1);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][0]["rank"], 2);
  EXPECT_EQ(r.audit.event, "search.embedding");
  // The default threshold of an embedding query is the image one.
  r = handle(json_request("/api/search/embedding", R"({"embedding":[1,1,1,1,1,1,1,1]})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["min_score"], 0.95);
  EXPECT_EQ(body_json(handle(get_request("/api/health")))["dim"], kFakeDim);

  auto search = [&](const std::string& body) {
    return handle(json_request("/api/search/embedding", body));
  };
  expect_error(search("{}"), 400, "invalid_argument", "missing field 'embedding'");
  expect_error(search(R"({"embedding":"0.1,0.2"})"), 400, "invalid_argument",
               "embedding must be an array of numbers");
  expect_error(search(R"({"embedding":[]})"), 400, "invalid_argument", "the embedding is empty");
  expect_error(search(R"({"embedding":[1,2,3]})"), 400, "invalid_argument",
               "the embedding has 3 values; the index's model has dimension 8");
  expect_error(search(R"({"embedding":[1,2,3,4,5,6,7,8,9]})"), 400, "invalid_argument",
               "has 9 values");
  expect_error(search(R"({"embedding":[1,2,"3",4,5,6,7,8]})"), 400, "invalid_argument",
               "embedding[2] must be a finite number");
  expect_error(search(R"({"embedding":[1,2,3,4,5,6,7,1e39]})"), 400, "invalid_argument",
               "embedding[7] must be a finite number (float range)");
  expect_error(search(R"({"embedding":[1,2,3,4,5,6,7,NaN]})"), 400, "invalid_argument",
               "not valid JSON");
  expect_error(search(R"({"embedding":[1,2,3,4,5,6,7,1e400]})"), 400, "invalid_argument",
               "not valid JSON");
  expect_error(search(R"({"embedding":[0,0,0,0,0,0,0,0]})"), 400, "invalid_argument", "all zeros");
  expect_error(search(R"({"embedding":[1,2,3,4,5,6,7,8],"k":0})"), 400, "invalid_argument",
               "k must be");
  expect_error(search(R"({"embedding":[1,2,3,4,5,6,7,8],"query":"x"})"), 400, "invalid_argument",
               "unknown field 'query'");
}

TEST_F(RouterTest, CombinedSearch) {
  HttpResponse r = handle(json_request(
      "/api/search/combined", R"({"terms":[{"text":"chest x-ray","weight":2},{"id":1,"weight":-1},)"
                              R"({"embedding":[1,0,0,0,0,0,0,0]}],"k":4,"category":null})"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(j["query"]["type"], "combined");
  EXPECT_EQ(j["query"]["terms"], 3);
  EXPECT_EQ(j["min_score"], 0.25);
  EXPECT_EQ(j["min_score_rule"], "the text default, as a term is text");
  EXPECT_LE(j["results"].size(), 4u);
  for (const auto& hit : j["results"]) EXPECT_NE(hit["id"], 1) << "an id term is left out";
  EXPECT_EQ(r.audit.event, "search.combined");
  r = handle(json_request("/api/search/combined", R"({"terms":[{"id":2}],"min_score":0.5})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["min_score_rule"], "given");
  r = handle(json_request("/api/search/combined", R"({"terms":[{"id":2}]})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["min_score"], 0.95);
  EXPECT_EQ(body_json(r)["min_score_rule"], "the image default, as no term is text");

  auto search = [&](const std::string& body) {
    return handle(json_request("/api/search/combined", body));
  };
  expect_error(search("{}"), 400, "invalid_argument", "missing field 'terms'");
  expect_error(search(R"({"terms":{}})"), 400, "invalid_argument", "terms must be an array");
  expect_error(search(R"({"terms":[]})"), 400, "invalid_argument", "the combination is empty");
  std::string many = R"({"terms":[)";
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + R"({"text":"a"})";
  expect_error(search(many + "]}"), 400, "invalid_argument", "the limit is 16");
  expect_error(search(R"({"terms":["chest"]})"), 400, "invalid_argument",
               "terms[0] must be an object");
  expect_error(search(R"({"terms":[{"weight":2}]})"), 400, "invalid_argument",
               "exactly one of text, id, embedding");
  expect_error(search(R"({"terms":[{"text":"a","id":1}]})"), 400, "invalid_argument",
               "exactly one of text, id, embedding");
  expect_error(search(R"({"terms":[{"text":"a","w":1}]})"), 400, "invalid_argument",
               "terms[0]: unknown field 'w'");
  for (const char* w : {R"("2")", "0", "1e39", "null", "[1]"}) {
    expect_error(search(std::string(R"({"terms":[{"text":"a","weight":)") + w + "}]}"), 400,
                 "invalid_argument", "terms[0].weight must be a finite number other than 0");
  }
  expect_error(search(R"({"terms":[{"text":"  "}]})"), 400, "invalid_argument",
               "terms[0].text must not be empty");
  expect_error(search(R"({"terms":[{"text":"a"},{"id":-3}]})"), 400, "invalid_argument",
               "terms[1].id must be a non-negative integer");
  expect_error(search(R"({"terms":[{"text":"a"},{"id":999}]})"), 404, "not_found",
               "term 2: no indexed image has id 999");
  expect_error(search(R"({"terms":[{"embedding":[1,2,3]}]})"), 400, "invalid_argument",
               "terms[0].embedding: the embedding has 3 values; the index's model has dimension 8");
  expect_error(search(R"({"terms":[{"text":"a"}],"k":21})"), 400, "invalid_argument", "k must");
  expect_error(search(R"({"terms":[{"text":"a"}],"query":"x"})"), 400, "invalid_argument",
               "unknown field 'query'");
}

TEST_F(RouterTest, SimilarSearch) {
  HttpResponse r = handle(json_request("/api/search/similar", R"({"id":1,"k":3,"min_score":0})"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["query"]["type"], "similar");
  EXPECT_EQ(j["query"]["id"], 1);
  for (const auto& hit : j["results"]) EXPECT_NE(hit["id"], 1);

  auto similar = [&](const std::string& body) {
    return handle(json_request("/api/search/similar", body));
  };
  expect_error(similar("{}"), 400, "invalid_argument", "missing field 'id'");
  expect_error(similar(R"({"id":"1"})"), 400, "invalid_argument", "non-negative integer");
  expect_error(similar(R"({"id":-1})"), 400, "invalid_argument", "non-negative integer");
  expect_error(similar(R"({"id":1.5})"), 400, "invalid_argument", "non-negative integer");
  expect_error(similar(R"({"id":18446744073709551615})"), 404, "not_found");
  expect_error(similar(R"({"id":999})"), 404, "not_found", "999");
  expect_error(similar(R"({"id":1,"query":"x"})"), 400, "invalid_argument", "unknown field");
}

// collapse_duplicates: true (the default threshold), a number, false/null (off), in every JSON
// search and the image form; echoed in "query", each result then carrying duplicates_hidden;
// anything else refused naming the field. (The fake treats one category as one group.)
TEST_F(RouterTest, CollapseDuplicatesIsParsedEchoedAndValidated) {
  HttpResponse r =
      search_text(R"({"query":"chest","k":20,"min_score":-1,"collapse_duplicates":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = body_json(r);
  EXPECT_EQ(backend_->last_options().collapse_duplicates, kDefaultDuplicateMinScore);
  EXPECT_NEAR(j["query"]["collapse_duplicates"].get<double>(), 0.97, 1e-9);
  const size_t categories = backend_->info().categories.size();
  ASSERT_EQ(j["results"].size(), categories);
  int hidden = 0;
  for (const json& hit : j["results"]) hidden += hit["duplicates_hidden"].get<int>();
  EXPECT_EQ(size_t(hidden) + categories, backend_->info().images);

  r = search_text(R"({"query":"chest","collapse_duplicates":0.99})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, 0.99f);
  for (const char* off : {"false", "null"}) {
    r = search_text(std::string(R"({"query":"chest","collapse_duplicates":)") + off + "}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(backend_->last_options().collapse_duplicates) << off;
    j = body_json(r);
    EXPECT_FALSE(j["query"].contains("collapse_duplicates"));
    for (const json& hit : j["results"]) EXPECT_FALSE(hit.contains("duplicates_hidden"));
  }
  for (const char* bad : {"0", "-0.5", "1.01", R"("0.9")", "[1]", "{}"}) {
    expect_error(search_text(std::string(R"({"query":"a","collapse_duplicates":)") + bad + "}"),
                 400, "invalid_argument", "collapse_duplicates must be true, false or");
  }
  // The other JSON searches take it too.
  r = handle(
      json_request("/api/search/similar", R"({"id":1,"min_score":0,"collapse_duplicates":0.98})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, 0.98f);
  r = handle(json_request(
      "/api/search/embedding",
      R"({"embedding":[0.1,0.9,0.2,0.8,0.3,0.7,0.4,0.6],"collapse_duplicates":true})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, kDefaultDuplicateMinScore);
  r = handle(json_request("/api/search/combined",
                          R"({"terms":[{"text":"chest"}],"collapse_duplicates":true})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, kDefaultDuplicateMinScore);
  // true means the model's threshold (its xray-search-model.json), which /api/health reports.
  EXPECT_NEAR(
      body_json(handle(get_request("/api/health")))["limits"]["duplicate_min_score"].get<double>(),
      0.97, 1e-9);
  backend_->set_duplicate_min_score(0.985f);
  r = search_text(R"({"query":"chest","collapse_duplicates":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, 0.985f);
  EXPECT_NEAR(
      body_json(handle(get_request("/api/health")))["limits"]["duplicate_min_score"].get<double>(),
      0.985, 1e-9);
  backend_->set_duplicate_min_score(kDefaultDuplicateMinScore);
  // Paging the collapsed ranking: offset 1 starts at its second result.
  r = search_text(
      R"({"query":"chest","k":1,"offset":1,"min_score":-1,"collapse_duplicates":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["results"][0]["rank"], 2);

  // The image form: "true", a number, "false" or empty (off).
  const std::string png = png_bytes(8, 8);
  r = handle(form_request({file_part(png), field("collapse_duplicates", "true")}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, kDefaultDuplicateMinScore);
  r = handle(form_request({file_part(png), field("collapse_duplicates", "0.96")}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->last_options().collapse_duplicates, 0.96f);
  for (const char* off : {"false", ""}) {
    r = handle(form_request({file_part(png), field("collapse_duplicates", off)}));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(backend_->last_options().collapse_duplicates) << off;
  }
  for (const char* bad : {"yes", "0", "1.5", "nan", " 0.9"}) {
    expect_error(handle(form_request({file_part(png), field("collapse_duplicates", bad)})), 400,
                 "invalid_argument", "collapse_duplicates");
  }
}

}  // namespace
}  // namespace xrs::testing
