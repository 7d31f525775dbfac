// Getting a CLIP model onto disk (`xray-search model fetch`) and checking it later
// (`xray-search model verify`).
//
// Known models (known_models()):
//   "ViT-B/32" (alias "ViT-B-32")      OpenAI's TorchScript checkpoint ViT-B-32.pt and its BPE
//                                      vocabulary bpe_simple_vocab_16e6.txt.gz; both SHA-256s are
//                                      pinned (OpenAI's clip.py puts the checkpoint's in its URL).
//   "openai/clip-vit-base-patch32"     Hugging Face: model.safetensors, config.json, vocab.json,
//                                      merges.txt, preprocessor_config.json at a pinned Hub
//                                      commit. No SHA-256 is published with the files here: each
//                                      is hashed after download and recorded in the manifest.
//
// The manifest, "<dir>/xray-search-model.json" (docs/DEPLOYMENT.md), records for each file its
// name, source URL, size, SHA-256 and whether that hash was pinned by xray-search or recorded at
// download. fetch_model() keeps it current after every file; verify_model_dir() re-hashes
// against it.
//
// Thread-safety: the functions are reentrant; two calls must not fetch into the same folder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "fetch/download.h"

namespace xrs {

inline constexpr std::string_view kModelManifestName = "xray-search-model.json";
inline constexpr std::string_view kModelManifestFormat = "xray-search-model";
inline constexpr int kModelManifestVersion = 1;

struct ModelFileSpec {
  std::string name;    // file name inside the model folder
  std::string url;     // where it is downloaded from
  std::string sha256;  // lower-case hex; empty when not known in advance
};

struct ModelSpec {
  std::string name;         // "ViT-B/32"
  std::string description;  // one line, for listings
  std::string hf_repo;      // "openai/clip-vit-base-patch32" for Hub models, else empty
  std::string revision;     // the Hub commit the URLs point at (Hub models), else empty
  std::string default_dir;  // "models/ViT-B-32"
  std::vector<ModelFileSpec> files;
};

const std::vector<ModelSpec>& known_models();

// The known model called `name` (or one of its aliases). kNotFound listing the known names.
StatusOr<ModelSpec> find_known_model(std::string_view name);

// The same model at another Hub revision (a commit, branch or tag): URLs rebuilt, and hashes
// dropped since they belong to the pinned revision. kInvalidArgument for a model that is not
// from the Hub, or a revision holding anything but letters, digits, '.', '-' and '_'.
StatusOr<ModelSpec> at_revision(const ModelSpec& spec, std::string_view revision);

// The same model served from a mirror: each file's URL becomes "<base_url>/<file name>".
ModelSpec from_mirror(const ModelSpec& spec, std::string_view base_url);

struct ModelManifestFile {
  std::string name;
  std::string url;
  uint64_t size = 0;
  std::string sha256;
  bool sha256_pinned = false;  // true: known before download; false: recorded after it
};

struct ModelManifest {
  std::string model;     // ModelSpec::name
  std::string revision;  // ModelSpec::revision
  std::vector<ModelManifestFile> files;
};

// kNotFound when absent; kCorruption naming the file and field when it is not a manifest of this
// format and version, or a file name could leave the folder.
StatusOr<ModelManifest> read_model_manifest(const std::string& path);
// Atomic (core/file_util.h).
Status write_model_manifest(const std::string& path, const ModelManifest& manifest);

struct ModelFetchOptions {
  DownloadOptions download;
  // Download every file again even when present and intact, and replace a manifest that
  // belongs to another model.
  bool force = false;
};

struct ModelFetchFile {
  std::string name;
  std::string path;
  uint64_t size = 0;
  std::string sha256;
  bool downloaded = false;     // false: the file was already there and matched
  bool sha256_pinned = false;  // the hash was checked against a pinned value
};

struct ModelFetchResult {
  std::string dir;
  std::string manifest_path;
  std::vector<ModelFetchFile> files;  // in ModelSpec order
};

// Fetches every file of `spec` into `dir` (created when missing; removed again when the call
// fails before anything is in it). A file already present is kept when it matches the pinned
// hash or the manifest's recorded one, and adopted (its hash recorded) when nothing is known
// about it, e.g. after the user copied it there by hand; a file that does not match is
// downloaded again. Fails at the first file that cannot be fetched, with download_file()'s
// status; when the network is the problem (kUnavailable) the message also lists every file
// still missing, with its URL, destination and SHA-256, so that it can be put there by hand.
// kFailedPrecondition when `dir` holds another model's manifest (without force).
StatusOr<ModelFetchResult> fetch_model(const ModelSpec& spec, const std::string& dir,
                                       const ModelFetchOptions& options,
                                       const DownloadProgressCallback& progress = {});

enum class FileState { kOk, kMismatch, kMissing };
std::string_view file_state_name(FileState state);  // "ok", "mismatch", "missing"

struct VerifiedFile {
  std::string name;
  FileState state = FileState::kOk;
  std::string expected_sha256;
  std::string actual_sha256;   // empty when missing
  uint64_t expected_size = 0;  // 0 when not known
  uint64_t actual_size = 0;
};

struct ModelVerifyReport {
  std::string dir;
  // The manifest's model, or, without a manifest, the known models whose files were checked.
  std::string model;
  bool from_manifest = false;
  std::vector<VerifiedFile> files;
  bool ok() const;  // every file kOk
};

// Re-hashes every file the manifest lists; without a manifest, every file of a known model with
// a pinned hash that is present in `dir` (other files cannot be judged and are not listed).
// kNotFound when `dir` does not exist or, without a manifest, holds no known file; the manifest's
// own errors as read_model_manifest; kIoError when a file cannot be read.
StatusOr<ModelVerifyReport> verify_model_dir(const std::string& dir);

}  // namespace xrs
