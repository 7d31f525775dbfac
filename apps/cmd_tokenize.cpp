// xray-search tokenize [--tokenizer PATH] TEXT...
// One JSON line per text: {"text", "tokens": [77 ids], "truncated"} (clip.tokenize(truncate=True)).
#include <filesystem>
#include <memory>
#include <vector>

#include "common.h"
#include "tokenizer/tokenizer.h"

namespace xrs::app {

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::vector<std::string> texts;
};

StatusOr<Tokenizer> load_tokenizer(const std::string& path) {
  if (std::filesystem::is_directory(path)) return Tokenizer::load_dir(path);
  if (std::filesystem::path(path).filename() == "vocab.json") {
    return Tokenizer::load_hf(path,
                              (std::filesystem::path(path).parent_path() / "merges.txt").string());
  }
  return Tokenizer::load_openai(path);
}

int run_tokenize(const TokenizeOptions& o) {
  StatusOr<Tokenizer> tokenizer = load_tokenizer(o.tokenizer);
  if (!tokenizer.is_ok()) return report_error(tokenizer.status());
  for (const std::string& text : o.texts) {
    StatusOr<std::vector<int32_t>> ids = tokenizer->encode(text);
    if (!ids.is_ok()) return report_error(ids.status());
    const bool truncated = ids->size() + 2 > size_t(Tokenizer::kContextLength);
    StatusOr<std::vector<int32_t>> tokens = tokenizer->tokenize(text, /*truncate=*/true);
    if (!tokens.is_ok()) return report_error(tokens.status());
    print_json({{"text", text}, {"tokens", *tokens}, {"truncated", truncated}});
  }
  return kExitOk;
}

}  // namespace

void setup_tokenize(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TokenizeOptions>();
  o->tokenizer = default_model_path();
  CLI::App* cmd =
      app.add_subcommand("tokenize", "Print CLIP token ids (77 per text) as JSON lines");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "model folder, bpe_simple_vocab_16e6.txt.gz, or vocab.json (merges.txt beside)")
      ->capture_default_str();
  cmd->add_option("text", o->texts, "texts to tokenize")->required();
  cmd->callback([o, &exit_code] { exit_code = run_tokenize(*o); });
}

}  // namespace xrs::app
