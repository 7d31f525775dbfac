// xrs_fake_server: the real HTTP server over FakeBackend (fake_backend.h), for the browser tests
// and for trying the UI without a model. Prints "listening on http://HOST:PORT" on stdout once it
// accepts connections; stops on SIGINT/SIGTERM.
//
//   xrs_fake_server --images DIR [--port 0] [--host 127.0.0.1] [--token T] [--delay-ms N]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fake_backend.h"
#include "server/server.h"

int main(int argc, char** argv) {
  std::string images;
  xrs::ServerOptions options;
  options.port = 0;
  int delay_ms = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--images")
      images = value;
    else if (flag == "--port")
      options.port = std::atoi(value.c_str());
    else if (flag == "--host")
      options.host = value;
    else if (flag == "--token")
      options.api_token = value;
    else if (flag == "--delay-ms")
      delay_ms = std::atoi(value.c_str());
    else {
      std::fprintf(stderr, "xrs_fake_server: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  if (images.empty() || argc % 2 == 0) {
    std::fprintf(stderr,
                 "usage: xrs_fake_server --images DIR [--port N] [--host H] [--token T] "
                 "[--delay-ms N]\n");
    return 2;
  }
  auto backend = xrs::testing::FakeBackend::open(images);
  if (!backend.is_ok()) {
    std::fprintf(stderr, "xrs_fake_server: %s\n", backend.status().to_string().c_str());
    return 1;
  }
  (*backend)->set_search_delay_ms(delay_ms);
  options.on_listening = [](const std::string& host, int port) {
    std::printf("listening on http://%s:%d\n", host.c_str(), port);
    std::fflush(stdout);
  };
  xrs::Status status = xrs::serve(**backend, options);
  if (!status.is_ok()) {
    std::fprintf(stderr, "xrs_fake_server: %s\n", status.to_string().c_str());
    return 1;
  }
  return 0;
}
