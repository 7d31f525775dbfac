// The producer side of indexing: reads, hashes, decodes and preprocesses images on a worker
// thread while the model embeds earlier batches. Internal to the pipeline module.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"

namespace xrs {

struct PreparedImage {
  size_t item = 0;            // index into the caller's work list
  Status status;              // why the image cannot be used (then pixels is empty)
  std::vector<float> pixels;  // 3 x S x S, normalised
  std::string sha256;         // of the bytes that were decoded
  int width = 0;
  int height = 0;
};

// Prepares paths[0..n) in order on one worker thread, holding at most `capacity` results.
// next() blocks until the next result is ready and returns nullopt after the last one.
// The destructor stops the worker (results not taken are dropped).
class PrepareQueue {
 public:
  PrepareQueue(std::vector<std::string> paths, DecodeOptions decode,
               ClipPreprocessConfig preprocess, size_t capacity);
  ~PrepareQueue();
  PrepareQueue(const PrepareQueue&) = delete;
  PrepareQueue& operator=(const PrepareQueue&) = delete;

  std::optional<PreparedImage> next();

 private:
  void work();

  const std::vector<std::string> paths_;
  const DecodeOptions decode_;
  const ClipPreprocessConfig preprocess_;
  const size_t capacity_;

  std::mutex mu_;  // guards everything below
  std::condition_variable changed_;
  std::deque<PreparedImage> ready_;
  size_t taken_ = 0;
  bool stop_ = false;
  std::thread worker_;  // last: starts after the members above exist
};

// Reads, hashes, decodes and preprocesses one file (what the worker does for each path).
PreparedImage prepare_image(const std::string& path, const DecodeOptions& decode,
                            const ClipPreprocessConfig& preprocess);

}  // namespace xrs
