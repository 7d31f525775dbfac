#include "dataset/captions.h"

#include <algorithm>

#include "core/strings.h"

namespace xrs {

const std::vector<std::string>& builtin_caption_templates() {
  static const std::vector<std::string> templates = {"{} x-ray", "{} radiograph", "x-ray of the {}",
                                                     "radiograph of the {}", "{} film"};
  return templates;
}

const std::map<std::string, std::vector<std::string>>& builtin_caption_synonyms() {
  static const std::map<std::string, std::vector<std::string>> synonyms = {
      {"chest", {"chest", "thorax", "lung"}},
      {"dental", {"dental", "teeth", "tooth", "jaw"}},
      {"hand", {"hand", "finger"}},
  };
  return synonyms;
}

StatusOr<std::vector<std::string>> caption_words(std::string_view category,
                                                 const CaptionConfig& config) {
  if (category.empty()) return Status::invalid_argument("captions: the category is empty");
  std::vector<std::string> words;
  auto add = [&](const std::string& w) {
    if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  };
  const std::string key(category);
  const auto& builtin = builtin_caption_synonyms();
  if (auto it = builtin.find(key); it != builtin.end()) {
    for (const std::string& w : it->second) add(w);
  } else {
    add(key);
  }
  if (auto it = config.synonyms.find(key); it != config.synonyms.end()) {
    for (const std::string& w : it->second) add(w);
  }
  return words;
}

StatusOr<std::vector<std::string>> generate_captions(std::string_view category,
                                                     const CaptionConfig& config) {
  XRS_ASSIGN_OR_RETURN(std::vector<std::string> words, caption_words(category, config));
  std::vector<std::string> templates = builtin_caption_templates();
  for (const std::string& t : config.templates) {
    if (std::find(templates.begin(), templates.end(), t) == templates.end()) templates.push_back(t);
  }
  std::vector<std::string> out;
  for (const std::string& t : templates) {
    const size_t at = t.find("{}");
    if (at == std::string::npos) {
      return Status::invalid_argument("captions: template " + quote_for_message(t) +
                                      " has no \"{}\"");
    }
    for (const std::string& w : words) out.push_back(t.substr(0, at) + w + t.substr(at + 2));
  }
  return out;
}

Status check_caption_config(const CaptionConfig& config) {
  for (const std::string& t : config.templates) {
    const size_t at = t.find("{}");
    if (at == std::string::npos || t.find("{}", at + 2) != std::string::npos) {
      return Status::invalid_argument("captions.templates: " + quote_for_message(t) +
                                      " must contain \"{}\" exactly once");
    }
  }
  for (const auto& [category, words] : config.synonyms) {
    if (category.empty()) return Status::invalid_argument("captions.synonyms: an empty category");
    for (const std::string& w : words) {
      if (w.empty()) {
        return Status::invalid_argument("captions.synonyms: an empty word for " +
                                        quote_for_message(category));
      }
    }
  }
  return Status::ok();
}

}  // namespace xrs
