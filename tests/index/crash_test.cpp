// Crash safety: a child process writing batches is killed with SIGKILL at random moments; every
// time, the catalog must open, be consistent, and accept a further write.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "index/catalog.h"
#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

constexpr uint32_t kDim = 64;
constexpr int kBatch = 10;

// The child: batch b upserts kBatch images "r<round>-b<b>-<j>" and removes batch b-2, in one
// transaction, forever. It never returns (it is killed) and exits non-zero on any error.
[[noreturn]] void write_forever(const std::string& dir, int round) {
  auto catalog = Catalog::open_or_create(dir, testing::test_model(kDim));
  if (!catalog.is_ok()) _exit(2);
  std::vector<float> e = testing::random_unit_vectors(kBatch, kDim, static_cast<uint32_t>(round));
  for (int b = 0;; ++b) {
    auto tx = (*catalog)->begin();
    if (!tx.is_ok()) _exit(3);
    std::string prefix = "r" + std::to_string(round) + "-b" + std::to_string(b) + "-";
    for (int j = 0; j < kBatch; ++j) {
      ImageRecord r = testing::make_record(prefix + std::to_string(j), "chest",
                                           std::vector<float>(&e[j * kDim], &e[(j + 1) * kDim]));
      if (!tx->upsert(r).is_ok()) _exit(4);
    }
    if (b >= 2) {
      std::string old = "r" + std::to_string(round) + "-b" + std::to_string(b - 2) + "-";
      for (int j = 0; j < kBatch; ++j) {
        if (!tx->remove(old + std::to_string(j)).is_ok()) _exit(5);
      }
    }
    if (!tx->commit().is_ok()) _exit(6);
  }
}

TEST(CrashTest, KilledWriterLeavesAConsistentCatalog) {
  std::string dir = testing::scratch_dir("crash");
  ASSERT_TRUE(Catalog::open_or_create(dir, testing::test_model(kDim)).is_ok());
  std::mt19937 rng(12345);
  uint64_t last_generation = 0;
  size_t rows_seen = 0;
  for (int round = 0; round < 8; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) write_forever(dir, round);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 300));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the writer exited by itself with " << WEXITSTATUS(status) << " in round " << round;

    auto catalog = Catalog::open(dir, Catalog::Mode::kReadWrite);
    ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
    auto snap = (*catalog)->snapshot(/*with_embeddings=*/true);
    ASSERT_TRUE(snap.is_ok()) << snap.status().to_string();  // every blob has dim floats
    EXPECT_EQ(snap->rows.size(), (*catalog)->count().value());
    EXPECT_EQ(snap->vectors->ids.size(), snap->rows.size());
    EXPECT_GE(snap->info.generation, last_generation);
    last_generation = snap->info.generation;
    // Batches are all-or-nothing: every batch prefix present has all its rows.
    std::map<std::string, int> per_batch;
    for (const ImageRecord& r : snap->rows) {
      if (r.image_name.rfind("after-", 0) == 0) continue;
      per_batch[r.image_name.substr(0, r.image_name.rfind('-'))]++;
    }
    for (const auto& [batch, n] : per_batch) EXPECT_EQ(n, kBatch) << batch;
    rows_seen += snap->rows.size();

    auto tx = (*catalog)->begin();
    ASSERT_TRUE(tx.is_ok()) << tx.status().to_string();
    ASSERT_TRUE(tx->upsert(testing::make_record("after-" + std::to_string(round), "hand",
                                                testing::random_unit_vectors(1, kDim, 1)))
                    .is_ok());
    ASSERT_TRUE(tx->commit().is_ok());
  }
  // The writers did get batches in (the kills were not all before the first commit).
  EXPECT_GT(last_generation, 8u);
  EXPECT_GT(rows_seen, 8u);
}

}  // namespace
}  // namespace xrs
