#include "server/security/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

namespace xrs::security {

RateLimiter::RateLimiter(RateLimitOptions options) : options_(options) {}
RateLimiter::~RateLimiter() = default;

void RateLimiter::refill(Client& c, Clock::time_point now) const {
  if (now <= c.updated) return;
  const double seconds = std::chrono::duration<double>(now - c.updated).count();
  c.tokens = std::min(std::max(options_.burst, 1.0), c.tokens + seconds * options_.requests_per_s);
  c.updated = now;
}

RateLimiter::Client* RateLimiter::find_or_add(std::string_view client, Clock::time_point now) {
  auto it = clients_.find(std::string(client));
  if (it != clients_.end()) return &it->second;
  if (clients_.size() >= options_.max_clients) {
    // Forget the clients that are back to a full bucket and have nothing in flight.
    for (auto at = clients_.begin(); at != clients_.end();) {
      Client& c = at->second;
      refill(c, now);
      const bool idle =
          c.uploads == 0 && (options_.requests_per_s <= 0 || c.tokens >= options_.burst);
      at = idle ? clients_.erase(at) : std::next(at);
    }
    if (clients_.size() >= options_.max_clients) return nullptr;
  }
  Client fresh;
  fresh.tokens = std::max(options_.burst, 1.0);
  fresh.updated = now;
  return &clients_.emplace(std::string(client), fresh).first->second;
}

std::optional<int> RateLimiter::admit(std::string_view client, Clock::time_point now) {
  if (!limits_requests()) return std::nullopt;
  std::lock_guard lock(mutex_);
  Client* c = find_or_add(client, now);
  if (c == nullptr) return 1;
  refill(*c, now);
  if (c->tokens >= 1.0) {
    c->tokens -= 1.0;
    return std::nullopt;
  }
  const double wait_s = (1.0 - c->tokens) / options_.requests_per_s;
  return std::max(1, static_cast<int>(std::ceil(wait_s)));
}

std::optional<RateLimiter::UploadSlot> RateLimiter::begin_upload(std::string_view client) {
  if (!limits_uploads()) return UploadSlot{};
  std::lock_guard lock(mutex_);
  Client* c = find_or_add(client, Clock::now());
  if (c == nullptr || c->uploads >= options_.uploads_per_client) return std::nullopt;
  ++c->uploads;
  return UploadSlot(this, std::string(client));
}

void RateLimiter::end_upload(const std::string& client) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(client);
  if (it != clients_.end() && it->second.uploads > 0) --it->second.uploads;
}

size_t RateLimiter::tracked_clients() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

RateLimiter::UploadSlot::UploadSlot(UploadSlot&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), client_(std::move(other.client_)) {}

RateLimiter::UploadSlot& RateLimiter::UploadSlot::operator=(UploadSlot&& other) noexcept {
  if (this != &other) {
    reset();
    limiter_ = std::exchange(other.limiter_, nullptr);
    client_ = std::move(other.client_);
  }
  return *this;
}

RateLimiter::UploadSlot::~UploadSlot() {
  reset();
}

void RateLimiter::UploadSlot::reset() {
  if (limiter_ != nullptr) limiter_->end_upload(client_);
  limiter_ = nullptr;
}

}  // namespace xrs::security
