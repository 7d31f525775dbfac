#include "fetch_cli.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace xrs::app {

using Clock = std::chrono::steady_clock;

void add_download_options(CLI::App& cmd, DownloadCliOptions& o) {
  cmd.add_option("--connect-timeout", o.connect_timeout_s, "seconds to establish a connection")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  cmd.add_option("--stall-timeout", o.stall_timeout_s,
                 "seconds without data before an attempt is abandoned (whole seconds)")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  cmd.add_option("--retries", o.retries, "retries of transient failures, with backoff")
      ->check(CLI::Range(0, 20))
      ->capture_default_str();
}

DownloadOptions download_options(const DownloadCliOptions& o) {
  DownloadOptions d;
  d.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.connect_timeout_s * 1000));
  d.stall_timeout = std::chrono::seconds(static_cast<int64_t>(o.stall_timeout_s));
  d.max_attempts = 1 + o.retries;
  const char* env = std::getenv("XRAY_FETCH_ALLOW_HTTP");
  d.allow_http_loopback = env != nullptr && std::string(env) == "1";
  return d;
}

void DownloadProgressPrinter::finish_line() {
  line_.finish();
}

void DownloadProgressPrinter::operator()(const DownloadProgress& p) {
  const Clock::time_point now = Clock::now();
  const std::string name = std::filesystem::path(*p.dest).filename().string();
  const bool fresh = name != current_;
  if (fresh) {
    current_ = name;
    started_ = now;
    start_bytes_ = p.bytes_done;
    if (p.resumed_from > 0) {
      line_.print("xray-search: resuming " + name + " at " + human_bytes(p.resumed_from));
    } else {
      line_.finish();
    }
  }
  const double secs = std::chrono::duration<double>(now - started_).count();
  const double rate = secs > 0.5 ? static_cast<double>(p.bytes_done - start_bytes_) / secs : 0;
  std::string total = p.bytes_total >= 0 ? human_bytes(static_cast<uint64_t>(p.bytes_total)) : "?";
  const int percent = p.bytes_total > 0
                          ? static_cast<int>(100.0 * static_cast<double>(p.bytes_done) /
                                             static_cast<double>(p.bytes_total))
                          : -1;
  if (line_.tty()) {
    const std::string bar = progress_bar(percent >= 0 ? percent * 30 / 100 : 0, 30, ' ');
    line_.draw(strfmt("%-28.28s [%s] %s / %s  %s/s   ", name.c_str(), bar.c_str(),
                      human_bytes(p.bytes_done).c_str(), total.c_str(),
                      human_bytes(static_cast<uint64_t>(rate)).c_str()));
    return;
  }
  if (!line_.plain_due(fresh)) return;
  std::string text = "xray-search: " + name + ": " + human_bytes(p.bytes_done) + " / " + total;
  if (percent >= 0) text += strfmt(" (%d%%)", percent);
  line_.print(text);
}

}  // namespace xrs::app
