// The engine's thread pool: every part runs exactly once, nested and concurrent calls are safe.
#include "clip/compute_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace xrs {
namespace {

TEST(ComputePoolTest, EveryPartRunsExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    set_compute_threads(threads);
    EXPECT_EQ(compute_threads(), threads);
    for (int parts : {0, 1, 2, 3, 17, 100}) {
      std::vector<std::atomic<int>> runs(parts);
      parallel_for(parts, [&](int i) { runs[i].fetch_add(1); });
      for (int i = 0; i < parts; ++i) EXPECT_EQ(runs[i].load(), 1) << threads << "/" << parts;
    }
  }
}

TEST(ComputePoolTest, NestedCallsRunInlineInsideAPart) {
  set_compute_threads(2);
  std::atomic<int> inner{0};
  std::atomic<int> available_inside{0};
  parallel_for(2, [&](int) {
    available_inside.store(available_threads());
    parallel_for(5, [&](int) { inner.fetch_add(1); });
  });
  EXPECT_EQ(inner.load(), 10);
  EXPECT_EQ(available_inside.load(), 1);
  EXPECT_EQ(available_threads(), 2);
}

TEST(ComputePoolTest, ConcurrentCallersAllFinish) {
  set_compute_threads(2);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 6; ++c) {
    callers.emplace_back([&] {
      for (int r = 0; r < 200; ++r) parallel_for(4, [&](int i) { total.fetch_add(i + 1); });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 6L * 200 * (1 + 2 + 3 + 4));
}

}  // namespace
}  // namespace xrs
