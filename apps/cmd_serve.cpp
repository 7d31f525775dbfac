// xray-search serve --index IDX [--host 127.0.0.1] [--port 8080] [--model M] [--threads N]
//                   [--max-upload-mb 32] [--tokens FILE] [--api-token-file FILE]
//                   [--tls-cert PEM --tls-key PEM] [--insecure-http] [--serve-originals]
//                   [--rate-limit 20] [--rate-burst 60] [--uploads-per-client 2]
//                   [--body-timeout 60] [--audit-log FILE] [--audit-log-max-mb 100]
//                   [--audit-log-keep 5] [--audit-query-text]
//                   [--read-only [--reload-interval-ms 1000]]
//                   [--batch-max-size 8] [--batch-max-delay-ms 5]
// Loads the model and the index once, then serves the web UI and the REST API until SIGINT or
// SIGTERM. With --read-only (a replica) it writes nothing into the index folder and switches to
// each newer generation a writer commits (docs/DEPLOYMENT.md). docs/SECURITY.md describes every
// security option; docs/API.md the routes.
#include <chrono>
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
  std::string precision;
  std::string index_dir;
  std::string model;
  std::string token_file;   // --api-token-file: one plain token, every scope
  std::string tokens_file;  // --tokens: named tokens with scopes, as digests
  int max_upload_mb = 32;
  bool read_only = false;
  int reload_interval_ms = 1000;
  int batch_max_size = 8;
  double batch_max_delay_ms = 5;
  double audit_max_mb = 100;
  security::AuditOptions audit;
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

// Tokens, TLS files, the exposure rule and the audit log: everything that can be refused
// before the model and the index are loaded.
Status prepare_security(ServeOptions& o) {
  XRS_ASSIGN_OR_RETURN(o.server.api_token, api_token(o));
  if (!o.tokens_file.empty()) {
    XRS_ASSIGN_OR_RETURN(security::Authenticator tokens,
                         security::Authenticator::load(o.tokens_file));
    if (!tokens.enabled()) {
      return Status::invalid_argument(o.tokens_file + ": the token file holds no token");
    }
    if (!o.server.api_token.empty()) {
      // The single token joins the file's tokens; a clash (same name or token) is refused here.
      Status added = tokens.add_token(kApiTokenName, o.server.api_token, security::kAllScopes);
      if (!added.is_ok()) return added.with_context("--api-token-file / $XRAY_API_TOKEN");
      o.server.api_token.clear();
    }
    o.server.tokens = std::make_shared<const security::Authenticator>(std::move(tokens));
  }
  XRS_RETURN_IF_ERROR(check_exposure(o.server));
  if (!o.audit.path.empty()) {
    o.audit.max_bytes = static_cast<uint64_t>(o.audit_max_mb * 1024 * 1024);
    XRS_ASSIGN_OR_RETURN(std::unique_ptr<security::AuditLog> log,
                         security::AuditLog::open(o.audit));
    o.server.audit = std::move(log);
  }
  return Status::ok();
}

int run_serve(ServeOptions o) {
  o.server.max_upload_bytes = size_t(o.max_upload_mb) * 1024 * 1024;
  if (o.server.tls_cert.empty() != o.server.tls_key.empty()) {
    return report_error(Status::invalid_argument("--tls-cert and --tls-key go together"), true);
  }
  Status prepared = prepare_security(o);
  if (!prepared.is_ok()) {
    // A refused exposure is a command-line problem; a broken token file or TLS file is not.
    const bool usage = prepared.message().find("refusing to listen") != std::string::npos;
    return report_error(prepared, usage);
  }

  SearchServiceOptions service_options;
  service_options.index_dir = o.index_dir;
  service_options.model_path = o.model;
  StatusOr<std::optional<kernels::Precision>> precision = parse_precision_option(o.precision);
  if (!precision.is_ok()) return report_error(precision.status(), true);
  service_options.precision = *precision;
  service_options.read_only = o.read_only;
  service_options.image_batching.max_batch_size = o.batch_max_size;
  service_options.image_batching.max_delay =
      std::chrono::microseconds(static_cast<int64_t>(o.batch_max_delay_ms * 1000.0 + 0.5));
  StatusOr<std::unique_ptr<SearchService>> service = SearchService::open(service_options);
  if (!service.is_ok()) return report_error(service.status());
  const BackendInfo info = (*service)->info();
  std::fprintf(stderr, "xray-search: %zu images, model %s, index generation %llu%s\n", info.images,
               info.model.c_str(), static_cast<unsigned long long>(info.generation),
               o.read_only ? " (read-only replica: following new generations)" : "");
  if (info.image_batching.enabled) {
    std::fprintf(stderr,
                 "xray-search: query images batched: up to %d per forward pass, waiting at most "
                 "%g ms while the engine is busy\n",
                 info.image_batching.max_batch_size, info.image_batching.max_delay_ms);
  }
  // A replica checks the catalog's generation between requests, on a thread of its own.
  std::unique_ptr<IndexWatcher> watcher;
  if (o.read_only) {
    watcher =
        std::make_unique<IndexWatcher>(**service, std::chrono::milliseconds(o.reload_interval_ms));
  }
  if (o.server.serve_originals) {
    std::fprintf(stderr,
                 "xray-search: warning: --serve-originals: indexed DICOM files are sent as "
                 "stored, with the patient data in their headers\n");
  }
  const bool tokens = !o.server.api_token.empty() || o.server.tokens != nullptr;
  // Scripts (make demo, the browser tests) wait for this line on stdout.
  o.server.on_listening = [&o, tokens](const std::string& host, int port) {
    const bool ipv6 = host.find(':') != std::string::npos;
    std::printf("xray-search: listening on %s://%s%s%s:%d%s\n",
                o.server.tls_cert.empty() ? "http" : "https", ipv6 ? "[" : "", host.c_str(),
                ipv6 ? "]" : "", port, tokens ? " (API token required)" : "");
    std::fflush(stdout);
  };
  Status s = serve(**service, o.server);
  watcher.reset();
  if (!s.is_ok()) return report_error(s);
  std::fprintf(stderr, "xray-search: stopped\n");
  return kExitOk;
}

}  // namespace

