// train: runs xray-search-train, the LibTorch trainer built next to this binary (train/,
// docs/TRAINING.md), so that xray-search itself never links LibTorch.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common.h"

namespace xrs::app {

static std::string train_program_path() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ((ec ? std::filesystem::path(".") : self.parent_path()) / "xray-search-train").string();
}

int exec_train(int argc, char** argv) {
  const std::string program = train_program_path();
  std::vector<char*> args;
  args.push_back(const_cast<char*>(program.c_str()));
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(program.c_str(), args.data());
  const int err = errno;
  if (err == ENOENT) {
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        // Help still answers (exit 0) where the trainer was not built, and says why.
        std::printf(
            "train or fine-tune a CLIP model on a dataset folder\n"
            "Usage: xray-search train DATASET --out DIR [OPTIONS]\n\n"
            "This build has no trainer: xray-search-train (%s) needs LibTorch.\n"
            "Debian: apt install libtorch-dev, then rebuild; the options are in "
            "docs/TRAINING.md.\n",
            program.c_str());
        return 0;
      }
    }
    std::fprintf(stderr,
                 "xray-search: error: 'train' needs xray-search-train next to xray-search (%s), "
                 "which was not built: it needs LibTorch (Debian: apt install libtorch-dev, then "
                 "rebuild; docs/TRAINING.md)\n",
                 program.c_str());
  } else {
    std::fprintf(stderr, "xray-search: error: cannot run %s: %s\n", program.c_str(),
                 std::strerror(err));
  }
  return kExitFailure;
}

void setup_train(CLI::App& app) {
  // Listed in --help; `xray-search train ...` itself is handed to xray-search-train by main()
  // before parsing (its options are that program's).
  app.add_subcommand("train",
                     "train or fine-tune a CLIP model on a dataset folder (runs "
                     "xray-search-train; `xray-search train --help`)");
}

}  // namespace xrs::app
