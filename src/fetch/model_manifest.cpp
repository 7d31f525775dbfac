// The model folder's manifest, xray-search-model.json (docs/DEPLOYMENT.md).
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "dataset/dataset.h"
#include "fetch/model_fetch.h"

namespace xrs {

namespace {

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The manifest's content is checked field by field so that a damaged or foreign file is
// reported by name instead of throwing.
Status parse_manifest(const nlohmann::json& j, const std::string& path, ModelManifest* out) {
  auto bad = [&](const std::string& what) { return Status::corruption(path + ": " + what); };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("format") || j["format"] != std::string(kModelManifestFormat)) {
    return bad("\"format\" is not \"" + std::string(kModelManifestFormat) + "\"");
  }
  if (!j.contains("version") || j["version"] != kModelManifestVersion) {
    return bad("\"version\" is not " + std::to_string(kModelManifestVersion));
  }
  if (!j.contains("model") || !j["model"].is_string()) return bad("\"model\" is not a string");
  out->model = j["model"].get<std::string>();
  if (j.contains("revision") && j["revision"].is_string()) {
    out->revision = j["revision"].get<std::string>();
  }
  if (!j.contains("files") || !j["files"].is_array()) return bad("\"files\" is not an array");
  for (size_t i = 0; i < j["files"].size(); ++i) {
    const nlohmann::json& f = j["files"][i];
    const std::string where = "files[" + std::to_string(i) + "]";
    if (!f.is_object()) return bad(where + " is not an object");
    ModelManifestFile file;
    if (!f.contains("name") || !f["name"].is_string()) return bad(where + ".name is not a string");
    file.name = f["name"].get<std::string>();
    if (std::string why = unsafe_name_reason(file.name, false); !why.empty()) {
      return bad(where + ".name '" + file.name + "' is refused: " + why);
    }
    if (!f.contains("sha256") || !f["sha256"].is_string() ||
        !is_sha256_hex(f["sha256"].get<std::string>())) {
      return bad(where + ".sha256 is not 64 lower-case hex digits");
    }
    file.sha256 = f["sha256"].get<std::string>();
    if (f.contains("size")) {
      if (!f["size"].is_number_unsigned()) return bad(where + ".size is not a byte count");
      file.size = f["size"].get<uint64_t>();
    }
    if (f.contains("url") && f["url"].is_string()) file.url = f["url"].get<std::string>();
    file.sha256_pinned = f.contains("sha256_source") && f["sha256_source"] == "pinned";
    out->files.push_back(std::move(file));
  }
  return Status::ok();
}

}  // namespace

StatusOr<ModelManifest> read_model_manifest(const std::string& path) {
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, 16u << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::corruption(path + ": not valid JSON");
  ModelManifest manifest;
  XRS_RETURN_IF_ERROR(parse_manifest(j, path, &manifest));
  return manifest;
}

Status write_model_manifest(const std::string& path, const ModelManifest& manifest) {
  nlohmann::json files = nlohmann::json::array();
  for (const ModelManifestFile& f : manifest.files) {
    files.push_back({{"name", f.name},
                     {"url", f.url},
                     {"size", f.size},
                     {"sha256", f.sha256},
                     {"sha256_source", f.sha256_pinned ? "pinned" : "recorded"}});
  }
  nlohmann::json j = {{"format", kModelManifestFormat},
                      {"version", kModelManifestVersion},
                      {"model", manifest.model},
                      {"revision", manifest.revision},
                      {"files", files}};
  return write_file_atomic(path,
                           j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace xrs
