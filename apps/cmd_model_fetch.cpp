// xray-search model fetch NAME [--dir D] [--revision REV] [--mirror URL] [--force] [--json]
// xray-search model verify [--dir D] [--json]
// Registered under `model` by add_model_fetch_commands (called from setup_model).
#include <memory>

#include "common.h"
#include "fetch/model_fetch.h"
#include "fetch_cli.h"

namespace xrs::app {

namespace {

struct ModelFetchCliOptions {
  std::string name;
  std::string dir;
  std::string revision;
  std::string mirror;
  bool force = false;
  bool json = false;
  DownloadCliOptions download;
};

int run_model_fetch(const ModelFetchCliOptions& o) {
  StatusOr<ModelSpec> spec = find_known_model(o.name);
  if (!spec.is_ok()) return report_error(spec.status(), true);
  if (!o.revision.empty()) {
    spec = at_revision(*spec, o.revision);
    if (!spec.is_ok()) return report_error(spec.status(), true);
  }
  if (!o.mirror.empty()) spec = from_mirror(*spec, o.mirror);
  const std::string dir = o.dir.empty() ? spec->default_dir : o.dir;
  ModelFetchOptions options;
  options.download = download_options(o.download);
  options.force = o.force;
  DownloadProgressPrinter printer;
  StatusOr<ModelFetchResult> result =
      fetch_model(*spec, dir, options, [&printer](const DownloadProgress& p) { printer(p); });
  printer.finish_line();
  if (!result.is_ok()) {
    Status s = result.status();
    if (s.code() == StatusCode::kUnavailable) {
      s = Status(s.code(), s.message() +
                               "\nThen run this command again: it checks the files and "
                               "records them in " +
                               dir + "/" + std::string(kModelManifestName) + ".");
    }
    return report_error(s);
  }
  nlohmann::json files = nlohmann::json::array();
  for (const ModelFetchFile& f : result->files) {
    std::fprintf(stderr, "%-28s %10s  sha256 %s (%s, %s)\n", f.name.c_str(),
                 human_bytes(f.size).c_str(), f.sha256.c_str(),
                 f.sha256_pinned ? "matches the pinned hash" : "recorded",
                 f.downloaded ? "downloaded" : "already present");
    files.push_back({{"name", f.name},
                     {"path", f.path},
                     {"size", f.size},
                     {"sha256", f.sha256},
                     {"sha256_pinned", f.sha256_pinned},
                     {"downloaded", f.downloaded}});
  }
  std::fprintf(stderr, "xray-search: %s is in %s (manifest %s)\n", spec->name.c_str(), dir.c_str(),
               result->manifest_path.c_str());
  if (o.json) {
    print_json({{"model", spec->name},
                {"revision", spec->revision},
                {"dir", dir},
                {"manifest", result->manifest_path},
                {"files", files}},
               true);
  }
  return kExitOk;
}

struct ModelVerifyCliOptions {
  std::string dir;
  bool json = false;
};

int run_model_verify(const ModelVerifyCliOptions& o) {
  StatusOr<ModelVerifyReport> report = verify_model_dir(o.dir);
  if (!report.is_ok()) return report_error(report.status());
  nlohmann::json files = nlohmann::json::array();
  for (const VerifiedFile& f : report->files) {
    const std::string state(file_state_name(f.state));
    files.push_back({{"name", f.name},
                     {"state", state},
                     {"expected_sha256", f.expected_sha256},
                     {"actual_sha256", f.actual_sha256},
                     {"size", f.actual_size}});
    if (o.json) continue;
    FILE* out = f.state == FileState::kOk ? stdout : stderr;
    std::fprintf(out, "%-9s %s", state.c_str(), f.name.c_str());
    if (f.state == FileState::kMismatch) {
      std::fprintf(out, ": sha256 %s, expected %s", f.actual_sha256.c_str(),
                   f.expected_sha256.c_str());
    }
    std::fputc('\n', out);
  }
  if (o.json) {
    print_json({{"dir", report->dir},
                {"model", report->model},
                {"from_manifest", report->from_manifest},
                {"ok", report->ok()},
                {"files", files}},
               true);
  } else {
    std::fprintf(report->ok() ? stdout : stderr, "%s: %s (%s; %zu files checked%s)\n",
                 o.dir.c_str(), report->ok() ? "OK" : "FAILED", report->model.c_str(),
                 report->files.size(),
                 report->from_manifest ? "" : "; no manifest, only files with published hashes");
  }
  return report->ok() ? kExitOk : kExitFailure;
}

}  // namespace

void add_model_fetch_commands(CLI::App& model_cmd, int& exit_code) {
  auto f = std::make_shared<ModelFetchCliOptions>();
  std::string names;
  for (const ModelSpec& spec : known_models()) names += (names.empty() ? "" : ", ") + spec.name;
  CLI::App* fetch = model_cmd.add_subcommand(
      "fetch", "Download a known model (" + names +
                   ") with SHA-256 checks; resumable; writes xray-search-model.json");
  fetch->add_option("name", f->name, "model name: " + names)->required();
  fetch->add_option("--dir,-d", f->dir, "destination folder (default models/<name>)");
  fetch->add_option("--revision", f->revision,
                    "Hugging Face revision (commit, branch or tag) instead of the pinned commit");
  fetch->add_option("--mirror", f->mirror,
                    "base URL serving the same files by name (e.g. an internal mirror)");
  fetch->add_flag("--force", f->force,
                  "download every file again, and replace another model's manifest");
  fetch->add_flag("--json", f->json, "print the result as JSON");
  add_download_options(*fetch, f->download);
  fetch->callback([f, &exit_code] { exit_code = run_model_fetch(*f); });

  auto v = std::make_shared<ModelVerifyCliOptions>();
  v->dir = default_model_path();
  CLI::App* verify = model_cmd.add_subcommand(
      "verify",
      "Re-hash a model folder's files against its manifest (or the published hashes); "
      "exit 1 on a mismatch or missing file");
  verify->add_option("--dir,-d", v->dir, "model folder ($XRAY_MODEL)")->capture_default_str();
  verify->add_flag("--json", v->json, "print the report as JSON");
  verify->callback([v, &exit_code] { exit_code = run_model_verify(*v); });
}

}  // namespace xrs::app
