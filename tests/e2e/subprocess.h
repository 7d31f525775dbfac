// Running the built `xray-search` (or any program) as a child process for the CLI and crash
// tests: stdout and stderr captured through pipes, stdin from /dev/null, signals on demand.
// posix_spawn, not fork: the test process may already run BLAS/OpenMP threads.
// A thread drains both pipes from the start: a child that writes more than a pipe holds (a server's
// access log under load) must never block on a full pipe while the test talks to it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace xrs::testing {

struct ProcessResult {
  int exit_code = -1;   // when the process exited by itself
  int term_signal = 0;  // when a signal ended it
  std::string out, err;
};

class Subprocess {
 public:
  // Starts argv[0] (a path) with argv. Returns nullptr (after a test failure) when it cannot.
  static std::unique_ptr<Subprocess> start(const std::vector<std::string>& argv) {
    auto p = std::unique_ptr<Subprocess>(new Subprocess());
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed";
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&p->pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(out[0]);
      ::close(err[0]);
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << strerror(rc);
      return nullptr;
    }
    if (::pipe2(p->stop_, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed";
      return nullptr;
    }
    p->drain_ = std::thread([raw = p.get(), out = out[0], err = err[0]] { raw->drain(out, err); });
    return p;
  }

  ~Subprocess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    stop_draining();
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const { return text(0); }
  std::string err() const { return text(1); }

  // Waits until `pattern` appears in stderr (true), or the streams end or `timeout` passes (false).
  bool wait_for_stderr(const std::string& pattern, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return text_[1].find(pattern) != std::string::npos || ended_;
    }) && text_[1].find(pattern) != std::string::npos;
  }

  void signal(int sig) { ASSERT_EQ(::kill(pid_, sig), 0) << "kill " << sig; }

  // Waits for the output streams to end and reaps the process; SIGKILL after `timeout`.
  ProcessResult wait(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!changed_.wait_for(lock, timeout, [&] { return ended_; })) {
        ADD_FAILURE() << "the child ran past " << timeout.count() << " s; killed";
        ::kill(pid_, SIGKILL);
        // Its own children may hold the pipes open: stop reading them shortly after.
        changed_.wait_for(lock, std::chrono::seconds(5), [&] { return ended_; });
      }
    }
    stop_draining();
    int status = 0;
    ProcessResult r;
    if (::waitpid(pid_, &status, 0) == pid_) {
      if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
    }
    pid_ = -1;
    r.out = text_[0];
    r.err = text_[1];
    return r;
  }

 private:
  Subprocess() = default;

  std::string text(int i) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_[i];
  }

  // Ends the drain thread (at once when the pipes have ended) and closes the stop pipe.
  void stop_draining() {
    if (drain_.joinable()) {
      const char byte = 0;
      [[maybe_unused]] const ssize_t n = ::write(stop_[1], &byte, 1);
      drain_.join();
    }
    for (int& f : stop_) {
      if (f >= 0) ::close(f);
      f = -1;
    }
  }

  // The drain thread: reads both pipes until both end (the process and any children that
  // inherited them have exited or closed them) or stop_draining() asks it to stop.
  void drain(int out, int err) {
    int fd[2] = {out, err};
    while (fd[0] >= 0 || fd[1] >= 0) {
      pollfd fds[3];
      for (int i = 0; i < 2; ++i) fds[i] = {fd[i], POLLIN, 0};
      fds[2] = {stop_[0], POLLIN, 0};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[2].revents != 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fd[i] < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[65536];
        const ssize_t n = ::read(fd[i], buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard<std::mutex> lock(mutex_);
        if (n > 0) {
          text_[i].append(buf, static_cast<size_t>(n));
        } else {
          ::close(fd[i]);
          fd[i] = -1;
        }
        changed_.notify_all();
      }
    }
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    changed_.notify_all();
  }

  pid_t pid_ = -1;
  std::thread drain_;
  int stop_[2] = {-1, -1};    // a byte written to stop_[1] ends the drain thread
  mutable std::mutex mutex_;  // guards text_ and ended_
  std::condition_variable changed_;
  std::string text_[2];  // stdout, stderr so far
  bool ended_ = false;   // both pipes have ended
};

// Runs the program to completion.
inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 std::chrono::seconds timeout = std::chrono::seconds(120)) {
  auto p = Subprocess::start(argv);
  if (!p) return {};
  return p->wait(timeout);
}

#ifdef XRS_CLI_PATH
inline std::string cli_path() {
  return XRS_CLI_PATH;
}

// Runs `xray-search args...` to completion.
inline ProcessResult run_cli(std::vector<std::string> args,
                             std::chrono::seconds timeout = std::chrono::seconds(120)) {
  args.insert(args.begin(), cli_path());
  return run_process(args, timeout);
}
#endif

// For failure messages: how the process ended and what it printed.
inline std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.term_signal) +
         "\n--- stdout:\n" + r.out.substr(0, 4000) + "\n--- stderr:\n" + r.err.substr(0, 4000);
}

}  // namespace xrs::testing