void setup_serve(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  o->server.rate_limit.requests_per_s = 20;
  o->server.rate_limit.burst = 60;
  o->server.rate_limit.uploads_per_client = 2;
  CLI::App* cmd = app.add_subcommand("serve", "Serve the web UI and the REST API for an index");
  cmd->add_option("--index", o->index_dir, "index folder")->required();
  cmd->add_option("--host", o->server.host,
                  "address to listen on (beyond loopback only with TLS and tokens)")
      ->capture_default_str();
  cmd->add_option("--port,-p", o->server.port, "port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--model,-m", o->model, "model (default: the one the index was built with)");
  add_precision_option(*cmd, o->precision, "default: the one the index was built with");
  cmd->add_option("--threads", o->server.threads, "worker threads (concurrent requests)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", o->max_upload_mb, "largest accepted upload, in MB")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--tokens", o->tokens_file,
                  "token file: named tokens with scopes, as SHA-256 digests "
                  "('xray-search token create' writes it)");
  cmd->add_option("--api-token-file", o->token_file,
                  "file holding one bearer token with every scope (or set $XRAY_API_TOKEN)");
  cmd->add_option("--tls-cert", o->server.tls_cert, "TLS certificate chain (PEM); with --tls-key");
  cmd->add_option("--tls-key", o->server.tls_key, "TLS private key (PEM, unencrypted)");
  cmd->add_flag("--insecure-http", o->server.insecure_http,
                "allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy)");
  cmd->add_flag("--serve-originals", o->server.serve_originals,
                "send indexed DICOM files as stored, patient data included (default: a PNG "
                "rendering)");
  cmd->add_option("--rate-limit", o->server.rate_limit.requests_per_s,
                  "API requests per second per client (0: no limit)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--rate-burst", o->server.rate_limit.burst,
                  "requests a client may send at once above the rate")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--uploads-per-client", o->server.rate_limit.uploads_per_client,
                  "image uploads in flight per client (0: no limit)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--body-timeout", o->server.body_timeout_s,
                  "seconds a request body may take to arrive (slower uploads get 408)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--audit-log", o->audit.path,
                  "audit log file: who searched what kind of query and opened which images "
                  "(JSON lines)");
  cmd->add_option("--audit-log-max-mb", o->audit_max_mb, "rotate the audit log past this size")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  cmd->add_option("--audit-log-keep", o->audit.keep, "rotated audit logs kept")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_flag("--audit-query-text", o->audit.log_query_text,
                "also write text queries themselves into the audit log (default: their length)");
  cmd->add_flag("--read-only", o->read_only,
                "replica: write nothing into the index folder and switch to each newer index "
                "generation (after index or merge) without a restart");
  cmd->add_option("--reload-interval-ms", o->reload_interval_ms,
                  "with --read-only: how often to check for a newer generation")
      ->check(CLI::Range(50, 3600000))
      ->capture_default_str();
  cmd->add_option("--batch-max-size", o->batch_max_size,
                  "concurrent image searches embedded in one forward pass at most (1: no "
                  "batching, each runs alone); a lone query runs at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--batch-max-delay-ms", o->batch_max_delay_ms,
                  "while the engine is busy, how long a query image may wait for others to "
                  "join its batch (milliseconds, from its arrival)")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = run_serve(*o); });
}

}  // namespace xrs::app
