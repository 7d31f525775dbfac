#include "server/http/deadline_watch.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace xrs::http {

DeadlineWatch::~DeadlineWatch() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t DeadlineWatch::arm(int fd, Clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  const uint64_t ticket = next_++;
  entries_[ticket] = Entry{fd, deadline};
  cv_.notify_all();
  return ticket;
}

bool DeadlineWatch::disarm(uint64_t ticket) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return false;
  const bool fired = it->second.fired;
  entries_.erase(it);
  return fired;
}

void DeadlineWatch::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    Clock::time_point next = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto& [ticket, e] : entries_) {
      if (e.fired) continue;
      if (e.deadline <= now) {
        // The worker holds the fd open until it disarms, which needs this mutex: safe.
        ::shutdown(e.fd, SHUT_RD);
        e.fired = true;
      } else if (e.deadline < next) {
        next = e.deadline;
      }
    }
    if (next == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, next);
    }
  }
}

namespace {

bool endpoint_is(const sockaddr_storage& addr, socklen_t len, std::string_view want_addr,
                 int want_port) {
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  return want_addr == host && std::atoi(port) == want_port;
}

}  // namespace

int find_connection_fd(std::string_view local_addr, int local_port, std::string_view remote_addr,
                       int remote_port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    struct stat st {};
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{}, self{};
    socklen_t peer_len = sizeof peer, self_len = sizeof self;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        ::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&self), &self_len) != 0) {
      continue;
    }
    if (endpoint_is(peer, peer_len, remote_addr, remote_port) &&
        endpoint_is(self, self_len, local_addr, local_port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  ::closedir(dir);
  return found;
}

}  // namespace xrs::http
