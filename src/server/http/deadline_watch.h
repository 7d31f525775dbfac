// Internal to the transport: cuts off a connection's reading at a deadline, whatever the client
// sends (docs/SECURITY.md, "Slow clients"). cpp-httplib only bounds each read (read timeout) and
// its multipart parser holds back the last bytes of a chunk, so a client sending one byte per
// second would otherwise keep a worker for as long as it likes. At the deadline this shuts the
// socket's read side (shutdown(SHUT_RD)): the worker's pending or next read returns end-of-stream
// at once, the reader fails and the connection is closed (httplib then takes the peer for gone
// and writes no response; a client whose chunk arrived just past the deadline gets a 408 from
// BodyCollector instead).
//
//   DeadlineWatch watch;                         // one thread, started on first use
//   auto ticket = watch.arm(fd, deadline);       // before reading the body
//   ... read ...
//   bool fired = watch.disarm(ticket);           // before the fd can be closed
//
// Thread-safety: every method may be called from any thread. A connection's fd must stay open
// between arm() and disarm() (the worker that armed it holds it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>

namespace xrs::http {

class DeadlineWatch {
 public:
  using Clock = std::chrono::steady_clock;

  DeadlineWatch() = default;
  ~DeadlineWatch();
  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  // Shuts the read side of `fd` at `deadline` unless disarmed first. Returns a ticket.
  uint64_t arm(int fd, Clock::time_point deadline);
  // Cancels the ticket; true when its deadline had already fired.
  bool disarm(uint64_t ticket);

 private:
  struct Entry {
    int fd;
    Clock::time_point deadline;
    bool fired = false;
  };
  void loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

// The fd of this process's TCP connection between local_addr:local_port and
// remote_addr:remote_port (numeric addresses as getnameinfo writes them), or -1. Scans
// /proc/self/fd: meant for requests with a body, once each.
int find_connection_fd(std::string_view local_addr, int local_port, std::string_view remote_addr,
                       int remote_port);

}  // namespace xrs::http
