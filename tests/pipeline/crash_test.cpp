// Crash safety of `xray-search index`, run as a child process on a 100- or 150-image copy of
// the dataset: SIGKILL at random moments (while hashing, while embedding, mid-batch) must leave an
// index that opens, answers a query and holds only whole batches of correct rows; a last run
// completes it into exactly what a from-scratch run builds. SIGINT stops after the current
// batch with exit code 1, keeping the finished batches.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "e2e/subprocess.h"
#include "index/catalog.h"
#include "index/index_reader.h"
#include "pipeline/dataset_copy.h"
#include "pipeline/indexer.h"

namespace xrs {
namespace {

using namespace std::chrono_literals;
using testing::DatasetCopy;

constexpr size_t kPerCategory = 50;
// Every category of the dataset, kPerCategory images each (150 of ../shared's, the 100 of the
// committed demo set).
const size_t kImages = testing::category_count() * kPerCategory;
constexpr int kBatch = 8;

std::unique_ptr<testing::Subprocess> start_index(const DatasetCopy& data, const std::string& idx,
                                                 int batch) {
  return testing::Subprocess::start({testing::cli_path(), "index", data.dir(), "--model",
                                     testing::tiny_model_dir(), "--index", idx, "--batch",
                                     std::to_string(batch)});
}

uint64_t row_count(const std::string& idx) {
  auto catalog = Catalog::open(idx, Catalog::Mode::kReadOnly);
  if (!catalog.is_ok()) return 0;
  auto n = (*catalog)->count();
  return n.is_ok() ? *n : 0;
}

// The index at `idx` opens, answers a query, and every row is a correct, complete image of
// `data`: its embedding a unit vector, its SHA-256 that of its file. Returns the row count.
size_t expect_consistent(const std::string& idx, const DatasetCopy& data, int batch,
                         const std::string& when, size_t images = kImages) {
  SCOPED_TRACE(when);
  auto reader = IndexReader::open(idx);
  EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
  if (!reader.is_ok()) return 0;
  const size_t n = (*reader)->size();
  std::vector<float> query((*reader)->model().dim, 0.0f);
  query[0] = 1;
  SearchRequest request;
  request.k = 5;
  auto hits = (*reader)->search(query, request);
  EXPECT_TRUE(hits.is_ok()) << hits.status().to_string();
  if (hits.is_ok()) {
    EXPECT_EQ(hits->size(), std::min<size_t>(n, 5));
  }

  const auto rows = testing::read_catalog(idx);
  EXPECT_EQ(rows.size(), n);
  std::set<std::string> names;
  for (const testing::DatasetRow& r : data.rows()) names.insert(r.image_name);
  for (const auto& [name, r] : rows) {
    EXPECT_TRUE(names.count(name)) << name << " is not in the dataset";
    double norm = 0;
    for (float v : r.embedding) norm += double(v) * v;
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5) << name;
    EXPECT_EQ(r.sha256, sha256_hex(testing::read_bytes(data.file(name)))) << name;
  }
  // Batches are all-or-nothing: whole batches only, until the last one.
  EXPECT_TRUE(n % batch == 0 || n == images) << n << " rows";
  return n;
}

TEST(CrashTest, SigkillAtAnyMomentLeavesAUsableIndexThatALaterRunCompletes) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("crash-kill", kPerCategory);
  const std::string idx = testing::scratch_dir("crash-kill-index");
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("random seed " + std::to_string(seed));

