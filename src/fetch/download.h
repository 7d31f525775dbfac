// One HTTP(S) download to a file: resumable, retried, verified, atomically renamed.
//
// download_file() fetches request.url into "<dest>.part" and, only once the whole body is there
// and checked, renames it to `dest`:
//   - resume: when "<dest>.part" exists (an interrupted earlier run), it asks for the rest with
//     "Range: bytes=<size>-". A 206 whose Content-Range starts there is appended; a 200 (the
//     server ignores Range) or a 206 starting elsewhere restarts the file from byte 0; a 416
//     drops the .part and starts over.
//   - redirects are followed by hand, up to DownloadOptions::max_redirects, each hop checked
//     against the URL policy of url.h (https, or http to a loopback host when allowed), so a
//     redirect can never downgrade to plain http.
//   - timeouts: connect_timeout to establish a connection; stall_timeout without a single byte
//     arriving aborts the attempt.
//   - retries: transient failures (connection refused or reset, timeouts, a body cut short,
//     HTTP 408/425/429/500/502/503/504) are retried up to max_attempts in all, waiting
//     initial_backoff, then twice as long each time (capped by max_backoff; a Retry-After
//     header in seconds is honoured within the same cap). Each retry resumes from the .part.
//   - verification: the SHA-256 of the finished .part is compared with expected_sha256 (when
//     given) and request.verify runs (when given); any failure deletes the .part, so the next
//     run starts clean, and `dest` is never created or replaced.
//   - the rename is atomic and the file and its folder are fsynced first: `dest` is either the
//     old file, or the complete new one.
//
// Failures (the message names the URL and, where it helps, the file):
//   kInvalidArgument    a URL the policy refuses (scheme, plain http, credentials) or malformed
//   kUnavailable        the host cannot be resolved or reached, a timeout, a stall, an HTTP
//                       error status other than 404/410, or transient failures persisting after
//                       the last attempt; the message carries curl's reason or the status
//   kNotFound           HTTP 404 or 410
//   kCorruption         the SHA-256 differs: "... SHA-256 <actual>, expected <expected>"
//   kResourceExhausted  the body is larger than max_bytes
//   kIoError            the .part or `dest` cannot be written, synced or renamed
//   whatever request.verify returns.
//
// Thread-safety: download_file() may run on several threads at once (each call uses its own
// connection). The progress callback runs on the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"

namespace xrs {

inline constexpr std::string_view kPartSuffix = ".part";

struct DownloadOptions {
  std::chrono::milliseconds connect_timeout{15'000};
  // An attempt that receives no byte for this long is aborted (and retried). Checked about
  // once a second.
  std::chrono::seconds stall_timeout{30};
  int max_attempts = 4;  // 1 means no retry
  std::chrono::milliseconds initial_backoff{1'000};
  std::chrono::milliseconds max_backoff{30'000};
  int max_redirects = 10;
  // Accept http:// for 127.0.0.0/8, ::1 and localhost (tests, a mirror on this machine).
  bool allow_http_loopback = false;
  // A body larger than this is refused (kResourceExhausted); counts the resumed part too.
  uint64_t max_bytes = UINT64_MAX;
  std::string user_agent = "xray-search/0.1";
};

struct DownloadRequest {
  std::string url;
  std::string dest;  // the final path; the folder must exist. Downloads go to dest + ".part".
  // Lower-case hex SHA-256 the file must have; empty: not checked (the result reports it).
  std::string expected_sha256;
  // Optional extra check of the finished "<dest>.part" (e.g. "decodes as a PNG"), run before
  // the rename; a failure deletes the .part and is returned as is.
  std::function<Status(const std::string& part_path)> verify;
};

struct DownloadProgress {
  const std::string* url = nullptr;   // the request's URL (before redirects)
  const std::string* dest = nullptr;  // the request's final path
  uint64_t bytes_done = 0;            // in the .part, resumed bytes included
  int64_t bytes_total = -1;           // the whole file, -1 while unknown
  uint64_t resumed_from = 0;          // bytes the current attempt did not have to download
  int attempt = 1;                    // 1-based
};
// Called about ten times a second at most while bytes arrive, and once when the body is done.
using DownloadProgressCallback = std::function<void(const DownloadProgress&)>;

struct DownloadResult {
  std::string sha256;     // of the final file
  uint64_t size = 0;      // bytes
  bool resumed = false;   // some bytes came from an earlier .part
  int attempts = 0;       // 1 when the first attempt succeeded
  std::string final_url;  // after redirects
};

// Details of a failure that callers may act on (besides the Status).
struct DownloadFailure {
  // The host could not be resolved or refused the connection: other files from the same host
  // will fail alike.
  bool host_unreachable = false;
};

// `failure`, when given, is filled in when the download fails.
StatusOr<DownloadResult> download_file(const DownloadRequest& request,
                                       const DownloadOptions& options,
                                       const DownloadProgressCallback& progress = {},
                                       DownloadFailure* failure = nullptr);

}  // namespace xrs
