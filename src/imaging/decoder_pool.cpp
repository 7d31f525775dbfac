#include "imaging/decoder_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "imaging/decoder_protocol.h"

extern char** environ;

#ifndef XRS_DECODER_BUILD_PATH
#define XRS_DECODER_BUILD_PATH ""
#endif

namespace xrs {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kWorkerName[] = "xray-search-decoder";

enum class Io { kOk, kClosed, kTimeout, kError };

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1'000'000));
}

Io wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int left = remaining_ms(deadline);
    if (left == 0) return Io::kTimeout;
    const int rc = ::poll(&p, 1, left);
    if (rc > 0) return Io::kOk;  // ready, or hung up / error: the next call says which
    if (rc == 0) return Io::kTimeout;
    if (errno != EINTR) return Io::kError;
  }
}

// Never raises SIGPIPE (MSG_NOSIGNAL), never blocks past the deadline (MSG_DONTWAIT + poll).
Io send_all(int fd, const void* data, size_t size, Clock::time_point deadline) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const Io w = wait_for(fd, POLLOUT, deadline);
      if (w != Io::kOk) return w;
      continue;
    }
    return (errno == EPIPE || errno == ECONNRESET) ? Io::kClosed : Io::kError;
  }
  return Io::kOk;
}

Io recv_all(int fd, void* data, size_t size, Clock::time_point deadline) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= size_t(n);
      continue;
    }
    if (n == 0) return Io::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const Io w = wait_for(fd, POLLIN, deadline);
      if (w != Io::kOk) return w;
      continue;
    }
    return errno == ECONNRESET ? Io::kClosed : Io::kError;
  }
  return Io::kOk;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string signal_meaning(int sig) {
  switch (sig) {
    case SIGABRT:
      return "abort, e.g. a failed assertion in a codec";
    case SIGSEGV:
    case SIGBUS:
      return "invalid memory access";
    case SIGFPE:
      return "arithmetic fault";
    case SIGILL:
      return "illegal instruction";
    case SIGKILL:
      return "killed from outside, e.g. by the out-of-memory killer";
    case SIGXCPU:
      return "CPU time limit";
    default:
      return "";
  }
}

bool executable(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::is_regular_file(path, ec) &&
         ::access(path.c_str(), X_OK) == 0;
}

template <typename T>
bool parse_env(const char* name, T* out) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return false;
  T value{};
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end) return false;
  *out = value;
  return true;
}

}  // namespace

DecoderPoolOptions DecoderPoolOptions::from_environment() {
  DecoderPoolOptions o;
  if (const char* path = std::getenv("XRS_DECODER"); path != nullptr) o.worker_path = path;
  int workers = 0;
  if (parse_env("XRS_DECODER_WORKERS", &workers) && workers > 0) o.max_workers = workers;
  double seconds = 0;
  if (parse_env("XRS_DECODER_TIMEOUT_S", &seconds) && seconds > 0) {
    o.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  uint64_t mib = 0;
  if (parse_env("XRS_DECODER_MEMORY_MIB", &mib)) o.memory_limit_mib = mib;
  return o;
}

StatusOr<std::string> locate_decoder() {
  if (const char* env = std::getenv("XRS_DECODER"); env != nullptr && *env != '\0') {
    if (executable(env)) return std::string(env);
    return Status::failed_precondition(std::string("XRS_DECODER=") + env +
                                       " is not an executable " +
                                       "file (the image decoder program, " + kWorkerName + ")");
  }
  std::vector<std::string> looked;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::string beside = (self.parent_path() / kWorkerName).string();
    if (executable(beside)) return beside;
    looked.push_back(beside);
  }
  const std::string built = XRS_DECODER_BUILD_PATH;
  if (executable(built)) return built;
  if (!built.empty()) looked.push_back(built);
  std::string where;
  for (const std::string& p : looked) where += (where.empty() ? "" : ", ") + p;
  return Status::failed_precondition(std::string("the image decoder program ") + kWorkerName +
                                     " was not found (looked at " + where +
                                     "; set XRS_DECODER to its path)");
}

