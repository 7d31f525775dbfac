// Progress on stderr for the long commands (index, model fetch, dataset fetch): on a terminal one
// status line redrawn in place, otherwise plain lines, at most one per interval, so that a log
// file stays readable. Each command formats its own text; this class owns the terminal state.
// Not thread-safe: call from one thread (the progress callbacks run on the calling thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace xrs::app {

class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;

  // `plain_interval`: the least time between two plain lines (not on a terminal).
  explicit ProgressLine(Clock::duration plain_interval);

  // Whether stderr is a terminal (decided once, at construction).
  bool tty() const { return tty_; }

  // Terminal only: replaces the status line with `text` ("\r" + text, flushed); `last` ends the
  // line with a newline (the next draw starts a new one).
  void draw(std::string_view text, bool last = false);
  // Not on a terminal: true when a plain line is due, i.e. `force`, the first call, or
  // plain_interval since the last due line; a due line restarts the interval.
  bool plain_due(bool force = false);
  // Prints `line` and a newline, ending a drawn status line first.
  void print(std::string_view line);
  // Ends a drawn status line with a newline (nothing when none is drawn).
  void finish();

 private:
  bool tty_;
  bool drawn_ = false;
  Clock::duration interval_;
  Clock::time_point last_{};
  bool started_ = false;
};

// printf into a std::string.
std::string strfmt(const char* format, ...) __attribute__((format(printf, 1, 2)));

// `width` characters: `filled` (clamped to 0..width) '#' then `empty`.
std::string progress_bar(int filled, int width, char empty = '.');
// "4m05s", "1h02m" (rounded to the second).
std::string format_duration(double seconds);
// "512 B", "12.3 KiB", "4.5 MiB", "1.25 GiB".
std::string human_bytes(uint64_t bytes);

}  // namespace xrs::app
