// xray-search-decoder's loop (decoder_pool.h): requests on a socket, decode_image_in_process,
// answers.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "imaging/decoder_pool.h"
#include "imaging/decoder_protocol.h"

#if defined(__SANITIZE_ADDRESS__)
#define XRS_DECODER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XRS_DECODER_ASAN 1
#endif
#endif

namespace xrs {
namespace {

// false on end of file or error.
bool read_all(int fd, void* data, size_t size, bool* at_start_eof = nullptr) {
  char* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, p + done, size - done);
    if (n > 0) {
      done += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && done == 0 && at_start_eof) *at_start_eof = true;
    return false;
  }
  return true;
}

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      size -= size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

// Test-only faults (decoder_pool.h), acted out when the environment allows it and the bytes
// carry "XRS-DECODER-TEST-FAULT:<kind>;".
volatile char* g_sink = nullptr;
void act_out_test_fault(const std::vector<uint8_t>& bytes) {
  static const bool enabled = [] {
    const char* e = std::getenv("XRS_DECODER_TEST_FAULTS");
    return e != nullptr && std::string_view(e) == "1";
  }();
  if (!enabled) return;
  constexpr std::string_view kMarker = "XRS-DECODER-TEST-FAULT:";
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t at = text.find(kMarker);
  if (at == std::string_view::npos) return;
  const size_t start = at + kMarker.size();
  const std::string_view kind = text.substr(start, text.find(';', start) - start);
  if (kind == "abort") std::abort();
  if (kind == "segv") ::raise(SIGSEGV);
  if (kind == "exit") std::_Exit(3);
  if (kind == "hang") {
    for (;;) ::pause();
  }
  if (kind == "alloc") {
    // Grows without bound: 64 MiB at a time, one byte of each touched.
    for (;;) {
      char* block = new char[64 << 20];
      block[0] = 1;
      g_sink = block;
    }
  }
}

Status apply_limits(uint64_t memory_limit_mib) {
  rlimit core{0, 0};
  ::setrlimit(RLIMIT_CORE, &core);
#ifndef XRS_DECODER_ASAN
  if (memory_limit_mib > 0) {
    const rlim_t bytes = rlim_t(memory_limit_mib) << 20;
    rlimit as{bytes, bytes};
    if (::setrlimit(RLIMIT_AS, &as) != 0) {
      return Status::io_error(std::string("cannot set the memory limit (RLIMIT_AS): ") +
                              std::strerror(errno));
    }
  }
#else
  (void)memory_limit_mib;
#endif
  return Status::ok();
}

}  // namespace

Status run_decoder_worker(int fd, uint64_t memory_limit_mib) {
  if (::fcntl(fd, F_GETFD) < 0) {
    return Status::failed_precondition(
        "no socket on file descriptor " + std::to_string(fd) +
        ": xray-search-decoder decodes images for xray-search, which starts it; it is not run by "
        "hand (docs/IMAGING.md, \"Containing the codecs\")");
  }
  ::signal(SIGPIPE, SIG_IGN);
  XRS_RETURN_IF_ERROR(apply_limits(memory_limit_mib));
  // The parent gone (its end of the socket closed) ends this process even in the middle of a
  // decode that would never finish.
  std::thread([fd] {
    for (;;) {
      pollfd p{fd, POLLRDHUP, 0};
      const int rc = ::poll(&p, 1, -1);
      if (rc > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) std::_Exit(0);
      if (rc < 0 && errno != EINTR) std::_Exit(0);
    }
  }).detach();

  for (;;) {
    decoder_wire::RequestHeader request;
    bool eof = false;
    if (!read_all(fd, &request, sizeof request, &eof)) {
      return eof ? Status::ok() : Status::io_error("the request ended early");
    }
    if (request.magic != decoder_wire::kRequestMagic ||
        request.size > decoder_wire::kMaxRequestBytes) {
      return Status::corruption("a malformed request");
    }
    StatusOr<Image> image = Status::internal("not decoded");
    try {
      std::vector<uint8_t> bytes(request.size);
      if (!read_all(fd, bytes.data(), bytes.size())) return Status::io_error("short request");
      act_out_test_fault(bytes);
      image = decode_image_in_process(bytes, decoder_wire::decode_options(request));
    } catch (const std::bad_alloc&) {
      image = Status::resource_exhausted(
          std::string(kDecoderFailureMarker) + "ran out of memory on this file (limit " +
          std::to_string(memory_limit_mib) + " MiB, XRS_DECODER_MEMORY_MIB)");
    } catch (const std::exception& e) {
      image = Status::internal(std::string(kDecoderFailureMarker) + "failed: " + e.what());
    }
    decoder_wire::ResponseHeader response;
    std::string message;
    if (image.is_ok()) {
      response.width = image->width;
      response.height = image->height;
      response.format = static_cast<int32_t>(image->format);
      response.pixel_size = image->pixels.size();
    } else {
      response.code = static_cast<int32_t>(image.status().code());
      message = image.status().message().substr(0, decoder_wire::kMaxMessageBytes);
      response.message_size = message.size();
    }
    if (!write_all(fd, &response, sizeof response) ||
        !write_all(fd, message.data(), message.size()) ||
        (image.is_ok() && !write_all(fd, image->pixels.data(), image->pixels.size()))) {
      return Status::io_error(std::string("cannot answer: ") + std::strerror(errno));
    }
  }
}

}  // namespace xrs
