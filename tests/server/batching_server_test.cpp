// Batched image queries through the real service and the real server: a copy of the X-ray
// dataset indexed with the fixture model, SearchService with image batching, HttpServer on a free
// port. Concurrent mixed queries (image uploads, texts, combined) must get exactly the answers
// that the same queries get one at a time from a service without batching; clients that
// disconnect right after sending their upload must not disturb the others; a lone query must not
// wait for the batch delay; /api/health and /metrics report the batching counters.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataset/validate.h"
#include "imaging/decode.h"
#include "pipeline/dataset_copy.h"
#include "pipeline/indexer.h"
#include "server/server.h"
#include "service/clip_search_service.h"

namespace xrs {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kPerCategory = 8;

// One query of the mix: an upload (image bytes), a text, or a combined JSON body.
struct Query {
  enum class Kind { kImage, kText, kCombined } kind;
  std::string payload;  // image bytes, the text, or the combined request's JSON
  std::string name;
};

// The answer's ranking: ids and scores, in order.
struct Ranking {
  std::vector<int64_t> ids;
  std::vector<double> scores;
};

Ranking ranking_of(const SearchResponse& r) {
  Ranking out;
  for (const SearchHit& h : r.results) {
    out.ids.push_back(h.id);
    out.scores.push_back(h.score);
  }
  return out;
}

Ranking ranking_of(const json& body) {
  Ranking out;
  for (const json& h : body.at("results")) {
    out.ids.push_back(h.at("id").get<int64_t>());
    out.scores.push_back(h.at("score").get<double>());
  }
  return out;
}

// Same images in the same order (a near-tie may swap), same scores within `tolerance`.
::testing::AssertionResult same_ranking(const Ranking& got, const Ranking& want, double tolerance) {
  if (got.ids.size() != want.ids.size()) {
    return ::testing::AssertionFailure()
           << got.ids.size() << " results instead of " << want.ids.size();
  }
  for (size_t i = 0; i < want.ids.size(); ++i) {
    if (std::fabs(got.scores[i] - want.scores[i]) > tolerance) {
      return ::testing::AssertionFailure()
             << "rank " << i + 1 << ": score " << got.scores[i] << " instead of " << want.scores[i];
    }
    if (got.ids[i] != want.ids[i]) {
      const bool tie =
          (i > 0 && std::fabs(want.scores[i - 1] - want.scores[i]) < tolerance) ||
          (i + 1 < want.ids.size() && std::fabs(want.scores[i + 1] - want.scores[i]) < tolerance);
      if (!tie) {
        return ::testing::AssertionFailure()
               << "rank " << i + 1 << ": id " << got.ids[i] << " instead of " << want.ids[i];
      }
    }
  }
  return ::testing::AssertionSuccess();
}

QueryTerm text_term(std::string text, float weight) {
  QueryTerm t;
  t.kind = QueryTerm::Kind::kText;
  t.text = std::move(text);
  t.weight = weight;
  return t;
}
QueryTerm id_term(int64_t id, float weight) {
  QueryTerm t;
  t.kind = QueryTerm::Kind::kId;
  t.id = id;
  t.weight = weight;
  return t;
}
QueryTerm image_term(std::string bytes, float weight) {
  QueryTerm t;
  t.kind = QueryTerm::Kind::kImage;
  t.image_bytes = std::move(bytes);
  t.weight = weight;
  return t;
}

SearchOptions all_results() {
  SearchOptions o;
  o.k = 10;
  o.min_score = -1.0f;
  return o;
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class BatchingServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::DatasetCopy(testing::make_dataset_copy("batching-server", kPerCategory));
    index_dir_ = new std::string(testing::scratch_dir("batching-server-index"));
    const ValidationReport report = validate_dataset(data_->dir(), DatasetConfig{});
    ASSERT_TRUE(report.valid());
    IndexOptions o;
    o.data_dir = data_->dir();
    o.index_dir = *index_dir_;
    o.model_path = testing::tiny_model_dir();
    auto summary = run_index(testing::tiny_model(), o);
    ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
    // The reference: no batching, every query alone.
    auto unbatched = SearchService::open(options(1, std::chrono::milliseconds(0)));
    ASSERT_TRUE(unbatched.is_ok()) << unbatched.status().to_string();
    reference_ = std::move(unbatched).value().release();
    queries_ = new std::vector<Query>(make_queries());
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete queries_;
    delete index_dir_;
    delete data_;
  }
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    ASSERT_NE(reference_, nullptr) << "the index could not be built (see above)";
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      EXPECT_EQ(run_.wait_for(std::chrono::seconds(30)), std::future_status::ready);
      Status s = run_.get();
      EXPECT_TRUE(s.is_ok()) << s.to_string();
    }
    server_.reset();
    service_.reset();
  }

  static SearchServiceOptions options(int max_batch, std::chrono::milliseconds delay) {
    SearchServiceOptions o;
    o.index_dir = *index_dir_;
    o.image_batching.max_batch_size = max_batch;
    o.image_batching.max_delay = delay;
    return o;
  }

  static std::vector<Query> make_queries() {
    std::vector<Query> q;
    // Indexed images (their own row is left out of their answer) and images that are not.
    for (size_t i = 0; i < data_->rows().size(); i += 3) {
      const testing::DatasetRow& r = data_->rows()[i];
      q.push_back({Query::Kind::kImage, testing::read_bytes(data_->file(r)), r.image_name});
    }
    if (testing::have_fixtures()) {
      for (const char* name : {"cxr-actm-0001.png", "dent-ufba-0020.jpg", "rgb_480x640.png"}) {
        q.push_back({Query::Kind::kImage,
                     testing::read_bytes(testing::fixtures_dir() + "/images/" + name), name});
      }
    } else {  // the demo set's last three images, which the copy left out
      const std::vector<testing::DatasetRow> outside = testing::rows_not_copied(kPerCategory);
      for (size_t i = outside.size() - 3; i < outside.size(); ++i) {
        q.push_back({Query::Kind::kImage, testing::read_bytes(testing::shared_file(outside[i])),
                     outside[i].image_name});
      }
    }
    for (const char* text : {"chest x-ray", "panoramic dental radiograph", "hand x-ray"}) {
      q.push_back({Query::Kind::kText, text, text});
    }
    q.push_back(
        {Query::Kind::kCombined,
         json({{"terms", {{{"text", "hand x-ray"}, {"weight", 1.0}}, {{"id", 2}, {"weight", 0.5}}}},
               {"k", 10},
               {"min_score", -1}})
             .dump(),
         "combined text + id"});
    return q;
  }

  // The sequential answer of the service without batching.
  static Ranking expected(const Query& q) {
    StatusOr<SearchResponse> r = Status::internal("no answer");
    switch (q.kind) {
      case Query::Kind::kImage:
        r = reference_->search_image(bytes_of(q.payload), all_results());
        break;
      case Query::Kind::kText:
        r = reference_->search_text(q.payload, all_results());
        break;
      case Query::Kind::kCombined: {
        const std::vector<QueryTerm> terms = {text_term("hand x-ray", 1.0f), id_term(2, 0.5f)};
        r = reference_->search_combined(terms, all_results());
        break;
      }
    }
    EXPECT_TRUE(r.is_ok()) << q.name << ": " << r.status().to_string();
    return r.is_ok() ? ranking_of(*r) : Ranking{};
  }

  void start(int max_batch, std::chrono::milliseconds delay) {
    auto service = SearchService::open(options(max_batch, delay));
    ASSERT_TRUE(service.is_ok()) << service.status().to_string();
    service_ = std::move(service).value();
    ServerOptions o;
    o.port = 0;
    o.threads = 16;
    o.access_log = [](std::string_view) {};
    auto server = HttpServer::bind(*service_, o);
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    server_ = std::move(server).value();
    port_ = server_->port();
    run_ = std::async(std::launch::async, [this] { return server_->run(); });
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    c.set_connection_timeout(10, 0);
    return c;
  }

  // One query over HTTP; its ranking, or a failure naming the status.
  ::testing::AssertionResult ask(httplib::Client& c, const Query& q, Ranking& out) const {
    auto send = [&]() -> httplib::Result {
      switch (q.kind) {
        case Query::Kind::kImage: {
          httplib::MultipartFormDataItems items = {{"file", q.payload, "q.png", "image/png"},
                                                   {"k", "10", "", ""},
                                                   {"min_score", "-1", "", ""}};
          return c.Post("/api/search/image", items);
        }
        case Query::Kind::kText:
          return c.Post("/api/search/text",
                        json({{"query", q.payload}, {"k", 10}, {"min_score", -1}}).dump(),
                        "application/json");
        case Query::Kind::kCombined:
          break;
      }
      return c.Post("/api/search/combined", q.payload, "application/json");
    };
    httplib::Result res = send();
    if (!res)
      return ::testing::AssertionFailure() << q.name << ": " << httplib::to_string(res.error());
    if (res->status != 200) {
      return ::testing::AssertionFailure() << q.name << ": " << res->status << " " << res->body;
    }
    out = ranking_of(json::parse(res->body));
    return ::testing::AssertionSuccess();
  }

  json health() const {
    auto c = client();
    auto res = c.Get("/api/health");
    EXPECT_TRUE(res && res->status == 200);
    return res ? json::parse(res->body, nullptr, false) : json();
  }

  // The mix, run by `clients` threads at once, `rounds` queries each; every answer checked.
  void run_mix(int clients, int rounds, std::atomic<int>& failures) const {
    std::vector<Ranking> want;
    for (const Query& q : *queries_) want.push_back(expected(q));
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        auto c = client();
        c.set_keep_alive(t % 2 == 0);
        for (int i = 0; i < rounds; ++i) {
          const size_t n = (size_t(t) * 7 + size_t(i) * 3) % queries_->size();
          Ranking got;
          ::testing::AssertionResult asked = ask(c, (*queries_)[n], got);
          ::testing::AssertionResult same =
              asked ? same_ranking(got, want[n], 2e-5) : ::testing::AssertionFailure();
          if (!asked || !same) {
            ++failures;
            ADD_FAILURE() << (*queries_)[n].name << ": "
                          << (asked ? same.message() : asked.message());
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }

  static testing::DatasetCopy* data_;
  static std::string* index_dir_;
  static SearchService* reference_;
  static std::vector<Query>* queries_;

  std::unique_ptr<SearchService> service_;
  std::unique_ptr<HttpServer> server_;
  std::future<Status> run_;
  int port_ = 0;
};

testing::DatasetCopy* BatchingServerTest::data_ = nullptr;
std::string* BatchingServerTest::index_dir_ = nullptr;
SearchService* BatchingServerTest::reference_ = nullptr;
std::vector<Query>* BatchingServerTest::queries_ = nullptr;

// The service itself, without HTTP: image, text and combined queries with image terms from many
// threads equal the unbatched service's sequential answers.
TEST_F(BatchingServerTest, ConcurrentServiceQueriesEqualSequentialAnswers) {
  auto service = SearchService::open(options(8, std::chrono::milliseconds(5)));
  ASSERT_TRUE(service.is_ok()) << service.status().to_string();
  const std::vector<Query>& queries = *queries_;
  // Combined queries with an uploaded image as a term go through the batcher too.
  std::vector<std::vector<QueryTerm>> combined;
  std::vector<Ranking> combined_want;
  for (const Query& q : queries) {
    if (q.kind != Query::Kind::kImage) continue;
    std::vector<QueryTerm> terms = {image_term(q.payload, 1.0f), text_term("chest x-ray", 0.5f)};
    auto r = reference_->search_combined(terms, all_results());
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    combined_want.push_back(ranking_of(*r));
    combined.push_back(std::move(terms));
  }
  std::vector<Ranking> want;
  for (const Query& q : queries) want.push_back(expected(q));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        const size_t n = (size_t(t) * 5 + size_t(i)) % (queries.size() + combined.size());
        StatusOr<SearchResponse> r = Status::internal("not asked");
        const Ranking* w = nullptr;
        if (n >= queries.size()) {
          r = (*service)->search_combined(combined[n - queries.size()], all_results());
          w = &combined_want[n - queries.size()];
        } else {
          const Query& q = queries[n];
          w = &want[n];
          if (q.kind == Query::Kind::kImage) {
            r = (*service)->search_image(bytes_of(q.payload), all_results());
          } else if (q.kind == Query::Kind::kText) {
            r = (*service)->search_text(q.payload, all_results());
          } else {
            r = (*service)->search_combined(
                std::vector<QueryTerm>{text_term("hand x-ray", 1.0f), id_term(2, 0.5f)},
                all_results());
          }
        }
        if (!r.is_ok()) {
          ++failures;
          ADD_FAILURE() << r.status().to_string();
          continue;
        }
        ::testing::AssertionResult same = same_ranking(ranking_of(*r), *w, 2e-5);
        if (!same) {
          ++failures;
          ADD_FAILURE() << "query " << n << ": " << same.message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const BackendInfo info = (*service)->info();
  EXPECT_TRUE(info.image_batching.enabled);
  EXPECT_EQ(info.image_batching.max_batch_size, 8);
  EXPECT_GT(info.image_batching.queries, 0u);
  EXPECT_LE(info.image_batching.largest, 8u);
  EXPECT_EQ(reference_->info().image_batching.enabled, false);
}

TEST_F(BatchingServerTest, ConcurrentMixedRequestsGetTheirOwnAnswers) {
  start(8, std::chrono::milliseconds(5));
  std::atomic<int> failures{0};
  run_mix(8, 24, failures);
  EXPECT_EQ(failures.load(), 0);
  const json h = health();
  ASSERT_TRUE(h.contains("image_batching")) << h.dump();
  const json& b = h["image_batching"];
  EXPECT_EQ(b["enabled"], true);
  EXPECT_EQ(b["max_batch_size"], 8);
  EXPECT_DOUBLE_EQ(b["max_delay_ms"].get<double>(), 5.0);
  EXPECT_GT(b["batches"].get<uint64_t>(), 0u);
  EXPECT_GE(b["queries"].get<uint64_t>(), b["batches"].get<uint64_t>());
  EXPECT_LE(b["largest_batch"].get<uint64_t>(), 8u);
  EXPECT_NEAR(b["mean_batch_size"].get<double>(),
              double(b["queries"].get<uint64_t>()) / b["batches"].get<uint64_t>(), 1e-9);
  // /metrics carries the same counters.
  auto c = client();
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m && m->status == 200);
  EXPECT_NE(m->body.find("# TYPE xrs_image_batches_total counter\nxrs_image_batches_total "),
            std::string::npos);
  EXPECT_NE(m->body.find("xrs_image_batch_queries_total "), std::string::npos);
  EXPECT_NE(m->body.find("xrs_image_batch_max_size 8\n"), std::string::npos);
}

// Clients that send a whole upload and close the connection at once (some with a reset): their
// queries still run (their answers are dropped); everyone else's answers stay right.
TEST_F(BatchingServerTest, ClientsThatDisconnectMidBatchDisturbNoOne) {
  start(8, std::chrono::milliseconds(5));
  const std::string boundary = "xrsbatchingtestboundary";
  const std::string image = (*queries_)[0].payload;
  const std::string body =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.png\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n" +
      image + "\r\n--" + boundary + "--\r\n";
  const std::string request =
      "POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: multipart/form-data; boundary=" +
      boundary + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::atomic<bool> done{false};
  std::vector<std::thread> leavers;
  for (int t = 0; t < 4; ++t) {
    leavers.emplace_back([&, t] {
      for (int i = 0; i < 15 && !done; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
          size_t sent = 0;
          while (sent < request.size()) {
            const ssize_t n =
                ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += size_t(n);
          }
          if ((t + i) % 2 == 1) {  // an abortive close: the server's write meets a reset
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
          }
        }
        ::close(fd);
      }
    });
  }
  std::atomic<int> failures{0};
  run_mix(6, 16, failures);
  done = true;
  for (auto& t : leavers) t.join();
  EXPECT_EQ(failures.load(), 0);
  // The server still answers, health and queries alike.
  const json h = health();
  EXPECT_EQ(h["status"], "ok");
  auto c = client();
  Ranking got;
  ASSERT_TRUE(ask(c, (*queries_)[1], got));
  EXPECT_TRUE(same_ranking(got, expected((*queries_)[1]), 2e-5));
}

