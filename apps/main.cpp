// xray-search: the command-line entry point. Each subcommand lives in its own cmd_*.cpp as an
// options struct, a setup function that registers it, and a run function that calls one
// library function.
#include <cstdio>
#include <exception>
#include <string_view>

#include "common.h"

int main(int argc, char** argv) {
  using namespace xrs::app;
  if (argc >= 2 && std::string_view(argv[1]) == "train") return exec_train(argc, argv);
  CLI::App app{
      "xray-search: semantic X-ray image search (CLIP ViT embeddings; retrieval only, "
      "not for diagnosis)"};
  app.set_version_flag("--version", "xray-search 0.1.0");
  app.require_subcommand(1);
  int exit_code = kExitOk;
  setup_dataset(app, exit_code);
  setup_validate(app, exit_code);
  setup_index(app, exit_code);
  setup_merge(app, exit_code);
  setup_search(app, exit_code);
  setup_evaluate(app, exit_code);
  setup_serve(app, exit_code);
  setup_token(app, exit_code);
  setup_export(app, exit_code);
  setup_duplicates(app, exit_code);
  setup_embed(app, exit_code);
  setup_tokenize(app, exit_code);
  setup_preprocess(app, exit_code);
  setup_model(app, exit_code);
  setup_bench(app, exit_code);
  setup_train(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, version or the usage error
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xray-search: error: %s\n", e.what());
    return kExitFailure;
  }
  return exit_code;
}
