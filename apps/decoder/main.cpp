// xray-search-decoder: the image decoder worker process that xray-search starts (decode_image,
// imaging/decoder_pool.h; docs/IMAGING.md, "Containing the codecs"). Not run by hand.
//   xray-search-decoder [--memory-limit-mib N]    requests on file descriptor 3
// Exit status: 0 at end of input, 1 on a broken request or socket, 2 on bad arguments.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "imaging/decoder_pool.h"

int main(int argc, char** argv) {
  uint64_t memory_limit_mib = 4096;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--memory-limit-mib" && i + 1 < argc) {
      const char* v = argv[++i];
      auto [ptr, ec] = std::from_chars(v, v + std::strlen(v), memory_limit_mib);
      if (ec != std::errc() || *ptr != '\0') {
        std::fprintf(stderr, "xray-search-decoder: bad --memory-limit-mib '%s'\n", v);
        return 2;
      }
    } else {
      std::fprintf(stderr, "xray-search-decoder: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  const xrs::Status s = xrs::run_decoder_worker(xrs::kDecoderWorkerFd, memory_limit_mib);
  if (!s.is_ok()) {
    std::fprintf(stderr, "xray-search-decoder: %s\n", s.message().c_str());
    return s.code() == xrs::StatusCode::kFailedPrecondition ? 2 : 1;
  }
  return 0;
}
