// xray-search model info [--model M] [--json]
// (model fetch / verify: see cmd_model_fetch.cpp)
#include <memory>

#include "clip/clip_model.h"
#include "common.h"
#include "kernels/cpu_features.h"

namespace xrs::app {

namespace {

struct ModelInfoOptions {
  std::string precision;
  std::string model;
  bool json = false;
};

int run_model_info(const ModelInfoOptions& o) {
  StatusOr<std::optional<kernels::Precision>> precision = parse_precision_option(o.precision);
  if (!precision.is_ok()) return report_error(precision.status(), true);
  ClipLoadOptions load;
  load.precision = precision->value_or(kernels::Precision::kFp32);
  StatusOr<std::unique_ptr<ClipModel>> model = ClipModel::load(o.model, load);
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
                        {"text", tower_t}}},
                      {"cpu", kernels::cpu_features().describe()},
                      {"precision", info.precision},
                      {"kernels", info.kernels},
                      {"text_f16_matrices", info.text_f16_matrices},
                      {"onednn", kernels::onednn_version()}};
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
  std::printf("cpu:          %s\n", kernels::cpu_features().describe().c_str());
  std::printf("text weights: %d of %zu linear matrices held as float16 (exactly their values)\n",
              info.text_f16_matrices, 4 * size_t(h.text.layers));
  std::printf(
      "kernels:      image tower at %s: %s (oneDNN %s)\n", info.precision.c_str(),
      info.kernels.c_str(),
      kernels::onednn_version().empty() ? "not built in" : kernels::onednn_version().c_str());
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
  add_precision_option(*info, o->precision, "default fp32");
  info->add_flag("--json", o->json, "print JSON");
  info->callback([o, &exit_code] { exit_code = run_model_info(*o); });
  add_model_fetch_commands(*cmd, exit_code);
}

}  // namespace xrs::app
