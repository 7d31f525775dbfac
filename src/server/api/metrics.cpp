#include "server/api/metrics.h"

#include <cstdio>

namespace xrs::api {

namespace {

// A label value with \, " and newline escaped as the text format requires.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::record(std::string_view route, int status, double seconds, size_t upload_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{std::string(route), status}];
  constexpr std::string_view kSearch = "/api/search/";
  if (route.starts_with(kSearch) && seconds >= 0) {
    Histogram& h = latency_[std::string(route.substr(kSearch.size()))];
    size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    if (i < kBuckets.size()) ++h.buckets[i];
    ++h.count;
    h.sum += seconds;
  }
  if (upload_bytes > 0) {
    upload_bytes_ += upload_bytes;
    ++uploads_;
  }
}

std::string Metrics::render(const BackendInfo& info) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP xrs_http_requests_total HTTP requests by route pattern and status.\n";
  out += "# TYPE xrs_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "xrs_http_requests_total{route=\"" + label(key.first) + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP xrs_search_duration_seconds Time to answer a search (embedding the query and "
      "ranking), by query type.\n";
  out += "# TYPE xrs_search_duration_seconds histogram\n";
  for (const auto& [type, h] : latency_) {
    uint64_t cumulative = 0;
    const std::string t = "type=\"" + label(type) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += "xrs_search_duration_seconds_bucket{" + t + ",le=\"" + number(kBuckets[i]) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "xrs_search_duration_seconds_bucket{" + t + ",le=\"+Inf\"} " + std::to_string(h.count) +
           "\n";
    out += "xrs_search_duration_seconds_sum{" + t + "} " + number(h.sum) + "\n";
    out += "xrs_search_duration_seconds_count{" + t + "} " + std::to_string(h.count) + "\n";
  }
  out += "# HELP xrs_upload_bytes_total Bytes of uploaded query images.\n";
  out += "# TYPE xrs_upload_bytes_total counter\n";
  out += "xrs_upload_bytes_total " + std::to_string(upload_bytes_) + "\n";
  out += "# HELP xrs_uploads_total Uploaded query images.\n";
  out += "# TYPE xrs_uploads_total counter\n";
  out += "xrs_uploads_total " + std::to_string(uploads_) + "\n";
  const BackendInfo::ImageBatching& batching = info.image_batching;
  out +=
      "# HELP xrs_image_batches_total Forward passes of the image encoder run for query images "
      "(one per batch).\n";
  out += "# TYPE xrs_image_batches_total counter\n";
  out += "xrs_image_batches_total " + std::to_string(batching.batches) + "\n";
  out += "# HELP xrs_image_batch_queries_total Query images embedded in those batches.\n";
  out += "# TYPE xrs_image_batch_queries_total counter\n";
  out += "xrs_image_batch_queries_total " + std::to_string(batching.queries) + "\n";
  out +=
      "# HELP xrs_image_batch_max_size The largest batch of query images allowed (serve "
      "--batch-max-size; 1: no batching).\n";
  out += "# TYPE xrs_image_batch_max_size gauge\n";
  out += "xrs_image_batch_max_size " + std::to_string(batching.max_batch_size) + "\n";
  out += "# HELP xrs_index_images Images in the index.\n";
  out += "# TYPE xrs_index_images gauge\n";
  out += "xrs_index_images " + std::to_string(info.images) + "\n";
  out += "# HELP xrs_embedding_dimension The model's embedding dimension.\n";
  out += "# TYPE xrs_embedding_dimension gauge\n";
  out += "xrs_embedding_dimension " + std::to_string(info.dim) + "\n";
  out +=
      "# HELP xrs_model_info The model the index was built with (name and weights SHA-256 "
      "prefix).\n";
  out += "# TYPE xrs_model_info gauge\n";
  out += "xrs_model_info{model=\"" + label(info.model) + "\"} 1\n";
  return out;
}

}  // namespace xrs::api
