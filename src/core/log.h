// Diagnostics for libraries: leveled messages to a process-wide sink (stderr by default).
// Libraries log sparingly (warnings the caller cannot otherwise see); results and errors travel
// as return values. Apps choose the level and may replace the sink. Thread-safe.
#pragma once

#include <functional>
#include <string_view>

namespace xrs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

using LogSink = std::function<void(LogLevel, std::string_view)>;

void set_log_level(LogLevel level);
LogLevel log_level();
// Replaces the sink (nullptr restores the default: "xray-search: <level>: <message>" on stderr).
void set_log_sink(LogSink sink);

void log_message(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { log_message(LogLevel::kDebug, m); }
inline void log_info(std::string_view m) { log_message(LogLevel::kInfo, m); }
inline void log_warning(std::string_view m) { log_message(LogLevel::kWarning, m); }
inline void log_error(std::string_view m) { log_message(LogLevel::kError, m); }

}  // namespace xrs