// A lone query finds the engine idle and runs at once: with a batch delay of 2 s, each of a
// series of lone queries returns far sooner than that.
TEST_F(BatchingServerTest, ALoneQueryDoesNotWaitForTheBatchDelay) {
  start(8, std::chrono::milliseconds(2000));
  auto c = client();
  Ranking got;
  ASSERT_TRUE(ask(c, (*queries_)[0], got));  // warm up (connection, decoder worker)
  for (size_t i = 0; i < 4; ++i) {
    const Query& q = (*queries_)[i];
    ASSERT_EQ(q.kind, Query::Kind::kImage);
    const auto t0 = Clock::now();
    ASSERT_TRUE(ask(c, q, got));
    const auto took = Clock::now() - t0;
    EXPECT_LT(took, std::chrono::milliseconds(1000)) << q.name;
    EXPECT_TRUE(same_ranking(got, expected(q), 2e-5)) << q.name;
  }
  const json h = health();
  EXPECT_EQ(h["image_batching"]["largest_batch"], 1);
}

// --batch-max-size 1: no batcher; health says so and the counters stay at zero.
TEST_F(BatchingServerTest, ABatchSizeOfOneTurnsBatchingOff) {
  start(1, std::chrono::milliseconds(5));
  std::atomic<int> failures{0};
  run_mix(4, 6, failures);
  EXPECT_EQ(failures.load(), 0);
  const json h = health();
  EXPECT_EQ(h["image_batching"]["enabled"], false);
  EXPECT_EQ(h["image_batching"]["batches"], 0);
}

