// ImageBatcher: batches form as documented (a lone image at once, queued images together, at most
// max_batch_size), every caller gets exactly its own embedding (checked against the fixture
// model's sequential embed_image), one bad image fails only itself, and shutdown with queued work
// returns promptly. A gate in the encoder holds the worker inside a pass, so which images share a
// batch is decided by the test, not by timing.
#include "service/image_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clip/clip_model.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kBound = std::chrono::seconds(30);  // no test step may take longer

// Waits (polling, bounded) until pred() holds; false on timeout.
template <typename Pred>
bool eventually(Pred pred) {
  const auto deadline = Clock::now() + kBound;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// Wraps an encoder: records each call's batch size, and while closed holds the worker inside
// its pass (after recording it) until open() is called.
class Gate {
 public:
  explicit Gate(ImageBatcher::Encoder inner) : inner_(std::move(inner)) {}

  ImageBatcher::Encoder encoder() {
    return [this](std::span<const float> pixels, int n, std::span<float> out) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        sizes_.push_back(n);
        changed_.notify_all();
        changed_.wait(lock, [this] { return open_; });
      }
      return inner_(pixels, n, out);
    };
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `calls` passes have begun.
  bool wait_calls(size_t calls) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kBound, [&] { return sizes_.size() >= calls; });
  }
  std::vector<int> sizes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sizes_;
  }

 private:
  ImageBatcher::Encoder inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  std::vector<int> sizes_;
};

// A fake encoder over 4-value "images": row i of the output is (p0, p1, p2, p3) + 1, so each
// caller can tell its own answer; an image whose first value is NaN is refused (the whole pass).
constexpr size_t kPixels = 4;
constexpr size_t kDim = 4;
Status fake_encode(std::span<const float> pixels, int n, std::span<float> out) {
  for (int i = 0; i < n; ++i) {
    if (std::isnan(pixels[size_t(i) * kPixels])) {
      return Status::invalid_argument("image " + std::to_string(i) + " is not a number");
    }
    for (size_t j = 0; j < kDim; ++j)
      out[size_t(i) * kDim + j] = pixels[size_t(i) * kPixels + j] + 1;
  }
  return Status::ok();
}

std::vector<float> fake_image(int i) {
  return {float(i), 1, 2, 3};
}
std::vector<float> fake_answer(int i) {
  std::vector<float> v = {float(i) + 1, 2, 3, 4};
  double n = 0;
  for (float x : v) n += double(x) * x;
  for (float& x : v) x = float(x / std::sqrt(n));
  return v;
}

std::unique_ptr<ImageBatcher> make(ImageBatcher::Encoder encode, int max_batch, milliseconds delay,
                                   size_t pixels = kPixels, size_t dim = kDim) {
  auto b = ImageBatcher::create(std::move(encode), pixels, dim,
                                {.max_batch_size = max_batch, .max_delay = delay});
  EXPECT_TRUE(b.is_ok()) << b.status().to_string();
  return b.is_ok() ? std::move(b).value() : nullptr;
}

TEST(ImageBatcherTest, QueuedImagesShareBatchesOfAtMostTheMaximum) {
  Gate gate(fake_encode);
  auto batcher = make(gate.encoder(), 4, milliseconds(100));
  ASSERT_NE(batcher, nullptr);
  std::vector<std::future<StatusOr<std::vector<float>>>> answers;
  // The first image finds the engine idle and runs at once (a batch of one), held by the gate.
  answers.push_back(std::async(std::launch::async, [&] { return batcher->embed(fake_image(0)); }));
  ASSERT_TRUE(gate.wait_calls(1));
  for (int i = 1; i <= 6; ++i) {
    answers.push_back(
        std::async(std::launch::async, [&, i] { return batcher->embed(fake_image(i)); }));
  }
  ASSERT_TRUE(eventually([&] { return batcher->queued() == 6; }));
  gate.open();
  for (int i = 0; i <= 6; ++i) {
    ASSERT_EQ(answers[i].wait_for(kBound), std::future_status::ready);
    StatusOr<std::vector<float>> e = answers[i].get();
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    EXPECT_LE(testing::max_abs_diff(*e, fake_answer(i)), 1e-7) << "caller " << i;
  }
  // 6 queued with a maximum of 4: a full batch at once, then the other 2 after their delay.
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 4, 2}));
  const ImageBatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.batches, 3u);
  EXPECT_EQ(stats.queries, 7u);
  EXPECT_EQ(stats.largest, 4u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_NEAR(stats.mean_batch_size(), 7.0 / 3, 1e-12);
}

