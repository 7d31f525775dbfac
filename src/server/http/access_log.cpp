#include "server/http/access_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "core/strings.h"

namespace xrs {

AccessLog::AccessLog(Sink sink) : sink_(std::move(sink)) {
  // Distinguishes the ids of different server runs in one log file; not a secret.
  prefix_ = std::random_device{}() & 0xFFFF;
}

std::string AccessLog::next_request_id() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x-%06llx", prefix_,
                static_cast<unsigned long long>(counter_.fetch_add(1) + 1));
  return buf;
}

void AccessLog::write(std::string_view method, std::string_view path, int status, size_t bytes,
                      double ms, std::string_view request_id, std::string_view principal,
                      std::string_view client, std::string_view detail) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char when[40];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &utc);

  char numbers[96];
  std::snprintf(numbers, sizeof numbers, " %d %zuB %.1fms id=", status, bytes, ms);
  std::string line = when;
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(millis));
  line += frac;
  line += method.empty() ? std::string("-") : escape_for_log(method, 16);
  line += ' ';
  line += path.empty() ? std::string("-") : escape_for_log(path);
  line += numbers;
  line += request_id;
  line += " client=";
  line += client.empty() ? std::string("-") : escape_for_log(client, 64);
  line += " principal=";
  line += principal.empty() ? std::string("-") : escape_for_log(principal, 64);
  if (!detail.empty()) {
    line += ' ';
    line += detail;
  }
  std::lock_guard lock(mutex_);
  if (sink_) {
    sink_(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace xrs