  struct Kill {
    const char* after;  // stderr text that marks the phase ("" = right after the start)
    int max_delay_ms;   // then a random delay in [0, max)
  };
  // "checking" is validation and hashing; "embedding" the batches.
  const Kill kills[] = {
      {"embedding 0/", 1200}, {"checking 0/", 30},    {"embedding 0/", 800}, {"", 400},
      {"checking 0/", 80},    {"embedding 0/", 1600}, {"embedding 0/", 500}};
  size_t partial = 0;  // kills that left some but not all images indexed
  for (const Kill& k : kills) {
    const std::string when = std::string("kill after '") + k.after + "'";
    auto p = start_index(data, idx, kBatch);
    ASSERT_NE(p, nullptr);
    if (*k.after != '\0') {
      ASSERT_TRUE(p->wait_for_stderr(k.after, 60s)) << when << ": " << p->err();
    }
    const int delay = static_cast<int>(rng() % k.max_delay_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    p->signal(SIGKILL);
    const testing::ProcessResult r = p->wait();
    EXPECT_TRUE(r.term_signal == SIGKILL || r.exit_code == 0) << when << testing::describe(r);
    if (!std::filesystem::exists(idx + "/catalog.sqlite")) {
      std::printf("%s + %d ms: killed before the catalog existed\n", when.c_str(), delay);
      continue;
    }
    // Killed inside the catalog's creation transaction: an empty database that readers report
    // as "creation did not complete" and that the next run initialises (catalog.cpp); the next
    // kill's run (and the final complete run) check that it does.
    if (auto c = Catalog::open(idx, Catalog::Mode::kReadOnly);
        !c.is_ok() && c.status().message().find("creation did not complete") != std::string::npos) {
      std::printf("%s + %d ms: killed while the catalog was being created\n", when.c_str(), delay);
      continue;
    }
    const size_t n = expect_consistent(idx, data, kBatch, when);
    std::printf("%s + %d ms: %zu of %zu images indexed\n", when.c_str(), delay, n, kImages);
    if (n > 0 && n < kImages) ++partial;
    // A run that finished before the kill leaves nothing to embed; start the next one over so
    // that every kill lands in a run with work to do, however fast this machine is.
    if (n == kImages) std::filesystem::remove_all(idx);
  }
  // One kill timed by what was committed rather than by the clock (the random delays above can
  // all miss the embedding phase on a slow or loaded machine): a fresh run, killed as soon as a
  // reader sees its first committed batch.
  {
    std::filesystem::remove_all(idx);
    auto p = start_index(data, idx, kBatch);
    ASSERT_NE(p, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    uint64_t seen = 0;
    while (seen == 0 && std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(idx + "/catalog.sqlite")) {
        auto catalog = Catalog::open(idx, Catalog::Mode::kReadOnly);
        if (catalog.is_ok()) {
          auto count = (*catalog)->count();
          if (count.is_ok()) seen = *count;
        }
      }
      if (seen == 0) std::this_thread::sleep_for(2ms);
    }
    p->signal(SIGKILL);
    const testing::ProcessResult r = p->wait();
    EXPECT_TRUE(r.term_signal == SIGKILL || r.exit_code == 0) << testing::describe(r);
    ASSERT_GT(seen, 0u) << "no batch was committed in 120 s";
    const size_t n = expect_consistent(idx, data, kBatch, "kill after the first commit");
    std::printf("kill after the first commit (%llu rows seen): %zu of %zu images indexed\n",
                static_cast<unsigned long long>(seen), n, kImages);
    if (n > 0 && n < kImages) ++partial;
  }
  EXPECT_GE(partial, 1u) << "no kill landed in the middle of embedding";

  const testing::ProcessResult done = testing::run_cli(
      {"index", data.dir(), "--model", testing::tiny_model_dir(), "--index", idx, "--batch", "8"});
  ASSERT_EQ(done.exit_code, 0) << testing::describe(done);
  EXPECT_EQ(expect_consistent(idx, data, kBatch, "completed"), kImages);

  const std::string fresh = testing::scratch_dir("crash-kill-fresh");
  IndexOptions o;
  o.data_dir = data.dir();
  o.index_dir = fresh;
  auto s = run_index(testing::tiny_model(), o);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  testing::expect_same_index(testing::read_catalog(idx), testing::read_catalog(fresh));
}

TEST(CrashTest, SigintStopsAfterTheCurrentBatchAndKeepsFinishedBatches) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("crash-sigint", kPerCategory);
  const std::string idx = testing::scratch_dir("crash-sigint-index");
  constexpr int kSmallBatch = 4;
  auto p = start_index(data, idx, kSmallBatch);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_stderr("embedding 0/", 60s)) << p->err();
  // Wait for the first committed batch, then interrupt.
  uint64_t committed = 0;
  for (auto end = std::chrono::steady_clock::now() + 60s;
       committed == 0 && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(5ms);
    committed = row_count(idx);
  }
  ASSERT_GT(committed, 0u);
  p->signal(SIGINT);
  const testing::ProcessResult r = p->wait();
  EXPECT_EQ(r.exit_code, 1) << testing::describe(r);
  EXPECT_NE(r.err.find("interrupted; finishing the current batch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("xray-search: error: indexing interrupted; finished batches are kept"),
            std::string::npos)
      << r.err;
  const size_t n = expect_consistent(idx, data, kSmallBatch, "after SIGINT");
  EXPECT_GE(n, committed);
  EXPECT_LT(n, kImages) << "the run ended before the interrupt took effect";

  // The next run embeds only the rest.
  const testing::ProcessResult rest = testing::run_cli(
      {"index", data.dir(), "--model", testing::tiny_model_dir(), "--index", idx, "--json"});
  ASSERT_EQ(rest.exit_code, 0) << testing::describe(rest);
  const auto summary = nlohmann::json::parse(rest.out);
  EXPECT_EQ(summary["embedded"], kImages - n);
  EXPECT_EQ(summary["unchanged"], n);
  EXPECT_EQ(summary["total"], kImages);
}

TEST(CrashTest, ASecondSigintStopsAtOnce) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("crash-sigint2", 20);
  const std::string idx = testing::scratch_dir("crash-sigint2-index");
  auto p = start_index(data, idx, kBatch);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_stderr("embedding 0/", 60s)) << p->err();
  p->signal(SIGINT);
  ASSERT_TRUE(p->wait_for_stderr("finishing the current batch", 10s)) << p->err();
  p->signal(SIGINT);
  const testing::ProcessResult r = p->wait();
  // Either the second interrupt ended it, or the batch had already finished (exit 1).
  EXPECT_TRUE(r.term_signal == SIGINT || r.exit_code == 1) << testing::describe(r);
  expect_consistent(idx, data, kBatch, "after two SIGINTs", testing::category_count() * 20);
}

}  // namespace
}  // namespace xrs