TEST(ImageBatcherTest, ALoneImageIsNotDelayed) {
  // A delay far longer than the bound asserted: a lone image must never wait for it, not even
  // one sent the moment the previous answer came back (the engine is idle again before answers
  // are handed out).
  auto batcher = make(fake_encode, 8, milliseconds(5000));
  ASSERT_NE(batcher, nullptr);
  for (int i = 0; i < 300; ++i) {
    const auto t0 = Clock::now();
    StatusOr<std::vector<float>> e = batcher->embed(fake_image(i));
    const auto took = Clock::now() - t0;
    ASSERT_TRUE(e.is_ok());
    EXPECT_LE(testing::max_abs_diff(*e, fake_answer(i)), 1e-7);
    EXPECT_LT(took, milliseconds(1000)) << "lone image " << i;
  }
  EXPECT_EQ(batcher->stats().batches, 300u);
  EXPECT_EQ(batcher->stats().largest, 1u);
}

TEST(ImageBatcherTest, ABatchSizeOfOneRunsEachImageAlone) {
  Gate gate(fake_encode);
  auto batcher = make(gate.encoder(), 1, milliseconds(50));
  ASSERT_NE(batcher, nullptr);
  std::vector<std::future<StatusOr<std::vector<float>>>> answers;
  answers.push_back(std::async(std::launch::async, [&] { return batcher->embed(fake_image(0)); }));
  ASSERT_TRUE(gate.wait_calls(1));
  for (int i = 1; i <= 3; ++i) {
    answers.push_back(
        std::async(std::launch::async, [&, i] { return batcher->embed(fake_image(i)); }));
  }
  ASSERT_TRUE(eventually([&] { return batcher->queued() == 3; }));
  gate.open();
  for (int i = 0; i <= 3; ++i) {
    StatusOr<std::vector<float>> e = answers[i].get();
    ASSERT_TRUE(e.is_ok());
    EXPECT_LE(testing::max_abs_diff(*e, fake_answer(i)), 1e-7);
  }
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 1, 1, 1}));
}

TEST(ImageBatcherTest, ABadImageFailsOnlyItsOwnCaller) {
  Gate gate(fake_encode);
  auto batcher = make(gate.encoder(), 8, milliseconds(20));
  ASSERT_NE(batcher, nullptr);
  auto first = std::async(std::launch::async, [&] { return batcher->embed(fake_image(0)); });
  ASSERT_TRUE(gate.wait_calls(1));
  std::vector<std::future<StatusOr<std::vector<float>>>> answers;
  for (int i = 1; i <= 5; ++i) {
    answers.push_back(std::async(std::launch::async, [&, i] {
      std::vector<float> image = fake_image(i);
      if (i == 3) image[0] = std::numeric_limits<float>::quiet_NaN();
      return batcher->embed(std::move(image));
    }));
  }
  ASSERT_TRUE(eventually([&] { return batcher->queued() == 5; }));
  gate.open();
  ASSERT_TRUE(first.get().is_ok());
  for (int i = 1; i <= 5; ++i) {
    StatusOr<std::vector<float>> e = answers[size_t(i - 1)].get();
    if (i == 3) {
      ASSERT_FALSE(e.is_ok());
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(e.is_ok()) << "caller " << i << ": " << e.status().to_string();
    EXPECT_LE(testing::max_abs_diff(*e, fake_answer(i)), 1e-7);
  }
  // The batch of 5 failed, then each of its images ran alone.
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 5, 1, 1, 1, 1, 1}));
  EXPECT_EQ(batcher->stats().failed, 1u);
  // Wrong sizes are refused before queueing; an encoder that throws fails its caller only.
  EXPECT_EQ(batcher->embed({1, 2}).status().code(), StatusCode::kInvalidArgument);
  auto throwing = make(
      [](std::span<const float> p, int, std::span<float>) -> Status {
        if (p[0] < 0) throw std::runtime_error("boom");
        return Status::ok();
      },
      4, milliseconds(1));
  ASSERT_NE(throwing, nullptr);
  EXPECT_EQ(throwing->embed({-1, 0, 0, 0}).status().code(), StatusCode::kInternal);
  EXPECT_TRUE(throwing->embed({1, 0, 0, 0}).is_ok());
}

