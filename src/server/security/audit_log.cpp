#include "server/security/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/log.h"

namespace xrs::security {
namespace {

std::string utc_now_ms() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char when[40];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", when, static_cast<int>(millis));
  return out;
}

std::string os_error(const std::string& path, const char* what) {
  return path + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

AuditLog::AuditLog(AuditOptions options, Sink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<AuditLog> AuditLog::to_sink(Sink sink, bool log_query_text) {
  AuditOptions options;
  options.log_query_text = log_query_text;
  return std::unique_ptr<AuditLog>(new AuditLog(options, std::move(sink)));
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::open(const AuditOptions& options) {
  if (options.path.empty()) return Status::invalid_argument("the audit log needs a file name");
  if (options.max_bytes < 1024) {
    return Status::invalid_argument("the audit log's rotation size must be at least 1024 bytes");
  }
  if (options.keep < 1 || options.keep > 100) {
    return Status::invalid_argument("the audit log keeps 1 to 100 rotated files");
  }
  std::unique_ptr<AuditLog> log(new AuditLog(options, nullptr));
  log->fd_ = ::open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log->fd_ < 0) return Status::io_error(os_error(options.path, "cannot open the audit log"));
  struct stat st {};
  if (::fstat(log->fd_, &st) != 0) return Status::io_error(os_error(options.path, "fstat"));
  if (!S_ISREG(st.st_mode)) {
    return Status::invalid_argument(options.path + ": the audit log must be a regular file");
  }
  log->size_ = static_cast<uint64_t>(st.st_size);
  return log;
}

std::string AuditLog::format(const AuditRecord& r) {
  nlohmann::ordered_json j;
  j["time"] = utc_now_ms();
  j["request_id"] = r.request_id;
  j["principal"] =
      r.principal.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.principal);
  j["client"] = r.client;
  j["method"] = r.method;
  j["route"] = r.route;
  j["status"] = r.status;
  if (!r.facts.event.empty()) j["event"] = r.facts.event;
  for (const auto& [name, value] : r.facts.members) {
    std::visit([&, &name = name](const auto& v) { j[name] = v; }, value);
  }
  // One line whatever the input: the encoder escapes control characters, and bytes that are not
  // UTF-8 become U+FFFD.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void AuditLog::write(const AuditRecord& record) {
  const std::string line = format(record);
  std::lock_guard lock(mutex_);
  if (sink_) {
    sink_(line);
    return;
  }
  Status s = append(line);
  if (!s.is_ok() && !reported_error_) {
    reported_error_ = true;
    log_error("audit log: " + s.to_string() + " (audit lines are being lost)");
  } else if (s.is_ok()) {
    reported_error_ = false;
  }
}

Status AuditLog::rotate() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  const std::string& base = options_.path;
  for (int i = options_.keep - 1; i >= 1; --i) {
    const std::string from = base + "." + std::to_string(i);
    const std::string to = base + "." + std::to_string(i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return Status::io_error(os_error(from, "cannot rotate"));
    }
  }
  if (::rename(base.c_str(), (base + ".1").c_str()) != 0 && errno != ENOENT) {
    return Status::io_error(os_error(base, "cannot rotate"));
  }
  fd_ = ::open(base.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::io_error(os_error(base, "cannot open the audit log"));
  size_ = 0;
  return Status::ok();
}

Status AuditLog::append(std::string_view line) {
  std::string data(line);
  data += '\n';
  if (fd_ < 0) {  // a rotation failed before: try the file again
    fd_ = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::io_error(os_error(options_.path, "cannot open the audit log"));
    struct stat st {};
    size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  if (size_ > 0 && size_ + data.size() > options_.max_bytes) XRS_RETURN_IF_ERROR(rotate());
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io_error(os_error(options_.path, "cannot write the audit log"));
    }
    done += static_cast<size_t>(n);
  }
  size_ += data.size();
  return Status::ok();
}

}  // namespace xrs::security
