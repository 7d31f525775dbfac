// The known models: where their files live and the hashes we can vouch for.
#include <algorithm>
#include <cctype>

#include "core/strings.h"
#include "fetch/model_fetch.h"

namespace xrs {

namespace {

// OpenAI's clip.py downloads each checkpoint from a URL that contains its SHA-256.
constexpr char kOpenAiB32Sha[] = "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af";
// The BPE vocabulary shipped in OpenAI's CLIP repository (clip/bpe_simple_vocab_16e6.txt.gz).
constexpr char kOpenAiBpeSha[] = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a";
// The Hub commit of openai/clip-vit-base-patch32 that added model.safetensors (the safetensors
// conversion); earlier commits carry only pytorch_model.bin.
constexpr char kHfB32Revision[] = "c237dc49a33fc61debc9276459120b7eac67e7ef";

std::string hf_url(const std::string& repo, std::string_view revision, const std::string& file) {
  return "https://huggingface.co/" + repo + "/resolve/" + std::string(revision) + "/" + file;
}

ModelSpec hf_model(std::string repo, std::string revision, std::string default_dir,
                   std::string description, const std::vector<std::string>& files) {
  ModelSpec spec;
  spec.name = repo;
  spec.description = std::move(description);
  spec.hf_repo = repo;
  spec.revision = std::move(revision);
  spec.default_dir = std::move(default_dir);
  for (const std::string& f : files) spec.files.push_back({f, hf_url(repo, spec.revision, f), ""});
  return spec;
}

std::vector<ModelSpec> make_known_models() {
  std::vector<ModelSpec> models;
  ModelSpec openai;
  openai.name = "ViT-B/32";
  openai.description = "OpenAI CLIP ViT-B/32 (TorchScript checkpoint + BPE vocabulary)";
  openai.default_dir = "models/ViT-B-32";
  openai.files = {
      {"ViT-B-32.pt",
       std::string("https://openaipublic.azureedge.net/clip/models/") + kOpenAiB32Sha +
           "/ViT-B-32.pt",
       kOpenAiB32Sha},
      {"bpe_simple_vocab_16e6.txt.gz",
       "https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz", kOpenAiBpeSha},
  };
  models.push_back(std::move(openai));
  models.push_back(hf_model("openai/clip-vit-base-patch32", kHfB32Revision,
                            "models/clip-vit-base-patch32",
                            "OpenAI CLIP ViT-B/32, Hugging Face format (safetensors)",
                            {"model.safetensors", "config.json", "vocab.json", "merges.txt",
                             "preprocessor_config.json"}));
  return models;
}

// Names compare case-insensitively, with '-' and '/' alike ("vit-b-32" finds "ViT-B/32").
std::string name_key(std::string_view name) {
  std::string key = ascii_lower(name);
  std::replace(key.begin(), key.end(), '/', '-');
  return key;
}

}  // namespace

const std::vector<ModelSpec>& known_models() {
  static const std::vector<ModelSpec> models = make_known_models();
  return models;
}

StatusOr<ModelSpec> find_known_model(std::string_view name) {
  std::string names;
  for (const ModelSpec& spec : known_models()) {
    if (name_key(spec.name) == name_key(name)) return spec;
    names += (names.empty() ? "" : ", ") + spec.name;
  }
  return Status::not_found("unknown model '" + std::string(name) + "'; known models: " + names);
}

StatusOr<ModelSpec> at_revision(const ModelSpec& spec, std::string_view revision) {
  if (spec.hf_repo.empty()) {
    return Status::invalid_argument(spec.name +
                                    " is not a Hugging Face model; it has no revisions");
  }
  const bool safe = !revision.empty() && revision.size() <= 100 &&
                    std::all_of(revision.begin(), revision.end(), [](unsigned char c) {
                      return std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_';
                    });
  if (!safe || revision.front() == '.') {
    return Status::invalid_argument("revision '" + std::string(revision) +
                                    "': use a commit, branch or tag name");
  }
  ModelSpec out = spec;
  out.revision = std::string(revision);
  for (ModelFileSpec& f : out.files) {
    f.url = hf_url(spec.hf_repo, revision, f.name);
    if (revision != spec.revision) f.sha256.clear();
  }
  return out;
}

ModelSpec from_mirror(const ModelSpec& spec, std::string_view base_url) {
  std::string base(base_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  ModelSpec out = spec;
  for (ModelFileSpec& f : out.files) f.url = base + "/" + f.name;
  return out;
}

}  // namespace xrs
