#include "fetch/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "fetch/url.h"

namespace xrs {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Parses "bytes START-END/TOTAL" (TOTAL may be "*"); false when malformed.
bool parse_content_range(const std::string& v, uint64_t* start, int64_t* total) {
  unsigned long long s = 0, e = 0, t = 0;
  char star = 0;
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/%llu", &s, &e, &t) == 3) {
    *start = s;
    *total = static_cast<int64_t>(t);
    return e >= s;
  }
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/%c", &s, &e, &star) == 3 && star == '*') {
    *start = s;
    *total = -1;
    return e >= s;
  }
  return false;
}

bool transient_http_status(long status) {
  return status == 408 || status == 425 || status == 429 || status == 500 || status == 502 ||
         status == 503 || status == 504;
}

bool transient_curl_error(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// fsync of a path (a file, or the folder holding a renamed file).
Status sync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return errno_status(path, errno, "open for fsync");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? Status::ok() : errno_status(path, err, "fsync");
}

// One attempt's exchange with the server (all its redirect hops), driven by libcurl callbacks.
struct Transfer {
  const DownloadRequest* request = nullptr;
  const DownloadOptions* options = nullptr;
  const DownloadProgressCallback* progress = nullptr;
  std::string part;
  CURL* curl = nullptr;
  int attempt = 1;
  uint64_t offset = 0;  // bytes already in the .part when the attempt began

  // Per hop.
  std::string content_range;
  std::string retry_after;
  bool body_decided = false;
  bool write_body = false;

  FILE* file = nullptr;
  uint64_t written = 0;       // bytes in the .part
  uint64_t resumed_from = 0;  // bytes of `written` that an earlier attempt fetched
  int64_t total = -1;
  bool range_mismatch = false;  // a 206 that does not continue our .part
  Status local_error;           // set by a callback that aborted the transfer
  bool stalled = false;         // aborted: no byte for stall_timeout
  Clock::time_point last_data{};
  Clock::time_point last_report{};

  ~Transfer() {
    if (file != nullptr) std::fclose(file);
  }

  void start_hop() {
    last_data = Clock::now();
    content_range.clear();
    retry_after.clear();
    body_decided = false;
    write_body = false;
  }

  void report(bool force) {
    if (progress == nullptr || !*progress || !write_body) return;
    const Clock::time_point now = Clock::now();
    if (!force && now - last_report < std::chrono::milliseconds(100)) return;
    last_report = now;
    DownloadProgress p;
    p.url = &request->url;
    p.dest = &request->dest;
    p.bytes_done = written;
    p.bytes_total = total;
    p.resumed_from = resumed_from;
    p.attempt = attempt;
    (*progress)(p);
  }

  // Called with the first body byte of a hop: decides whether the body is the file (200/206),
  // and opens the .part for appending or from scratch. False aborts the transfer.
  bool decide_body() {
    body_decided = true;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 && status != 206) return true;  // an error page or redirect: discarded
    curl_off_t length = -1;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    bool append = false;
    if (status == 206) {
      uint64_t start = 0;
      if (!parse_content_range(content_range, &start, &total) || start != offset) {
        range_mismatch = true;
        return false;
      }
      append = offset > 0;
    } else {
      total = length;
    }
    written = append ? offset : 0;
    resumed_from = written;
    if (total < 0 && length >= 0) total = static_cast<int64_t>(written) + length;
    if (total > 0 && static_cast<uint64_t>(total) > options->max_bytes) {
      local_error = too_large();
      return false;
    }
    file = std::fopen(part.c_str(), append ? "ab" : "wb");
    if (file == nullptr) {
      local_error = errno_status(part, errno, "open");
      return false;
    }
    write_body = true;
    return true;
  }

  Status too_large() const {
    return Status::resource_exhausted(request->url + ": the file is larger than the limit of " +
                                      std::to_string(options->max_bytes) + " bytes");
  }

  // Ensures an empty 200 body still leaves an (empty) .part, and flushes what was written.
  Status close_file() {
    if (file == nullptr) {
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      if (status == 200 && !body_decided) {
        file = std::fopen(part.c_str(), "wb");
        if (file == nullptr) return errno_status(part, errno, "open");
      } else {
        return Status::ok();
      }
    }
    const bool ok = std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
    const int err = errno;
    std::fclose(file);
    file = nullptr;
    return ok ? Status::ok() : errno_status(part, err, "write");
  }

  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line(data, size * n);
    if (line.substr(0, 5) == "HTTP/") {
      t->content_range.clear();  // a new response (after a 100 Continue or on a redirect hop)
      t->retry_after.clear();
    } else if (istarts_with(line, "content-range:")) {
      t->content_range = trimmed(line.substr(14));
    } else if (istarts_with(line, "retry-after:")) {
      t->retry_after = trimmed(line.substr(12));
    }
    return size * n;
  }

  // Stall detection by hand: curl's LOW_SPEED_* averages over several seconds, so a burst
  // followed by silence would be noticed late. libcurl calls this at least once a second.
  static int on_xferinfo(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (Clock::now() - t->last_data < t->options->stall_timeout) return 0;
    t->stalled = true;
    return 1;  // abort: CURLE_ABORTED_BY_CALLBACK
  }

  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t len = size * n;
    t->last_data = Clock::now();
    if (!t->body_decided && !t->decide_body()) return 0;
    if (!t->write_body) return len;
    if (t->written + len > t->options->max_bytes) {
      t->local_error = t->too_large();
      return 0;
    }
    if (std::fwrite(data, 1, len, t->file) != len) {
      t->local_error = errno_status(t->part, errno, "write");
      return 0;
    }
    t->written += len;
    t->report(false);
    return len;
  }
};

