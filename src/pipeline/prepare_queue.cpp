#include "pipeline/prepare_queue.h"

#include <cstdint>
#include <span>

#include "core/file_util.h"
#include "core/sha256.h"

namespace xrs {

namespace {

// Files larger than this are not read (an X-ray DICOM is rarely over 100 MB).
constexpr uint64_t kMaxImageFileBytes = uint64_t(1) << 30;

}  // namespace

PreparedImage prepare_image(const std::string& path, const DecodeOptions& decode,
                            const ClipPreprocessConfig& preprocess) {
  PreparedImage out;
  StatusOr<std::string> bytes = read_file(path, kMaxImageFileBytes);
  if (!bytes.is_ok()) {
    out.status = bytes.status();
    return out;
  }
  out.sha256 = sha256_hex(*bytes);
  std::span<const uint8_t> view(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  StatusOr<Image> image = decode_image(view, decode);
  if (!image.is_ok()) {
    out.status = image.status().with_context(path);
    return out;
  }
  out.width = image->width;
  out.height = image->height;
  out.pixels.resize(size_t(3) * preprocess.image_size * preprocess.image_size);
  Status s = clip_preprocess(*image, preprocess, out.pixels);
  if (!s.is_ok()) {
    out.status = s.with_context(path);
    out.pixels.clear();
  }
  return out;
}

PrepareQueue::PrepareQueue(std::vector<std::string> paths, DecodeOptions decode,
                           ClipPreprocessConfig preprocess, size_t capacity)
    : paths_(std::move(paths)),
      decode_(std::move(decode)),
      preprocess_(preprocess),
      capacity_(capacity < 1 ? 1 : capacity),
      worker_([this] { work(); }) {}

PrepareQueue::~PrepareQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void PrepareQueue::work() {
  for (size_t i = 0; i < paths_.size(); ++i) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [this] { return stop_ || ready_.size() < capacity_; });
      if (stop_) return;
    }
    PreparedImage p = prepare_image(paths_[i], decode_, preprocess_);
    p.item = i;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(std::move(p));
    }
    changed_.notify_all();
  }
}

std::optional<PreparedImage> PrepareQueue::next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (taken_ == paths_.size()) return std::nullopt;
  changed_.wait(lock, [this] { return !ready_.empty(); });
  PreparedImage p = std::move(ready_.front());
  ready_.pop_front();
  ++taken_;
  lock.unlock();
  changed_.notify_all();
  return p;
}

}  // namespace xrs
