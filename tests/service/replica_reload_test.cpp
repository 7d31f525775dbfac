// SearchService::reload_if_changed (serve --read-only): a service opened read-only on an index
// notices the generation an incremental index run commits and switches to it while threads
// query it. Every query succeeds and answers from one generation (all the images of the old one
// or all those of the new one, never a mix); a reader held from before the switch still serves
// the old generation; after the switch the answers list exactly the images the catalog holds
// (read back with Catalog, not through the service).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataset/validate.h"
#include "pipeline/dataset_copy.h"
#include "pipeline/indexer.h"
#include "service/clip_search_service.h"

namespace xrs {
namespace {

std::set<std::string> names_in(const SearchResponse& r) {
  std::set<std::string> out;
  for (const SearchHit& h : r.results) out.insert(h.image_name);
  return out;
}

TEST(ReplicaReloadTest, SwitchesGenerationsUnderConcurrentQueries) {
  XRS_REQUIRE_DATASET();
  auto data = testing::make_dataset_copy("replica-reload", 2);
  const std::string index_dir = testing::scratch_dir("replica-reload-index");
  IndexOptions o;
  o.data_dir = data.dir();
  o.index_dir = index_dir;
  o.model_path = testing::tiny_model_dir();
  o.batch = 100;  // one commit adds every new image
  auto summary = run_index(testing::tiny_model(), o);
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();

  SearchServiceOptions so;
  so.index_dir = index_dir;
  so.read_only = true;
  auto opened = SearchService::open(so);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  SearchService& service = **opened;
  const BackendInfo info0 = service.info();
  EXPECT_TRUE(info0.read_only);
  EXPECT_EQ(info0.reloads, 0u);
  std::set<std::string> old_names;
  for (const auto& [name, row] : testing::read_catalog(index_dir)) old_names.insert(name);
  ASSERT_EQ(info0.images, old_names.size());

  // Nothing changed: no switch.
  auto unchanged = service.reload_if_changed();
  ASSERT_TRUE(unchanged.is_ok()) << unchanged.status().to_string();
  EXPECT_FALSE(*unchanged);

  SearchOptions all;
  all.k = kMaxK;
  all.min_score = -1;
  std::atomic<bool> stop{false};
  std::atomic<int> queries{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::set<std::string>> answers;
  auto client = [&] {
    while (!stop.load()) {
      auto r = service.search_text("a chest x-ray", all);
      ++queries;
      std::lock_guard<std::mutex> lock(mutex);
      if (!r.is_ok()) {
        failures.push_back(r.status().to_string());
      } else {
        answers.push_back(names_in(*r));
      }
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back(client);

  std::shared_ptr<const IndexReader> held = service.index_snapshot();  // "in flight"
  const auto extra = testing::rows_not_copied(2);
  ASSERT_GE(extra.size(), 3u);
  for (size_t i = 0; i < 3; ++i) data.add(extra[i]);
  data.write_metadata();
  summary = run_index(testing::tiny_model(), o);
  ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
  EXPECT_EQ(summary->added, 3u);
  std::set<std::string> new_names;
  for (const auto& [name, row] : testing::read_catalog(index_dir)) new_names.insert(name);
  ASSERT_EQ(new_names.size(), old_names.size() + 3);

  auto switched = service.reload_if_changed();
  ASSERT_TRUE(switched.is_ok()) << switched.status().to_string();
  EXPECT_TRUE(*switched);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (std::thread& t : clients) t.join();

  const BackendInfo info1 = service.info();
  EXPECT_GT(info1.generation, info0.generation);
  EXPECT_EQ(info1.catalog_id, info0.catalog_id);
  EXPECT_EQ(info1.reloads, 1u);
  EXPECT_EQ(info1.images, new_names.size());
  EXPECT_EQ(held->size(), old_names.size()) << "a held generation changed under its user";
  EXPECT_EQ(service.index().size(), new_names.size());

  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, the first: " << failures.front();
  EXPECT_GT(queries.load(), 3);
  size_t on_new = 0;
  for (const std::set<std::string>& a : answers) {
    EXPECT_TRUE(a == old_names || a == new_names) << "an answer mixed generations";
    on_new += a == new_names;
  }
  EXPECT_GT(on_new, 0u);
  auto after = service.search_text("a chest x-ray", all);
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_EQ(names_in(*after), new_names);

  // The check a replica repeats every interval costs one catalog open and one read of meta.
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kChecks = 200;
  for (int i = 0; i < kChecks; ++i) {
    auto again = service.reload_if_changed();
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    EXPECT_FALSE(*again);
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
      kChecks;
  RecordProperty("generation_check_us", std::to_string(us));
  std::printf("one generation check (nothing changed): %.0f us\n", us);
}

TEST(ReplicaReloadTest, AMissingIndexKeepsTheServedGeneration) {
  XRS_REQUIRE_DATASET();
  auto data = testing::make_dataset_copy("replica-missing", 1);
  const std::string index_dir = testing::scratch_dir("replica-missing-index");
  IndexOptions o;
  o.data_dir = data.dir();
  o.index_dir = index_dir;
  o.model_path = testing::tiny_model_dir();
  ASSERT_TRUE(run_index(testing::tiny_model(), o).is_ok());
  SearchServiceOptions so;
  so.index_dir = index_dir;
  so.read_only = true;
  auto opened = SearchService::open(so);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  const size_t images = (*opened)->info().images;
  std::filesystem::remove_all(index_dir + "-moved");
  std::filesystem::rename(index_dir, index_dir + "-moved");
  auto r = (*opened)->reload_if_changed();
  EXPECT_FALSE(r.is_ok());
  EXPECT_EQ((*opened)->info().images, images);
  SearchOptions all;
  all.k = kMaxK;
  all.min_score = -1;
  auto found = (*opened)->search_text("a chest x-ray", all);
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  EXPECT_EQ(found->results.size(), images);
}

}  // namespace
}  // namespace xrs
