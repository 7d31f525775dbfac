#include "clip/model_settings.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "core/file_util.h"

namespace xrs {

namespace {

constexpr uint64_t kMaxSettingsBytes = 1 << 20;

StatusOr<float> score(const nlohmann::json& v, const std::string& key, const std::string& origin) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < -1.0 ||
      v.get<double>() > 1.0) {
    return Status::invalid_argument(origin + ": \"" + key + "\" must be a number from -1 to 1");
  }
  return static_cast<float>(v.get<double>());
}

}  // namespace

StatusOr<ModelSettings> parse_model_settings(std::string_view json, const std::string& origin) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::invalid_argument(origin + ": not valid JSON");
  if (!doc.is_object()) return Status::invalid_argument(origin + ": must be a JSON object");
  ModelSettings s;
  for (const auto& [key, value] : doc.items()) {
    if (key == "text_min_score") {
      XRS_ASSIGN_OR_RETURN(s.text_min_score, score(value, key, origin));
    } else if (key == "image_min_score") {
      XRS_ASSIGN_OR_RETURN(s.image_min_score, score(value, key, origin));
    } else if (key == "duplicate_min_score") {
      if (!value.is_number() || !(value.get<double>() > 0.0 && value.get<double>() <= 1.0)) {
        return Status::invalid_argument(origin +
                                        ": \"duplicate_min_score\" must be a number in (0, 1]");
      }
      s.duplicate_min_score = static_cast<float>(value.get<double>());
    } else if (key == "prompt_templates") {
      if (!value.is_array()) {
        return Status::invalid_argument(origin +
                                        ": \"prompt_templates\" must be an array of strings");
      }
      for (const nlohmann::json& t : value) {
        if (!t.is_string()) {
          return Status::invalid_argument(origin +
                                          ": \"prompt_templates\" must be an array of strings");
        }
        const std::string text = t.get<std::string>();
        const size_t at = text.find("{}");
        if (at == std::string::npos || text.find("{}", at + 2) != std::string::npos) {
          return Status::invalid_argument(origin + ": prompt template \"" + text +
                                          "\" must hold \"{}\" exactly once");
        }
        s.prompt_templates.push_back(text);
      }
    } else if (key == "evaluation") {
      if (!value.is_object()) {
        return Status::invalid_argument(origin + ": \"evaluation\" must be an object");
      }
    } else {
      return Status::invalid_argument(origin + ": unknown key \"" + key +
                                      "\" (known: text_min_score, image_min_score, "
                                      "duplicate_min_score, prompt_templates, evaluation)");
    }
  }
  s.path = origin;
  return s;
}

std::string model_settings_path(const std::string& model_path) {
  std::error_code ec;
  const std::filesystem::path p(model_path);
  const std::filesystem::path dir = std::filesystem::is_directory(p, ec) ? p
                                    : p.has_parent_path()                ? p.parent_path()
                                                                         : ".";
  return (dir / kModelSettingsFileName).string();
}

StatusOr<ModelSettings> load_model_settings(const std::string& model_path) {
  const std::string path = model_settings_path(model_path);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ModelSettings{};
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxSettingsBytes));
  return parse_model_settings(text, path);
}

Status write_model_thresholds(const std::string& model_path, float text_min_score,
                              float image_min_score, const std::string& evaluation_json) {
  XRS_RETURN_IF_ERROR(load_model_settings(model_path).status());  // a broken file is not replaced
  const std::string path = model_settings_path(model_path);
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxSettingsBytes));
    doc = nlohmann::ordered_json::parse(text, nullptr, false);
  }
  if (!std::isnan(text_min_score)) doc["text_min_score"] = text_min_score;
  if (!std::isnan(image_min_score)) doc["image_min_score"] = image_min_score;
  if (!evaluation_json.empty()) {
    nlohmann::ordered_json e = nlohmann::ordered_json::parse(evaluation_json, nullptr, false);
    if (e.is_object()) doc["evaluation"] = e;
  }
  return write_file_atomic(path, doc.dump(2) + "\n");
}

std::string apply_prompt_template(std::string_view tmpl, std::string_view text) {
  std::string out(tmpl);
  if (const size_t at = out.find("{}"); at != std::string::npos) out.replace(at, 2, text);
  return out;
}

}  // namespace xrs
