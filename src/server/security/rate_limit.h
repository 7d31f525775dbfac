// Fairness between clients (docs/SECURITY.md, "Rate limits"): a token bucket of requests per
// client, and a cap on each client's uploads in flight. A client is the token's name when the
// request carries a valid token, else its address ("token:reading-room", "addr:10.0.0.7").
//
//   RateLimiter limiter({.requests_per_s = 20, .burst = 60, .uploads_per_client = 2});
//   if (auto wait = limiter.admit(client, now)) -> 429 with Retry-After: *wait
//   auto slot = limiter.begin_upload(client);  // empty: 429; released when `slot` is destroyed
//
// Memory stays bounded: past max_clients tracked clients, the ones whose bucket has refilled and
// that have no upload in flight are forgotten (they would start full anyway); if none can be,
// the new client is refused (429) until some can.
//
// Thread-safety: every method may be called from any number of threads (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace xrs::security {

struct RateLimitOptions {
  double requests_per_s = 0;   // sustained rate per client; 0: no request limit
  double burst = 0;            // bucket size (requests admitted at once); at least 1 when limiting
  int uploads_per_client = 0;  // uploads in flight per client; 0: no limit
  size_t max_clients = 100000;
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(RateLimitOptions options);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  bool limits_requests() const { return options_.requests_per_s > 0; }
  bool limits_uploads() const { return options_.uploads_per_client > 0; }

  // Takes one request from the client's bucket. nullopt: admitted. Otherwise the whole seconds
  // (at least 1) after which one request will be admitted again (for Retry-After).
  std::optional<int> admit(std::string_view client, Clock::time_point now);

  // An upload in flight; destroying (or reset()ting) it gives the slot back. Must not outlive
  // the limiter.
  class UploadSlot {
   public:
    UploadSlot() = default;
    UploadSlot(UploadSlot&& other) noexcept;
    UploadSlot& operator=(UploadSlot&& other) noexcept;
    ~UploadSlot();
    void reset();
    explicit operator bool() const { return limiter_ != nullptr; }

   private:
    friend class RateLimiter;
    UploadSlot(RateLimiter* limiter, std::string client)
        : limiter_(limiter), client_(std::move(client)) {}
    RateLimiter* limiter_ = nullptr;
    std::string client_;
  };
  // A slot, or nullopt when the client has uploads_per_client uploads in flight already. Without
  // an upload limit the slot is an empty one (nothing to give back).
  std::optional<UploadSlot> begin_upload(std::string_view client);

  // Clients tracked now (tests).
  size_t tracked_clients() const;

 private:
  struct Client {
    double tokens = 0;
    Clock::time_point updated;
    int uploads = 0;
  };
  void end_upload(const std::string& client);
  Client* find_or_add(std::string_view client, Clock::time_point now);
  void refill(Client& c, Clock::time_point now) const;

  const RateLimitOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Client> clients_;
};

}  // namespace xrs::security
