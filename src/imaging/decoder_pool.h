// Decoding untrusted bytes in a separate process: the codecs this project reaches (GDCM above
// all, also libjpeg-turbo, libpng, OpenJPEG and CharLS through GDCM) are third-party C/C++ code
// that may abort (Debian builds GDCM with its assertions on), crash, loop or allocate without
// bound on a hostile or damaged file. decode_image (decode.h) therefore sends the bytes to a
// worker process, `xray-search-decoder`, and a failure of that process becomes an error Status
// for that one image; the caller's process goes on.
//
// The worker (apps/decoder/main.cpp, run_decoder_worker below) reads length-prefixed requests
// (image bytes + DecodeOptions) on a socket and answers each with a Status or the decoded 8-bit
// Image, until end of file. It runs under an address-space limit (RLIMIT_AS, DecoderPoolOptions::
// memory_limit_mib), with core dumps off, in its own process group (a terminal's Ctrl-C goes to
// the command only), and exits when its socket closes (the parent ended), even in the middle of
// a decode: a watchdog thread polls the socket for the peer's hang-up.
//
// DecoderPool: workers are started lazily with posix_spawn (never a bare fork of a multithreaded
// process), at most max_workers at once; a thread checks one out, sends one request and waits
// with a wall-clock deadline (poll). A worker that dies (signal or exit) is reaped; one that
// misses the deadline is killed (SIGKILL) and reaped; either way that request gets a clear error
// and the next request starts a fresh worker:
//   kCorruption         "the image decoder crashed on this file (SIGABRT: abort, e.g. a failed
//                       assertion in a codec)", "... exited with status 3 ..."
//   kCorruption         "the image decoder timed out after 30 s on this file ..."
//   kResourceExhausted  "the image decoder ran out of memory on this file (limit 4096 MiB) ..."
//   kFailedPrecondition the worker program cannot be found or started (the message names every
//                       place looked at)
// Every such message contains kDecoderFailureMarker (decode.h), so that callers (the upload
// route: 422) can tell a contained decoder failure from an ordinary decode error.
//
// Where the worker is: $XRS_DECODER if set; else `xray-search-decoder` in the directory of the
// running executable (/proc/self/exe); else the build tree's apps/xray-search-decoder (for test
// programs in build/tests/...).
// The default pool (default_decoder_pool) reads its options from the environment once:
//   XRS_DECODER             the worker program
//   XRS_DECODER_WORKERS     at most this many workers at once (default: number of CPUs, >= 2)
//   XRS_DECODER_TIMEOUT_S   per-image wall-clock limit in seconds (default 30)
//   XRS_DECODER_MEMORY_MIB  address-space limit of a worker in MiB (default 4096; 0 = none)
// Test-only: a worker whose environment has XRS_DECODER_TEST_FAULTS=1 acts out
// "XRS-DECODER-TEST-FAULT:<abort|segv|exit|hang|alloc>;" when it finds that text in the bytes it
// is asked to decode (tests/imaging/decoder_pool_test.cpp, tests/e2e/decoder_containment_test.cpp).
// Under AddressSanitizer the memory limit is not applied (ASan reserves terabytes of address
// space); its own allocator limits apply instead.
//
// Thread-safety: DecoderPool::decode may be called from any number of threads at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "imaging/decode.h"
#include "imaging/image.h"

namespace xrs {

struct DecoderPoolOptions {
  std::string worker_path;  // "" = locate_decoder()
  int max_workers = 0;      // 0 = number of CPUs (at least 2)
  std::chrono::milliseconds timeout{30'000};
  uint64_t memory_limit_mib = 4096;  // 0 = no limit
  // "NAME=value" entries added to each worker's environment (tests: XRS_DECODER_TEST_FAULTS=1).
  std::vector<std::string> extra_env;

  // Defaults overridden by XRS_DECODER, XRS_DECODER_WORKERS, XRS_DECODER_TIMEOUT_S and
  // XRS_DECODER_MEMORY_MIB; an unparsable value is ignored.
  static DecoderPoolOptions from_environment();
};

class DecoderPool {
 public:
  explicit DecoderPool(DecoderPoolOptions options = {});
  ~DecoderPool();  // kills and reaps every worker
  DecoderPool(const DecoderPool&) = delete;
  DecoderPool& operator=(const DecoderPool&) = delete;

  // decode_image_in_process(bytes, options), run in a worker.
  StatusOr<Image> decode(std::span<const uint8_t> bytes, const DecodeOptions& options);

  // For tests: the process ids of the live workers, and how many were started so far.
  std::vector<pid_t> worker_pids() const;
  int workers_started() const;

 private:
  struct Worker {
    pid_t pid = -1;
    int fd = -1;
  };
  StatusOr<Worker> spawn();
  Status fail(Worker& worker, const Status& why, bool timed_out);
  void release(Worker worker, bool alive);

  DecoderPoolOptions options_;
  std::string worker_path_;
  Status locate_status_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Worker> idle_;
  std::vector<pid_t> live_pids_;
  int live_ = 0;  // idle + checked out
  int started_ = 0;
};

// The pool decode_image uses: created on first use with DecoderPoolOptions::from_environment(),
// never destroyed (its workers end when the process does).
DecoderPool& default_decoder_pool();

// The worker program's path, or kFailedPrecondition naming every place looked at.
StatusOr<std::string> locate_decoder();

// The worker's loop (xray-search-decoder's main calls it with fd 3): applies the limits, then
// serves requests on `fd` until end of file (OK) or a broken request or socket (the error).
inline constexpr int kDecoderWorkerFd = 3;
Status run_decoder_worker(int fd, uint64_t memory_limit_mib);

}  // namespace xrs
