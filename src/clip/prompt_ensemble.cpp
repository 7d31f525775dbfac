#include "clip/prompt_ensemble.h"

#include <algorithm>
#include <cmath>

#include "clip/model_settings.h"
#include "clip/ops.h"

namespace xrs {

StatusOr<std::unique_ptr<PromptEnsemble>> PromptEnsemble::create(
    const ClipModel& model, std::vector<std::string> templates) {
  auto e = std::unique_ptr<PromptEnsemble>(new PromptEnsemble());
  e->model_ = &model;
  if (templates.empty() || model.tokenizer() == nullptr) {
    e->templates_ = std::move(templates);  // without a tokenizer embed() reports its absence
    return e;
  }
  const ClipHParams& h = model.hparams();
  for (const std::string& t : templates) {
    const size_t at = t.find("{}");
    if (at == std::string::npos || t.find("{}", at + 2) != std::string::npos) {
      return Status::invalid_argument("prompt template \"" + t + "\" must hold \"{}\" once");
    }
    XRS_ASSIGN_OR_RETURN(
        std::vector<int32_t> tokens,
        model.tokenizer()->tokenize(t.substr(0, at), /*truncate=*/true, h.context_length));
    // Up to (not including) the end token, the largest id.
    const int end =
        static_cast<int>(std::max_element(tokens.begin(), tokens.end()) - tokens.begin());
    tokens.resize(end);
    for (int32_t id : tokens) {
      if (id < 0 || id >= h.vocab_size) {
        return Status::invalid_argument("prompt template \"" + t + "\": token id " +
                                        std::to_string(id) + " is outside the model's vocabulary");
      }
    }
    TextPrefix prefix;
    encode_text_prefix(*model.weights_, h, tokens.data(), static_cast<int>(tokens.size()), prefix);
    e->prefix_tokens_.push_back(std::move(tokens));
    e->prefixes_.push_back(std::move(prefix));
  }
  e->templates_ = std::move(templates);
  return e;
}

StatusOr<std::vector<float>> PromptEnsemble::embed(std::string_view text) const {
  if (templates_.empty() || model_->tokenizer() == nullptr) return model_->embed_text(text);
  const ClipHParams& h = model_->hparams();
  const int C = h.context_length, n = static_cast<int>(templates_.size());
  std::vector<int32_t> rest(size_t(n) * C, 0);  // each prompt's tokens after its prefix
  std::vector<int> eot(n);
  std::vector<const TextPrefix*> prefixes(n, nullptr);
  for (int b = 0; b < n; ++b) {
    XRS_ASSIGN_OR_RETURN(const std::vector<int32_t> tokens,
                         model_->tokenizer()->tokenize(apply_prompt_template(templates_[b], text),
                                                       /*truncate=*/true, C));
    const int end =
        static_cast<int>(std::max_element(tokens.begin(), tokens.end()) - tokens.begin());
    for (int i = 0; i <= end; ++i) {
      if (tokens[i] < 0 || tokens[i] >= h.vocab_size) {
        return Status::invalid_argument("token id " + std::to_string(tokens[i]) +
                                        " is outside the model's vocabulary");
      }
    }
    const std::vector<int32_t>& p = prefix_tokens_[b];
    const int P = static_cast<int>(p.size());
    const bool continues = P < end && std::equal(p.begin(), p.end(), tokens.begin());
    const int skip = continues ? P : 0;
    if (continues) prefixes[b] = &prefixes_[b];
    std::copy(tokens.begin() + skip, tokens.begin() + end + 1, rest.begin() + size_t(b) * C);
    eot[b] = end - skip;
  }
  const size_t E = h.embed_dim;
  std::vector<float> rows(size_t(n) * E);
  encode_texts_after_prefix(*model_->weights_, h, prefixes.data(), rest.data(), n, eot.data(),
                            rows.data());
  l2_normalize_rows(rows.data(), n, static_cast<int>(E));
  std::vector<double> sum(E, 0.0);
  for (int b = 0; b < n; ++b) {
    for (size_t j = 0; j < E; ++j) sum[j] += rows[b * E + j];
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  if (!(norm > 0)) {
    return Status::invalid_argument("the prompt ensemble of the text query cancels out");
  }
  std::vector<float> out(E);
  for (size_t j = 0; j < E; ++j) out[j] = static_cast<float>(sum[j] / norm);
  return out;
}

}  // namespace xrs
