// xray-search model info [--model M] [--json]
// (model fetch / verify: see cmd_model_fetch.cpp)
#include <memory>

#include "clip/clip_model.h"
#include "common.h"

namespace xrs::app {

namespace {

struct ModelInfoOptions {
  std::string model;
  bool json = false;
};

int run_model_info(const ModelInfoOptions& o) {
  StatusOr<std::unique_ptr<ClipModel>> model = ClipModel::load(o.model);
  if (!model.is_ok()) return report_error(model.status());
  const ClipModel& m = **model;
  const ModelInfo& info = m.info();
  const ClipHParams& h = m.hparams();
  StatusOr<std::string> sha = m.weights_sha256();
  if (!sha.is_ok()) return report_error(sha.status());
  nlohmann::json tower_v = {{"width", h.vision.width},
                            {"layers", h.vision.layers},
                            {"heads", h.vision.heads},
                            {"mlp_width", h.vision.mlp_width}};
  nlohmann::json tower_t = {{"width", h.text.width},
                            {"layers", h.text.layers},
                            {"heads", h.text.heads},
                            {"mlp_width", h.text.mlp_width}};
  nlohmann::json j = {{"weights", info.weights_path},
                      {"config", info.config_path},
                      {"format", info.format},
                      {"naming", info.naming},
                      {"dtypes", info.dtypes},
                      {"parameters", info.parameter_count},
                      {"sha256", *sha},
                      {"tokenizer", info.tokenizer},
                      {"architecture",
                       {{"embed_dim", h.embed_dim},
                        {"image_size", h.image_size},
                        {"patch_size", h.patch_size},
                        {"context_length", h.context_length},
                        {"vocab_size", h.vocab_size},
                        {"activation", std::string(activation_name(h.activation))},
                        {"vision", tower_v},
                        {"text", tower_t}}}};
  if (o.json) {
    print_json(j, true);
    return kExitOk;
  }
  std::printf("weights:      %s\n", info.weights_path.c_str());
  std::printf("config:       %s\n",
              info.config_path.empty() ? "(none: inferred from shapes)" : info.config_path.c_str());
  std::printf("format:       %s (%s tensor names)\n", info.format.c_str(), info.naming.c_str());
  std::printf("dtypes:       %s\n", info.dtypes.c_str());
  std::printf("parameters:   %lld\n", static_cast<long long>(info.parameter_count));
  std::printf("architecture: %s\n", h.describe().c_str());
  std::printf("sha256:       %s\n", sha->c_str());
  std::printf("tokenizer:    %s\n", info.tokenizer.c_str());
  return kExitOk;
}

}  // namespace

void setup_model(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("model", "Inspect, fetch or verify CLIP models");
  cmd->require_subcommand(1);
  auto o = std::make_shared<ModelInfoOptions>();
  o->model = default_model_path();
  CLI::App* info = cmd->add_subcommand(
      "info", "Show a model's format, architecture, dtypes, parameter count and SHA-256");
  info->add_option("--model,-m", o->model, "model folder or weights file ($XRAY_MODEL)")
      ->capture_default_str();
  info->add_flag("--json", o->json, "print JSON");
  info->callback([o, &exit_code] { exit_code = run_model_info(*o); });
  add_model_fetch_commands(*cmd, exit_code);
}

}  // namespace xrs::app