TEST(ImageBatcherTest, ShutdownFailsQueuedImagesAndDoesNotHang) {
  Gate gate(fake_encode);
  auto batcher = make(gate.encoder(), 4, milliseconds(10000));
  ASSERT_NE(batcher, nullptr);
  auto running = std::async(std::launch::async, [&] { return batcher->embed(fake_image(0)); });
  ASSERT_TRUE(gate.wait_calls(1));
  std::vector<std::future<StatusOr<std::vector<float>>>> queued;
  for (int i = 1; i <= 6; ++i) {
    queued.push_back(
        std::async(std::launch::async, [&, i] { return batcher->embed(fake_image(i)); }));
  }
  ASSERT_TRUE(eventually([&] { return batcher->queued() == 6; }));
  auto stopped = std::async(std::launch::async, [&] { batcher->shutdown(); });
  // The queued images fail while the running pass is still held by the gate.
  for (auto& q : queued) {
    ASSERT_EQ(q.wait_for(kBound), std::future_status::ready);
    StatusOr<std::vector<float>> e = q.get();
    ASSERT_FALSE(e.is_ok());
    EXPECT_EQ(e.status().code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(stopped.wait_for(milliseconds(50)), std::future_status::timeout)
      << "shutdown() returned before the running pass ended";
  gate.open();
  ASSERT_EQ(stopped.wait_for(kBound), std::future_status::ready);
  StatusOr<std::vector<float>> e = running.get();  // the pass that was running completes
  ASSERT_TRUE(e.is_ok());
  EXPECT_LE(testing::max_abs_diff(*e, fake_answer(0)), 1e-7);
  EXPECT_EQ(batcher->embed(fake_image(9)).status().code(), StatusCode::kUnavailable);
  batcher->shutdown();  // idempotent
  batcher.reset();
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1}));
}

TEST(ImageBatcherTest, ShutdownUnderLoadReturnsEveryCaller) {
  auto batcher = make(fake_encode, 4, milliseconds(1));
  ASSERT_NE(batcher, nullptr);
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        StatusOr<std::vector<float>> e = batcher->embed(fake_image(t * 1000 + i));
        if (e.is_ok()) {
          ++ok;
        } else if (e.status().code() == StatusCode::kUnavailable) {
          ++unavailable;
        } else {
          ++other;
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return ok.load() >= 50; }));
  auto stopped = std::async(std::launch::async, [&] { batcher->shutdown(); });
  ASSERT_EQ(stopped.wait_for(kBound), std::future_status::ready);
  for (auto& c : callers) c.join();
  EXPECT_EQ(ok + unavailable, 8 * 200);
  EXPECT_EQ(other.load(), 0);
}

TEST(ImageBatcherTest, InvalidOptionsAreRefused) {
  EXPECT_FALSE(ImageBatcher::create(fake_encode, kPixels, kDim, {.max_batch_size = 0}).is_ok());
  EXPECT_FALSE(ImageBatcher::create(fake_encode, kPixels, kDim,
                                    {.max_batch_size = 2, .max_delay = milliseconds(-1)})
                   .is_ok());
  EXPECT_FALSE(ImageBatcher::create(nullptr, kPixels, kDim, {}).is_ok());
}

