// xray-search serve --index IDX [--host 127.0.0.1] [--port 8080] [--model M] [--threads N]
//                   [--max-upload-mb 32] [--api-token-file FILE]
// Loads the model and the index once, then serves the web UI and the REST API until SIGINT or
// SIGTERM. $XRAY_API_TOKEN (or --api-token-file) requires a bearer token on /api/*.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common.h"
#include "core/file_util.h"
#include "server/server.h"
#include "service/clip_search_service.h"

namespace xrs::app {

namespace {

struct ServeOptions {
  std::string index_dir;
  std::string model;
  std::string token_file;
  int max_upload_mb = 32;
  ServerOptions server;
};

StatusOr<std::string> api_token(const ServeOptions& o) {
  if (!o.token_file.empty()) {
    XRS_ASSIGN_OR_RETURN(std::string token, read_file(o.token_file, 4096));
    while (!token.empty() &&
           (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    if (token.empty()) return Status::invalid_argument(o.token_file + ": the token file is empty");
    return token;
  }
  const char* env = std::getenv("XRAY_API_TOKEN");
  return std::string(env != nullptr ? env : "");
}

int run_serve(ServeOptions o) {
  StatusOr<std::string> token = api_token(o);
  if (!token.is_ok()) return report_error(token.status());
  o.server.api_token = *token;
  o.server.max_upload_bytes = size_t(o.max_upload_mb) * 1024 * 1024;

  SearchServiceOptions service_options;
  service_options.index_dir = o.index_dir;
  service_options.model_path = o.model;
  StatusOr<std::unique_ptr<SearchService>> service = SearchService::open(service_options);
  if (!service.is_ok()) return report_error(service.status());
  const BackendInfo info = (*service)->info();
  std::fprintf(stderr, "xray-search: %zu images, model %s\n", info.images, info.model.c_str());
  // Scripts (make demo, the browser tests) wait for this line on stdout.
  o.server.on_listening = [&o](const std::string& host, int port) {
    std::printf("xray-search: listening on http://%s:%d%s\n", host.c_str(), port,
                o.server.api_token.empty() ? "" : " (API token required)");
    std::fflush(stdout);
  };
  Status s = serve(**service, o.server);
  if (!s.is_ok()) return report_error(s);
  std::fprintf(stderr, "xray-search: stopped\n");
  return kExitOk;
}

}  // namespace

void setup_serve(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the web UI and the REST API for an index");
  cmd->add_option("--index", o->index_dir, "index folder")->required();
  cmd->add_option("--host", o->server.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port,-p", o->server.port, "port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--model,-m", o->model, "model (default: the one the index was built with)");
  cmd->add_option("--threads", o->server.threads, "worker threads (concurrent requests)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", o->max_upload_mb, "largest accepted upload, in MB")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--api-token-file", o->token_file,
                  "file holding a bearer token required on /api/* (or set $XRAY_API_TOKEN)");
  cmd->callback([o, &exit_code] { exit_code = run_serve(*o); });
}

}  // namespace xrs::app