enum class Outcome { kDone, kRetry, kRestart, kFail };
struct AttemptResult {
  Outcome outcome = Outcome::kFail;
  Status status;
  std::chrono::seconds retry_after{0};
  bool host_unreachable = false;  // the host could not be resolved or connected to
};

AttemptResult fail(Outcome o, Status s) {
  return {o, std::move(s), std::chrono::seconds(0)};
}

void configure(CURL* curl, const std::string& url, Transfer& t, char* errbuf) {
  const DownloadOptions& o = *t.options;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // hops are followed and checked by hand
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Transfer::on_xferinfo);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  const std::string range = std::to_string(t.offset) + "-";
  if (t.offset > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());  // copied by curl
}

std::chrono::seconds parse_retry_after(const std::string& v) {
  const auto digit = [](unsigned char c) { return std::isdigit(c) != 0; };
  if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), digit)) {
    return std::chrono::seconds(0);
  }
  return std::chrono::seconds(std::stol(v));
}

AttemptResult attempt_once(Transfer& t, std::string* final_url) {
  const DownloadOptions& o = *t.options;
  std::string url = t.request->url;
  char errbuf[CURL_ERROR_SIZE];
  for (int hop = 0;; ++hop) {
    if (hop > 0) {
      Status allowed = check_download_url(url, o.allow_http_loopback);
      if (!allowed.is_ok()) {
        return fail(Outcome::kFail, allowed.with_context(t.request->url + ": redirected"));
      }
    }
    errbuf[0] = '\0';
    configure(t.curl, url, t, errbuf);
    t.start_hop();
    const CURLcode rc = curl_easy_perform(t.curl);
    Status closed = t.close_file();
    if (!t.local_error.is_ok()) return fail(Outcome::kFail, t.local_error);
    if (t.range_mismatch) {
      return fail(Outcome::kRestart,
                  Status::unavailable(url + ": the server answered a resumed download with '" +
                                      t.content_range + "'; starting over"));
    }
    if (!closed.is_ok()) return fail(Outcome::kFail, closed);
    if (t.stalled) {
      return fail(Outcome::kRetry,
                  Status::unavailable("could not download " + url + ": no data for " +
                                      std::to_string(o.stall_timeout.count()) +
                                      " s (the transfer stalled)"));
    }
    if (rc != CURLE_OK) {
      const std::string why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      AttemptResult r = fail(transient_curl_error(rc) ? Outcome::kRetry : Outcome::kFail,
                             Status::unavailable("could not download " + url + ": " + why));
      r.host_unreachable = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
                           rc == CURLE_COULDNT_CONNECT;
      return r;
    }
    long status = 0;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 || status == 206) {
      *final_url = url;
      return {Outcome::kDone, Status::ok(), std::chrono::seconds(0)};
    }
    if (status >= 300 && status < 400 && status != 304) {
      char* location = nullptr;
      curl_easy_getinfo(t.curl, CURLINFO_REDIRECT_URL, &location);
      if (location == nullptr) {
        return fail(Outcome::kFail, Status::unavailable(url + ": HTTP " + std::to_string(status) +
                                                        " redirect without a Location"));
      }
      if (hop >= o.max_redirects) {
        return fail(Outcome::kFail,
                    Status::unavailable(t.request->url + ": more than " +
                                        std::to_string(o.max_redirects) + " redirects"));
      }
      url = location;
      continue;
    }
    const std::string what = url + ": HTTP " + std::to_string(status);
    if (status == 416) {
      return fail(Outcome::kRestart,
                  Status::unavailable(what + " (range not satisfiable); starting over"));
    }
    if (status == 404 || status == 410) {
      return fail(Outcome::kFail, Status::not_found(what + " (no such file on the server)"));
    }
    AttemptResult r = fail(transient_http_status(status) ? Outcome::kRetry : Outcome::kFail,
                           Status::unavailable(what));
    r.retry_after = parse_retry_after(t.retry_after);
    return r;
  }
}