// The test model: many concurrent callers, each with its own image, get exactly the embedding
// that the model gives that image alone, in batches that the gate makes full.
TEST(ImageBatcherTest, ConcurrentCallersGetTheirOwnModelEmbeddings) {
  XRS_REQUIRE_DATASET();
  const ClipModel& model = testing::tiny_model();
  const int S = model.hparams().image_size;
  const size_t pixels_per_image = size_t(3) * S * S;
  const size_t dim = size_t(model.hparams().embed_dim);
  // The fixture images of many modes and sizes where ../shared has them, else 12 X-rays spread
  // over the test dataset.
  std::vector<std::string> files;
  if (testing::have_fixtures()) {
    for (const char* name :
         {"cxr-actm-0001.png", "dent-dc1k-0001.png", "dent-ufba-0020.jpg", "hand-rsna-0001.png",
          "gray_223x225.png", "gray_400x300.png", "gray_50x1000.png", "la_180x320.png",
          "rgb_480x640.png", "rgb_768x512.jpg", "rgba_250x250.png", "gray_31x17.png"}) {
      files.push_back(testing::fixtures_dir() + "/images/" + name);
    }
  } else {
    const std::vector<testing::DatasetRow> rows = testing::shared_rows();
    for (size_t i = 0; i < 12; ++i)
      files.push_back(testing::shared_file(rows[i * rows.size() / 12]));
  }
  std::vector<std::vector<float>> pixels;
  std::vector<std::vector<float>> expected;
  for (const std::string& name : files) {
    StatusOr<Image> image = decode_image_file(name);
    ASSERT_TRUE(image.is_ok()) << name << ": " << image.status().to_string();
    std::vector<float> p(pixels_per_image);
    ASSERT_TRUE(clip_preprocess(*image, model.preprocess_config(), p).is_ok());
    pixels.push_back(std::move(p));
    StatusOr<std::vector<float>> e = model.embed_image(*image);  // sequential, one at a time
    ASSERT_TRUE(e.is_ok());
    expected.push_back(std::move(e).value());
  }
  Gate gate(ImageBatcher::model_encoder(model));
  auto batcher = make(gate.encoder(), 8, milliseconds(50), pixels_per_image, dim);
  ASSERT_NE(batcher, nullptr);
  const int callers = 25;  // 1 alone, then 8 + 8 + 8
  std::vector<std::future<StatusOr<std::vector<float>>>> answers;
  answers.push_back(std::async(std::launch::async, [&] { return batcher->embed(pixels[0]); }));
  ASSERT_TRUE(gate.wait_calls(1));
  for (int c = 1; c < callers; ++c) {
    answers.push_back(std::async(
        std::launch::async, [&, c] { return batcher->embed(pixels[size_t(c) % pixels.size()]); }));
  }
  ASSERT_TRUE(eventually([&] { return batcher->queued() == size_t(callers - 1); }));
  gate.open();
  for (int c = 0; c < callers; ++c) {
    ASSERT_EQ(answers[size_t(c)].wait_for(kBound), std::future_status::ready);
    StatusOr<std::vector<float>> e = answers[size_t(c)].get();
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    const std::vector<float>& want = expected[size_t(c) % expected.size()];
    EXPECT_LE(testing::max_abs_diff(*e, want), 2e-6) << "caller " << c;
    // And nobody else's: closer to its own image than to any other distinct one.
    for (size_t o = 0; o < expected.size(); ++o) {
      if (testing::max_abs_diff(want, expected[o]) < 1e-3) continue;  // the same picture
      EXPECT_GT(testing::max_abs_diff(*e, expected[o]), 1e-3) << "caller " << c << " vs " << o;
    }
  }
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 8, 8, 8}));
  EXPECT_EQ(batcher->stats().largest, 8u);
}

}  // namespace
}  // namespace xrs
