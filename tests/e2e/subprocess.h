// Running the built `xray-search` (or any program) as a child process for the CLI and crash
// tests: stdout and stderr captured through pipes, stdin from /dev/null, signals on demand.
// posix_spawn, not fork: the test process may already run BLAS/OpenMP threads.
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
#include <cstring>
#include <memory>
#include <string>
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
    p->fd_[0] = out[0];
    p->fd_[1] = err[0];
    if (rc != 0) {
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << strerror(rc);
      return nullptr;
    }
    return p;
  }

  ~Subprocess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : fd_) {
      if (fd >= 0) ::close(fd);
    }
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& out() const { return text_[0]; }
  const std::string& err() const { return text_[1]; }

  // Reads output until `pattern` appears in stderr (true), or the streams end or `timeout`
  // passes (false).
  bool wait_for_stderr(const std::string& pattern, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (text_[1].find(pattern) == std::string::npos) {
      if ((fd_[0] < 0 && fd_[1] < 0) || std::chrono::steady_clock::now() >= end) return false;
      pump(std::chrono::milliseconds(20));
    }
    return true;
  }

  void signal(int sig) { ASSERT_EQ(::kill(pid_, sig), 0) << "kill " << sig; }

  // Reads everything the process writes and reaps it; SIGKILL after `timeout`.
  ProcessResult wait(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    bool killed = false;
    while (fd_[0] >= 0 || fd_[1] >= 0) {
      if (!killed && std::chrono::steady_clock::now() >= end) {
        ADD_FAILURE() << "the child ran past " << timeout.count() << " s; killed";
        ::kill(pid_, SIGKILL);
        killed = true;
      }
      pump(std::chrono::milliseconds(100));
    }
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

  // Reads what is available on either pipe, waiting at most `wait`.
  void pump(std::chrono::milliseconds wait) {
    pollfd fds[2];
    for (int i = 0; i < 2; ++i) fds[i] = {fd_[i], POLLIN, 0};
    if (::poll(fds, 2, static_cast<int>(wait.count())) <= 0) return;
    for (int i = 0; i < 2; ++i) {
      if (fd_[i] < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fd_[i], buf, sizeof(buf));
      if (n > 0) {
        text_[i].append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fd_[i]);
        fd_[i] = -1;
      }
    }
  }

  pid_t pid_ = -1;
  int fd_[2] = {-1, -1};  // stdout, stderr read ends
  std::string text_[2];
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
