#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace xrs::app {

ProgressLine::ProgressLine(Clock::duration plain_interval)
    : tty_(::isatty(STDERR_FILENO) == 1), interval_(plain_interval) {}

void ProgressLine::draw(std::string_view text, bool last) {
  std::fprintf(stderr, "\r%.*s", static_cast<int>(text.size()), text.data());
  drawn_ = true;
  if (last) finish();
  std::fflush(stderr);
}

bool ProgressLine::plain_due(bool force) {
  const Clock::time_point now = Clock::now();
  if (!force && started_ && now - last_ < interval_) return false;
  started_ = true;
  last_ = now;
  return true;
}

void ProgressLine::print(std::string_view line) {
  finish();
  std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

void ProgressLine::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

std::string strfmt(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out(static_cast<size_t>(std::max(n, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, format, args);
  va_end(args);
  return out;
}

std::string progress_bar(int filled, int width, char empty) {
  filled = std::clamp(filled, 0, width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(static_cast<size_t>(width), empty);
  return bar;
}

std::string format_duration(double s) {
  char buf[32];
  const int t = static_cast<int>(s + 0.5);
  if (t >= 3600) {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", t / 3600, t / 60 % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", t / 60, t % 60);
  }
  return buf;
}

std::string human_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  } else if (bytes < (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  }
  return buf;
}

}  // namespace xrs::app
