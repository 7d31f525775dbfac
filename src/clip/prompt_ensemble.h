// PromptEnsemble: a text query embedded through a model's prompt templates (CLIP paper §3.1.4),
// the normalised embeddings averaged and normalised again, at a cost close to one query's.
//
//   auto e = PromptEnsemble::create(model, {"a chest radiograph of {}", "an x-ray showing {}"});
//   std::vector<float> q = (*e)->embed("pneumonia").value();
//
// Each template's beginning (the start token and the words before "{}") is run through the text
// tower once, at creation, and its keys and values kept (TextPrefix, clip/encoders.h): the causal
// mask makes them independent of the query. A query then runs only the rows after the prefixes,
// all templates in one batch. Where a prompt's tokens do not begin with its template's prefix
// tokens (a template whose "{}" is glued to a word, so that BPE merges across it), that prompt is
// run whole: the result is always that of embedding each whole prompt. Immutable after creation;
// safe to use from several threads. Holds a pointer to the model, which must outlive it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clip/clip_model.h"
#include "clip/encoders.h"

namespace xrs {

class PromptEnsemble {
 public:
  // `templates` each hold "{}" once (ModelSettings checks it; kInvalidArgument otherwise). No
  // templates: embed() is ClipModel::embed_text (which also reports a model without a tokenizer).
  static StatusOr<std::unique_ptr<PromptEnsemble>> create(const ClipModel& model,
                                                          std::vector<std::string> templates);

  // The L2-normalised ensemble embedding of `text`; kInvalidArgument when the prompts' embeddings
  // cancel out.
  StatusOr<std::vector<float>> embed(std::string_view text) const;

  const std::vector<std::string>& templates() const { return templates_; }

 private:
  PromptEnsemble() = default;

  const ClipModel* model_ = nullptr;
  std::vector<std::string> templates_;
  std::vector<std::vector<int32_t>> prefix_tokens_;  // per template: start + the words before {}
  std::vector<TextPrefix> prefixes_;
};

}  // namespace xrs
