// Finding a model's files and reading its architecture.
//
// A model is a folder (or a weights file inside one) holding one of:
//   open_clip_model.safetensors (+ open_clip_config.json)     OpenCLIP / OpenAI names
//   model.safetensors (+ config.json, preprocessor_config.json) Hugging Face CLIPModel names
//   *.pt                                                       OpenAI TorchScript checkpoint
// and a tokenizer (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt). When a folder
// holds several, they are tried in the order above. Given a file, its config and tokenizer are
// looked for beside it. The architecture is inferred from tensor shapes (as OpenAI's
// build_model does: heads = width / 64, QuickGELU) and then refined by the config file, which must
// agree with the shapes.
#pragma once

#include <string>

#include "clip/checkpoint/hparams.h"
#include "clip/checkpoint/tensor_archive.h"
#include "clip/checkpoint/tensor_names.h"
#include "core/status.h"

namespace xrs {

struct ModelFiles {
  std::string dir;           // the folder the files are in
  std::string weights;       // the weights file
  std::string config;        // open_clip_config.json / config.json, or "" if none
  std::string preprocessor;  // Hugging Face preprocessor_config.json, or ""
};

// Resolves a folder or file path to the files to load (kNotFound with the list of what was looked
// for when nothing is there).
StatusOr<ModelFiles> find_model_files(const std::string& path, WeightNaming* naming_hint = nullptr);

// The architecture from tensor shapes alone.
StatusOr<ClipHParams> infer_hparams(const TensorArchive& archive, WeightNaming naming);

// Refines `hparams` with an OpenCLIP (open_clip_config.json) or Hugging Face (config.json) file;
// fails when the file contradicts the tensors or asks for an architecture this engine lacks.
Status apply_config_file(const std::string& path, WeightNaming naming, ClipHParams& hparams);

// Reads image_mean / image_std from a Hugging Face preprocessor_config.json.
Status apply_preprocessor_config(const std::string& path, ClipHParams& hparams);

}  // namespace xrs
