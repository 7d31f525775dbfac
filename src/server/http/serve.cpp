// serve(): bind, run, and stop gracefully on SIGINT/SIGTERM.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server/server.h"

namespace xrs {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "signal handlers need a lock-free flag");

// Async-signal-safe: records the signal for the watcher thread. A second signal while the
// server drains its connections ends the process the default way, as users expect of Ctrl-C.
void on_signal(int sig) {
  if (g_signal.exchange(sig) != 0) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

}  // namespace

Status serve(const SearchBackend& backend, const ServerOptions& options) {
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server, HttpServer::bind(backend, options));
  if (!options.handle_signals) return server->run();

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  g_signal.store(0);
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  // The handler cannot call stop() (it takes a mutex); this thread does it for it.
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (g_signal.load() != 0) {
        server->stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Status status = server->run();
  done.store(true);
  watcher.join();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return status;
}

}  // namespace xrs
