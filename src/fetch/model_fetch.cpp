#include "fetch/model_fetch.h"

#include <filesystem>
#include <set>

#include "core/file_util.h"
#include "core/sha256.h"

namespace xrs {

namespace fs = std::filesystem;

namespace {

const ModelManifestFile* find_entry(const ModelManifest& m, const std::string& name) {
  for (const ModelManifestFile& f : m.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void put_entry(ModelManifest* m, ModelManifestFile entry) {
  for (ModelManifestFile& f : m->files) {
    if (f.name == entry.name) {
      f = std::move(entry);
      return;
    }
  }
  m->files.push_back(std::move(entry));
}

// What the user can do without a network: every file still missing, with where it goes.
std::string manual_instructions(const ModelSpec& spec, const std::string& dir) {
  std::string m =
      "\nIf this machine cannot reach the server, download these files on one that can and put "
      "them in " +
      dir + ":";
  for (const ModelFileSpec& f : spec.files) {
    const std::string dest = (fs::path(dir) / f.name).string();
    std::error_code ec;
    if (fs::is_regular_file(dest, ec)) continue;
    m += "\n  " + f.url + "\n    -> " + dest;
    m += f.sha256.empty() ? " (no published SHA-256; compare with the source's own listing)"
                          : " (SHA-256 " + f.sha256 + ")";
  }
  return m;
}

// Loads the folder's manifest, or starts a new one for `spec`.
StatusOr<ModelManifest> manifest_for(const ModelSpec& spec, const std::string& path, bool force) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return ModelManifest{spec.name, spec.revision, {}};
  StatusOr<ModelManifest> m = read_model_manifest(path);
  if (!m.is_ok() && !force) {
    return Status(m.status().code(), m.status().message() + " (--force replaces it)");
  }
  if (!m.is_ok() || (force && m->model != spec.name))
    return ModelManifest{spec.name, spec.revision, {}};
  if (m->model != spec.name) {
    return Status::failed_precondition(
        path + " belongs to model '" + m->model +
        "'; fetch into another folder, or use --force to replace it");
  }
  if (m->revision != spec.revision) {
    // Hashes recorded for another revision say nothing about this one.
    std::erase_if(m->files, [](const ModelManifestFile& f) { return !f.sha256_pinned; });
    m->revision = spec.revision;
  }
  return m;
}

}  // namespace

StatusOr<ModelFetchResult> fetch_model(const ModelSpec& spec, const std::string& dir,
                                       const ModelFetchOptions& options,
                                       const DownloadProgressCallback& progress) {
  std::error_code ec;
  const bool created = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error(dir + ": cannot create the model folder: " + ec.message());
  // A folder this call created and left empty is removed on failure, so that scripts that test
  // for the folder's presence do not mistake it for a model.
  struct RemoveIfEmpty {
    const std::string& dir;
    bool armed;
    ~RemoveIfEmpty() {
      std::error_code e;
      if (armed && fs::is_empty(dir, e)) fs::remove(dir, e);
    }
  } cleanup{dir, created};
  ModelFetchResult result;
  result.dir = dir;
  result.manifest_path = (fs::path(dir) / kModelManifestName).string();
  XRS_ASSIGN_OR_RETURN(ModelManifest manifest,
                       manifest_for(spec, result.manifest_path, options.force));
  for (const ModelFileSpec& f : spec.files) {
    ModelFetchFile out;
    out.name = f.name;
    out.path = (fs::path(dir) / f.name).string();
    const ModelManifestFile* recorded = find_entry(manifest, f.name);
    std::string expected = f.sha256;
    if (expected.empty() && recorded != nullptr) expected = recorded->sha256;
    bool have = false;
    if (fs::is_regular_file(out.path, ec) && !options.force) {
      XRS_ASSIGN_OR_RETURN(out.sha256, sha256_file(out.path));
      // A file with nothing to compare against was put there by the user: adopt it.
      have = expected.empty() || out.sha256 == expected;
    }
    if (!have) {
      DownloadRequest request{f.url, out.path, expected, {}};
      StatusOr<DownloadResult> got = download_file(request, options.download, progress);
      if (!got.is_ok()) {
        Status s = got.status().with_context(f.name);
        if (s.code() != StatusCode::kUnavailable) return s;
        return Status::unavailable(s.message() + manual_instructions(spec, dir));
      }
      out.sha256 = got->sha256;
      out.downloaded = true;
    }
    XRS_ASSIGN_OR_RETURN(out.size, file_size(out.path));
    out.sha256_pinned = !f.sha256.empty();
    put_entry(&manifest, {f.name, f.url, out.size, out.sha256, out.sha256_pinned});
    XRS_RETURN_IF_ERROR(write_model_manifest(result.manifest_path, manifest));
    result.files.push_back(std::move(out));
  }
  cleanup.armed = false;
  return result;
}

std::string_view file_state_name(FileState state) {
  switch (state) {
    case FileState::kOk:
      return "ok";
    case FileState::kMismatch:
      return "mismatch";
    case FileState::kMissing:
      return "missing";
  }
  return "unknown";
}

bool ModelVerifyReport::ok() const {
  for (const VerifiedFile& f : files) {
    if (f.state != FileState::kOk) return false;
  }
  return true;
}

namespace {

Status check_file(const std::string& dir, VerifiedFile* v) {
  const std::string path = (fs::path(dir) / v->name).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    v->state = FileState::kMissing;
    return Status::ok();
  }
  XRS_ASSIGN_OR_RETURN(v->actual_sha256, sha256_file(path));
  XRS_ASSIGN_OR_RETURN(v->actual_size, file_size(path));
  v->state = v->actual_sha256 == v->expected_sha256 ? FileState::kOk : FileState::kMismatch;
  return Status::ok();
}

}  // namespace

StatusOr<ModelVerifyReport> verify_model_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::not_found(dir + ": no such model folder");
  ModelVerifyReport report;
  report.dir = dir;
  const std::string manifest_path = (fs::path(dir) / kModelManifestName).string();
  if (fs::exists(manifest_path, ec)) {
    XRS_ASSIGN_OR_RETURN(ModelManifest manifest, read_model_manifest(manifest_path));
    report.model = manifest.model;
    report.from_manifest = true;
    for (const ModelManifestFile& f : manifest.files) {
      VerifiedFile v{f.name, FileState::kOk, f.sha256, "", f.size, 0};
      XRS_RETURN_IF_ERROR(check_file(dir, &v));
      report.files.push_back(std::move(v));
    }
    return report;
  }
  std::set<std::string> seen;
  for (const ModelSpec& spec : known_models()) {
    bool used = false;
    for (const ModelFileSpec& f : spec.files) {
      if (f.sha256.empty() || seen.count(f.name) != 0) continue;
      if (!fs::is_regular_file(fs::path(dir) / f.name, ec)) continue;
      VerifiedFile v{f.name, FileState::kOk, f.sha256, "", 0, 0};
      XRS_RETURN_IF_ERROR(check_file(dir, &v));
      report.files.push_back(std::move(v));
      seen.insert(f.name);
      used = true;
    }
    if (used) report.model += (report.model.empty() ? "" : ", ") + spec.name;
  }
  if (report.files.empty()) {
    return Status::not_found(dir + ": no " + std::string(kModelManifestName) +
                             " and no file of a known model with a published SHA-256; nothing "
                             "to verify (`xray-search model fetch` writes the manifest)");
  }
  return report;
}

}  // namespace xrs