// POST /api/search/combined as multipart with an uploaded image as a term (over HTTP, through
// the batcher) equals the same query with that image's embedding as a JSON term, and the
// service's own image term (what `search --term image:FILE` runs). An indexed image uploaded as a
// term is left out of the results, as the service leaves it out.
TEST_F(BatchingServerTest, CombinedQueryWithAnUploadedImageTerm) {
  start(4, std::chrono::milliseconds(2));
  auto c = client();
  // An image outside the index: a fixture where ../shared has them, else a demo-set image the
  // copy left out.
  const std::string outside =
      testing::have_fixtures()
          ? testing::read_bytes(testing::fixtures_dir() + "/images/rgb_480x640.png")
          : testing::read_bytes(
                testing::shared_file(testing::rows_not_copied(kPerCategory).back()));
  auto decoded = decode_image(bytes_of(outside));
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  auto embedding = reference_->model().embed_image(*decoded);
  ASSERT_TRUE(embedding.is_ok()) << embedding.status().to_string();

  const json uploaded_query = {
      {"terms",
       {{{"text", "hand x-ray"}, {"weight", 1.0}}, {{"upload", "film"}, {"weight", -0.5}}}},
      {"k", 10},
      {"min_score", -1}};
  httplib::MultipartFormDataItems items = {{"query", uploaded_query.dump(), "", ""},
                                           {"film", outside, "film.png", "image/png"}};
  auto res = c.Post("/api/search/combined", items);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const json got = json::parse(res->body);
  EXPECT_EQ(got["query"]["terms"], 2);
  EXPECT_EQ(got["query"]["uploads"], json::parse(R"([{"term":1,"upload":"film","weight":-0.5}])"));
  ASSERT_EQ(got["results"].size(), 10u);

  const json embedding_query = {
      {"terms",
       {{{"text", "hand x-ray"}, {"weight", 1.0}}, {{"embedding", *embedding}, {"weight", -0.5}}}},
      {"k", 10},
      {"min_score", -1}};
  auto as_json = c.Post("/api/search/combined", embedding_query.dump(), "application/json");
  ASSERT_TRUE(as_json && as_json->status == 200) << (as_json ? as_json->body : "no answer");
  EXPECT_TRUE(same_ranking(ranking_of(got), ranking_of(json::parse(as_json->body)), 2e-5));

  const std::vector<QueryTerm> terms = {text_term("hand x-ray", 1.0f), image_term(outside, -0.5f)};
  auto want = reference_->search_combined(terms, all_results());
  ASSERT_TRUE(want.is_ok()) << want.status().to_string();
  EXPECT_TRUE(same_ranking(ranking_of(got), ranking_of(*want), 2e-5));

  // An indexed image as the upload: it is not among its own results.
  const testing::DatasetRow& row = data_->rows()[2];
  const std::string indexed = testing::read_bytes(data_->file(row));
  httplib::MultipartFormDataItems self_items = {
      {"query",
       json({{"terms", {{{"upload", "x"}}, {{"text", "chest"}, {"weight", 0.25}}}},
             {"k", 10},
             {"min_score", -1}})
           .dump(),
       "", ""},
      {"x", indexed, "x.png", "image/png"}};
  auto self = c.Post("/api/search/combined", self_items);
  ASSERT_TRUE(self && self->status == 200) << (self ? self->body : "no answer");
  const json self_json = json::parse(self->body);
  for (const json& hit : self_json["results"]) EXPECT_NE(hit["image_name"], row.image_name);
  auto self_want = reference_->search_combined(
      std::vector<QueryTerm>{image_term(indexed, 1.0f), text_term("chest", 0.25f)}, all_results());
  ASSERT_TRUE(self_want.is_ok()) << self_want.status().to_string();
  EXPECT_TRUE(same_ranking(ranking_of(self_json), ranking_of(*self_want), 2e-5));
}

}  // namespace
}  // namespace xrs