// Checks the finished .part and renames it over `dest`; the .part is deleted on any mismatch.
Status finish(const DownloadRequest& request, const std::string& part, DownloadResult* result) {
  auto discard = [&](Status s) {
    std::error_code ec;
    fs::remove(part, ec);
    return s;
  };
  StatusOr<std::string> sha = sha256_file(part);
  if (!sha.is_ok()) return sha.status();
  if (!request.expected_sha256.empty() && *sha != request.expected_sha256) {
    return discard(Status::corruption(request.url + ": downloaded file has SHA-256 " + *sha +
                                      ", expected " + request.expected_sha256 +
                                      "; deleted it (the file on the server differs from the "
                                      "one this version of xray-search knows)"));
  }
  if (request.verify) {
    Status v = request.verify(part);
    if (!v.is_ok()) return discard(v);
  }
  StatusOr<uint64_t> size = file_size(part);
  if (!size.is_ok()) return size.status();
  XRS_RETURN_IF_ERROR(sync_path(part, false));
  std::error_code ec;
  fs::rename(part, request.dest, ec);
  if (ec) return Status::io_error(request.dest + ": rename from .part: " + ec.message());
  const fs::path parent = fs::path(request.dest).parent_path();
  XRS_RETURN_IF_ERROR(sync_path(parent.empty() ? "." : parent.string(), true));
  result->sha256 = *sha;
  result->size = *size;
  return Status::ok();
}

uint64_t existing_size(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return 0;
  const uintmax_t n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

}  // namespace

StatusOr<DownloadResult> download_file(const DownloadRequest& request,
                                       const DownloadOptions& options,
                                       const DownloadProgressCallback& progress,
                                       DownloadFailure* failure) {
  XRS_RETURN_IF_ERROR(check_download_url(request.url, options.allow_http_loopback));
  if (request.dest.empty()) return Status::invalid_argument(request.url + ": no destination");
  curl_init_once();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::internal("curl_easy_init failed");
  struct Cleanup {
    CURL* c;
    ~Cleanup() { curl_easy_cleanup(c); }
  } cleanup{curl};

  const std::string part = request.dest + std::string(kPartSuffix);
  DownloadResult result;
  Status last;
  std::chrono::milliseconds backoff = options.initial_backoff;
  const int attempts = std::max(1, options.max_attempts);
  bool restarted = false;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    Transfer t;
    t.request = &request;
    t.options = &options;
    t.progress = &progress;
    t.part = part;
    t.curl = curl;
    t.attempt = attempt;
    t.offset = existing_size(part);
    result.attempts = attempt;
    AttemptResult r = attempt_once(t, &result.final_url);
    if (failure != nullptr) failure->host_unreachable = r.host_unreachable;
    if (r.outcome == Outcome::kDone) {
      t.report(true);
      result.resumed = t.resumed_from > 0;
      XRS_RETURN_IF_ERROR(finish(request, part, &result));
      return result;
    }
    if (r.outcome == Outcome::kFail) return r.status;
    last = r.status;
    if (r.outcome == Outcome::kRestart) {
      // Starting over once is part of resuming, not a failed attempt; a server that keeps
      // answering ranges wrongly uses up the attempts.
      std::error_code ec;
      fs::remove(part, ec);
      if (!restarted) --attempt;
      restarted = true;
      continue;
    }
    if (attempt < attempts) {
      std::chrono::milliseconds wait = std::max<std::chrono::milliseconds>(backoff, r.retry_after);
      std::this_thread::sleep_for(std::min(wait, options.max_backoff));
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
  return Status(last.code(),
                last.message() + " (gave up after " + std::to_string(attempts) + " attempts)");
}

}  // namespace xrs
