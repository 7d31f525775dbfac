// ImageBatcher: gathers concurrent query images into one forward pass of the image encoder.
//
//   ImageBatcher batcher(ImageBatcher::model_encoder(model), pixels_per_image, embed_dim,
//                        {.max_batch_size = 8, .max_delay = std::chrono::milliseconds(5)});
//   StatusOr<std::vector<float>> e = batcher.embed(std::move(pixels));  // from any thread
//
// Each caller hands in one preprocessed image (3 x S x S floats, as clip_preprocess() makes them;
// decoding and preprocessing stay in the caller's thread) and gets back its own L2-normalised
// embedding. One worker thread owns the encoder:
// - An image that arrives while the engine is idle runs at once (a lone query waits for nothing),
//   together with whatever else is queued by then.
// - Images that arrive while a batch runs queue up. When the batch is done, the queue runs as
//   the next batch as soon as it holds max_batch_size images or its oldest image has waited
//   max_delay since it arrived, whichever comes first (a forward pass longer than max_delay
//   means the queue runs right away). At most max_batch_size images run in one pass.
// - The engine counts as idle again before a batch's callers get their answers, so a client
//   that sends its next image as soon as it has its answer never waits for the delay.
// - An error of the batch's pass (the encoder refuses or throws) is retried image by image, so
//   one bad image fails only its own caller.
//
// Thread-safety: embed(), stats() and shutdown() may be called from any thread at any time.
// shutdown() (also run by the destructor) fails every queued image with kUnavailable at once,
// lets the batch already running finish (its callers get their results), joins the worker and
// makes later embed() calls fail with kUnavailable. A caller that stops waiting is not
// possible by construction (embed() blocks until its image is answered); a caller whose client
// went away simply discards its result, and the rest of its batch is unaffected.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "core/status.h"

namespace xrs {

class ClipModel;

struct ImageBatcherOptions {
  // Images per forward pass at most. 1: every image runs alone, in arrival order.
  int max_batch_size = 8;
  // How long a queued image may wait for more to join its batch, counted from its arrival.
  std::chrono::microseconds max_delay = std::chrono::milliseconds(5);
};

struct ImageBatcherStats {
  uint64_t batches = 0;  // forward passes run (retries of a failed batch not counted)
  uint64_t queries = 0;  // images that went through them
  uint64_t largest = 0;  // the largest batch so far
  uint64_t failed = 0;   // batches whose pass failed and were retried image by image
  double mean_batch_size() const { return batches == 0 ? 0.0 : double(queries) / batches; }
};

class ImageBatcher {
 public:
  // encode(pixels, n, out): n images of pixels_per_image floats → n x dim, unnormalised
  // (ClipModel::encode_images). Called from the worker thread only, one call at a time.
  using Encoder = std::function<Status(std::span<const float> pixels, int n, std::span<float> out)>;

  // kInvalidArgument for max_batch_size < 1, a negative delay, or zero sizes.
  static StatusOr<std::unique_ptr<ImageBatcher>> create(Encoder encode, size_t pixels_per_image,
                                                        size_t dim, ImageBatcherOptions options);
  // The model's encode_images; the model must outlive the batcher.
  static Encoder model_encoder(const ClipModel& model);

  ~ImageBatcher();
  ImageBatcher(const ImageBatcher&) = delete;
  ImageBatcher& operator=(const ImageBatcher&) = delete;

  // One image's L2-normalised embedding (dim floats). Blocks until its batch has run. Errors:
  // kInvalidArgument when pixels is not pixels_per_image long, the encoder's error for this
  // image, kUnavailable once shutdown() has begun.
  StatusOr<std::vector<float>> embed(std::vector<float> pixels);

  void shutdown();  // idempotent

  ImageBatcherStats stats() const;
  const ImageBatcherOptions& options() const { return options_; }
  size_t queued() const;  // images waiting for a batch (not those running)

 private:
  struct Pending;
  ImageBatcher(Encoder encode, size_t pixels_per_image, size_t dim, ImageBatcherOptions options);
  void run();
  // One pass over `batch` (retried image by image when it fails): one result per image, in
  // order. Returns whether the batch's pass failed.
  bool run_batch(const std::vector<std::shared_ptr<Pending>>& batch,
                 std::vector<StatusOr<std::vector<float>>>& results);

  const Encoder encode_;
  const size_t pixels_per_image_;
  const size_t dim_;
  const ImageBatcherOptions options_;

  mutable std::mutex mutex_;  // guards everything below but thread_
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stop_ = false;
  bool busy_ = false;  // the worker is running a batch
  ImageBatcherStats stats_;

  std::mutex join_mutex_;  // one shutdown() joins the worker
  std::thread thread_;
};

}  // namespace xrs
