#include "service/image_batcher.h"

#include <algorithm>
#include <exception>
#include <future>
#include <string>
#include <utility>

#include "clip/clip_model.h"
#include "clip/ops.h"

namespace xrs {

namespace {

using Clock = std::chrono::steady_clock;

Status shutting_down() {
  return Status::unavailable("the server is shutting down: the query image was not embedded");
}

// The encoder's status, with an exception it throws turned into kInternal (the worker survives).
Status call_encoder(const ImageBatcher::Encoder& encode, std::span<const float> pixels, int n,
                    std::span<float> out) {
  try {
    return encode(pixels, n, out);
  } catch (const std::exception& e) {
    return Status::internal(std::string("embedding the query image failed: ") + e.what());
  } catch (...) {
    return Status::internal("embedding the query image failed");
  }
}

}  // namespace

struct ImageBatcher::Pending {
  std::vector<float> pixels;
  Clock::time_point arrived;
  bool engine_was_busy = false;  // a batch was running when it arrived
  std::promise<StatusOr<std::vector<float>>> result;
};

StatusOr<std::unique_ptr<ImageBatcher>> ImageBatcher::create(Encoder encode,
                                                             size_t pixels_per_image, size_t dim,
                                                             ImageBatcherOptions options) {
  if (options.max_batch_size < 1) {
    return Status::invalid_argument("the largest image batch must be at least 1");
  }
  if (options.max_delay.count() < 0) {
    return Status::invalid_argument("the image batch delay must not be negative");
  }
  if (pixels_per_image == 0 || dim == 0 || !encode) {
    return Status::invalid_argument("an image batcher needs an encoder and its sizes");
  }
  return std::unique_ptr<ImageBatcher>(
      new ImageBatcher(std::move(encode), pixels_per_image, dim, options));
}

ImageBatcher::Encoder ImageBatcher::model_encoder(const ClipModel& model) {
  return [&model](std::span<const float> pixels, int n, std::span<float> out) {
    return model.encode_images(pixels, n, out);
  };
}

ImageBatcher::ImageBatcher(Encoder encode, size_t pixels_per_image, size_t dim,
                           ImageBatcherOptions options)
    : encode_(std::move(encode)),
      pixels_per_image_(pixels_per_image),
      dim_(dim),
      options_(options),
      thread_([this] { run(); }) {}

ImageBatcher::~ImageBatcher() {
  shutdown();
}

void ImageBatcher::shutdown() {
  std::deque<std::shared_ptr<Pending>> queued;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    queued.swap(queue_);
  }
  wake_.notify_all();
  // Queued images fail now, without waiting for the batch that is running.
  for (const auto& p : queued) p->result.set_value(shutting_down());
  std::lock_guard<std::mutex> one(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

ImageBatcherStats ImageBatcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

size_t ImageBatcher::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

StatusOr<std::vector<float>> ImageBatcher::embed(std::vector<float> pixels) {
  if (pixels.size() != pixels_per_image_) {
    return Status::invalid_argument("the preprocessed query image has " +
                                    std::to_string(pixels.size()) + " values, not " +
                                    std::to_string(pixels_per_image_));
  }
  auto pending = std::make_shared<Pending>();
  pending->pixels = std::move(pixels);
  std::future<StatusOr<std::vector<float>>> answer = pending->result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return shutting_down();
    pending->arrived = Clock::now();
    pending->engine_was_busy = busy_;
    queue_.push_back(std::move(pending));
  }
  wake_.notify_one();
  return answer.get();
}

void ImageBatcher::run() {
  const size_t max_batch = static_cast<size_t>(options_.max_batch_size);
  std::vector<std::shared_ptr<Pending>> batch;
  std::vector<StatusOr<std::vector<float>>> results;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (!stop_ && queue_.front()->engine_was_busy && queue_.size() < max_batch) {
      // The oldest image arrived while a batch ran: wait until the batch is full or it has
      // waited max_delay (already past when the pass took longer than that). An image that
      // found the engine idle runs at once.
      const Clock::time_point deadline = queue_.front()->arrived + options_.max_delay;
      wake_.wait_until(lock, deadline,
                       [this, max_batch] { return stop_ || queue_.size() >= max_batch; });
    }
    if (stop_) break;  // shutdown() has failed the queue
    const size_t n = std::min(max_batch, queue_.size());
    batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    busy_ = true;
    lock.unlock();
    const bool failed = run_batch(batch, results);
    lock.lock();
    // Idle again before anyone hears back: a caller's next image finds the engine idle.
    busy_ = false;
    ++stats_.batches;
    stats_.queries += n;
    stats_.largest = std::max<uint64_t>(stats_.largest, n);
    if (failed) ++stats_.failed;
    lock.unlock();
    for (size_t i = 0; i < n; ++i) batch[i]->result.set_value(std::move(results[i]));
    batch.clear();
    results.clear();
    lock.lock();
  }
}

bool ImageBatcher::run_batch(const std::vector<std::shared_ptr<Pending>>& batch,
                             std::vector<StatusOr<std::vector<float>>>& results) {
  const int n = static_cast<int>(batch.size());
  std::vector<float> pixels;
  if (n == 1) {
    pixels = std::move(batch[0]->pixels);
  } else {
    pixels.resize(batch.size() * pixels_per_image_);
    for (size_t i = 0; i < batch.size(); ++i) {
      std::copy(batch[i]->pixels.begin(), batch[i]->pixels.end(),
                pixels.begin() + static_cast<std::ptrdiff_t>(i * pixels_per_image_));
    }
  }
  std::vector<float> out(batch.size() * dim_);
  Status s = call_encoder(encode_, pixels, n, out);
  if (s.is_ok()) {
    l2_normalize_rows(out.data(), n, static_cast<int>(dim_));
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto row = out.begin() + static_cast<std::ptrdiff_t>(i * dim_);
      results.emplace_back(std::vector<float>(row, row + static_cast<std::ptrdiff_t>(dim_)));
    }
    return false;
  }
  if (n == 1) {
    results.emplace_back(std::move(s));
    return false;
  }
  // The pass failed: each image alone, so that one bad image fails only its own caller.
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::span<const float> one(pixels.data() + i * pixels_per_image_, pixels_per_image_);
    std::vector<float> e(dim_);
    Status alone = call_encoder(encode_, one, 1, e);
    if (!alone.is_ok()) {
      results.emplace_back(std::move(alone));
      continue;
    }
    l2_normalize_rows(e.data(), 1, static_cast<int>(dim_));
    results.emplace_back(std::move(e));
  }
  return true;
}

}  // namespace xrs