DecoderPool::DecoderPool(DecoderPoolOptions options) : options_(std::move(options)) {
  if (options_.max_workers <= 0) {
    options_.max_workers = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  }
  if (!options_.worker_path.empty()) {
    worker_path_ = options_.worker_path;
    if (!executable(worker_path_)) {
      locate_status_ = Status::failed_precondition("the image decoder program " + worker_path_ +
                                                   " is not an executable file");
    }
  } else {
    StatusOr<std::string> found = locate_decoder();
    if (found.is_ok()) {
      worker_path_ = *found;
    } else {
      locate_status_ = found.status();
    }
  }
}

DecoderPool::~DecoderPool() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Worker& w : idle_) {
    ::close(w.fd);  // end of file: the worker exits by itself
    ::kill(w.pid, SIGKILL);
    ::waitpid(w.pid, nullptr, 0);
  }
}

std::vector<pid_t> DecoderPool::worker_pids() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_pids_;
}

int DecoderPool::workers_started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

StatusOr<DecoderPool::Worker> DecoderPool::spawn() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::io_error(std::string("cannot create a socket for the image decoder: ") +
                            std::strerror(errno));
  }
  // Room for a whole typical request and answer in the socket (capped by the kernel's
  // net.core.wmem_max / rmem_max): fewer round trips between the two processes.
  for (int fd : sv) {
    const int size = 8 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  // The child's end above fd 3, so that dup2 onto 3 always makes a fresh descriptor (one
  // without close-on-exec).
  const int child_end = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  ::close(sv[1]);
  if (child_end < 0) {
    ::close(sv[0]);
    return Status::io_error(std::string("cannot set up the image decoder's socket: ") +
                            std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);  // a codec's stray print never reaches stdout
  posix_spawn_file_actions_adddup2(&actions, child_end, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // Ctrl-C in a terminal goes to the command, not here
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const std::string limit = std::to_string(options_.memory_limit_mib);
  std::vector<char*> argv = {const_cast<char*>(worker_path_.c_str()),
                             const_cast<char*>("--memory-limit-mib"),
                             const_cast<char*>(limit.c_str()), nullptr};
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) envp.push_back(*e);
  for (const std::string& e : options_.extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, worker_path_.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(child_end);
  if (rc != 0) {
    ::close(sv[0]);
    return Status::failed_precondition("cannot start the image decoder program " + worker_path_ +
                                       ": " + std::strerror(rc));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++started_;
  live_pids_.push_back(pid);
  return Worker{pid, sv[0]};
}

void DecoderPool::release(Worker worker, bool alive) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (alive) {
      idle_.push_back(worker);
    } else {
      --live_;
      live_pids_.erase(std::remove(live_pids_.begin(), live_pids_.end(), worker.pid),
                       live_pids_.end());
    }
  }
  changed_.notify_one();
}

// Reaps `worker` (killing it first when it is still alive and must go) and turns how it ended
// into the Status of the request it was serving.
Status DecoderPool::fail(Worker& worker, const Status& why, bool timed_out) {
  ::close(worker.fd);
  int status = 0;
  pid_t reaped = 0;
  if (!timed_out && why.is_ok()) {
    // The worker closed its socket: it is exiting. Give it a moment to be reaped with its own
    // cause of death before killing it.
    for (int i = 0; i < 200 && reaped == 0; ++i) {
      reaped = ::waitpid(worker.pid, &status, WNOHANG);
      if (reaped == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  bool killed_here = false;
  if (reaped == 0) {
    ::kill(worker.pid, SIGKILL);
    killed_here = true;
    while ((reaped = ::waitpid(worker.pid, &status, 0)) < 0 && errno == EINTR) {
    }
  }
  release(worker, false);
  const uint64_t limit = options_.memory_limit_mib;
  if (timed_out) {
    const double s = std::chrono::duration<double>(options_.timeout).count();
    char text[32];
    std::snprintf(text, sizeof text, "%g", s);
    return Status::corruption(std::string(kDecoderFailureMarker) + "timed out after " + text +
                              " s on this file and was stopped (XRS_DECODER_TIMEOUT_S sets the "
                              "limit)");
  }
  if (!why.is_ok() && killed_here) {
    return Status::internal(std::string(kDecoderFailureMarker) + "stopped answering properly (" +
                            why.message() + ") and was restarted");
  }
  if (reaped > 0 && WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const std::string meaning = signal_meaning(sig);
    if (sig == SIGKILL && !killed_here) {
      return Status::resource_exhausted(
          std::string(kDecoderFailureMarker) + "was killed (SIGKILL) while decoding this file (" +
          meaning + "; the decoder's own limit is " +
          (limit ? std::to_string(limit) + " MiB" : std::string("off")) + ")");
    }
    return Status::corruption(std::string(kDecoderFailureMarker) + "crashed on this file (" +
                              signal_name(sig) + (meaning.empty() ? "" : ": " + meaning) +
                              "); the file is damaged or hostile, or triggers a bug in a codec");
  }
  if (reaped > 0 && WIFEXITED(status)) {
    return Status::corruption(std::string(kDecoderFailureMarker) + "exited with status " +
                              std::to_string(WEXITSTATUS(status)) + " while decoding this file");
  }
  return Status::internal(std::string(kDecoderFailureMarker) + "ended in an unknown way");
}

StatusOr<Image> DecoderPool::decode(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  if (!locate_status_.is_ok()) return locate_status_;
  if (bytes.size() > decoder_wire::kMaxRequestBytes) {
    return Status::resource_exhausted("the image file is " + std::to_string(bytes.size()) +
                                      " bytes, above the decoder's limit of " +
                                      std::to_string(decoder_wire::kMaxRequestBytes));
  }
  Worker worker;
  bool need_spawn = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return !idle_.empty() || live_ < options_.max_workers; });
    if (!idle_.empty()) {
      worker = idle_.back();
      idle_.pop_back();
    } else {
      ++live_;
      need_spawn = true;
    }
  }
  if (need_spawn) {
    StatusOr<Worker> spawned = spawn();
    if (!spawned.is_ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        --live_;
      }
      changed_.notify_one();
      return spawned.status();
    }
    worker = *spawned;
  }

  const auto deadline = Clock::now() + options_.timeout;
  const decoder_wire::RequestHeader request = decoder_wire::request_header(options, bytes.size());
  auto io_failure = [&](Io io) {
    if (io == Io::kTimeout) return fail(worker, Status::ok(), true);
    if (io == Io::kClosed) return fail(worker, Status::ok(), false);
    return fail(worker, Status::io_error(std::strerror(errno)), false);
  };
  Io io = send_all(worker.fd, &request, sizeof request, deadline);
  if (io == Io::kOk) io = send_all(worker.fd, bytes.data(), bytes.size(), deadline);
  decoder_wire::ResponseHeader response;
  if (io == Io::kOk) io = recv_all(worker.fd, &response, sizeof response, deadline);
  if (io != Io::kOk) return io_failure(io);

  const uint64_t channels = uint64_t(channel_count(static_cast<PixelFormat>(response.format)));
  const bool header_ok =
      response.magic == decoder_wire::kResponseMagic && response.code >= 0 &&
      response.code <= static_cast<int32_t>(StatusCode::kInternal) &&
      response.message_size <= decoder_wire::kMaxMessageBytes &&
      (response.code != 0 ||
       (response.width > 0 && response.height > 0 && response.format >= 0 &&
        response.format <= static_cast<int32_t>(PixelFormat::kRGBA) &&
        uint64_t(response.width) * uint64_t(response.height) <= options.limits.max_pixels &&
        response.pixel_size == uint64_t(response.width) * uint64_t(response.height) * channels)) &&
      (response.code == 0 || response.pixel_size == 0);
  if (!header_ok) return fail(worker, Status::internal("malformed answer header"), false);
  std::string message(response.message_size, '\0');
  io = recv_all(worker.fd, message.data(), message.size(), deadline);
  if (io != Io::kOk) return io_failure(io);
  if (response.code != 0) {
    release(worker, true);
    return Status(static_cast<StatusCode>(response.code), std::move(message));
  }
  Image image;
  image.width = response.width;
  image.height = response.height;
  image.format = static_cast<PixelFormat>(response.format);
  image.pixels.resize(response.pixel_size);
  io = recv_all(worker.fd, image.pixels.data(), image.pixels.size(), deadline);
  if (io != Io::kOk) return io_failure(io);
  release(worker, true);
  return image;
}

DecoderPool& default_decoder_pool() {
  static DecoderPool* pool = new DecoderPool(DecoderPoolOptions::from_environment());
  return *pool;
}

}  // namespace xrs
