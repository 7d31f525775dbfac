// Shared by `model fetch` and `dataset fetch`: the download options on the command line, and a
// progress display for one download at a time (a bar on a terminal, plain lines otherwise).
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <string>

#include "fetch/download.h"
#include "progress.h"

namespace xrs::app {

struct DownloadCliOptions {
  double connect_timeout_s = 15;
  double stall_timeout_s = 30;
  int retries = 3;
};

// --connect-timeout, --stall-timeout, --retries.
void add_download_options(CLI::App& cmd, DownloadCliOptions& o);

// The library options. Plain http to a loopback host (a local mirror, the tests' servers) is
// allowed when the environment sets XRAY_FETCH_ALLOW_HTTP=1.
DownloadOptions download_options(const DownloadCliOptions& o);

// Renders DownloadProgress on stderr: a redrawn bar on a terminal, else one line per file at
// start, then at most one line every 10 s. Not thread-safe (one download at a time).
class DownloadProgressPrinter {
 public:
  void operator()(const DownloadProgress& p);
  // Ends the bar's line (call before printing anything else).
  void finish_line();

 private:
  ProgressLine line_{std::chrono::seconds(10)};
  std::string current_;
  std::chrono::steady_clock::time_point started_{};
  uint64_t start_bytes_ = 0;
};

}  // namespace xrs::app
