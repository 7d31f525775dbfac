// Counters and histograms of the API, rendered in the Prometheus text format (version 0.0.4)
// for GET /metrics (docs/API.md, "Metrics"). Thread-safe: one mutex guards everything.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "service/search_service.h"

namespace xrs::api {

class Metrics {
 public:
  // Upper bounds (seconds) of the latency histograms' buckets (+Inf implied).
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};

  // One request: its route pattern ("unmatched" when none), status, how long the handler took
  // (negative: not served, e.g. refused before its body was read: no histogram), and the bytes
  // of a multipart upload (0 otherwise). Routes /api/search/<type> feed the histogram of <type>
  // (every answer, errors included).
  void record(std::string_view route, int status, double seconds, size_t upload_bytes);

  // The exposition: requests by route and status, latency histograms per query type, upload
  // bytes, the index size, the model identity and embedding dimension.
  std::string render(const BackendInfo& info) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative counts
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  uint64_t upload_bytes_ = 0;
  uint64_t uploads_ = 0;
};

}  // namespace xrs::api
