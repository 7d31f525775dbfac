#include "dataset/config.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file_util.h"
#include "dataset/text.h"

namespace xrs {

namespace {

constexpr uint64_t kMaxConfigBytes = 1u << 20;

// A JSON array of strings, or kInvalidArgument naming the key.
StatusOr<std::vector<std::string>> string_list(const nlohmann::json& value, const std::string& key,
                                               const std::string& origin) {
  if (!value.is_array()) {
    return Status::invalid_argument(origin + ": \"" + key + "\" must be an array of strings");
  }
  std::vector<std::string> out;
  for (const nlohmann::json& item : value) {
    if (!item.is_string()) {
      return Status::invalid_argument(
          origin + ": \"" + key + "\" must hold only strings, not " +
          item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

StatusOr<CaptionConfig> caption_config(const nlohmann::json& value, const std::string& origin) {
  if (!value.is_object())
    return Status::invalid_argument(origin + ": \"captions\" must be an object");
  CaptionConfig out;
  for (const auto& [key, item] : value.items()) {
    if (key == "column") {
      if (!item.is_string() || item.get<std::string>().empty()) {
        return Status::invalid_argument(origin + ": \"captions.column\" must be a column name");
      }
      out.column = item.get<std::string>();
    } else if (key == "templates") {
      XRS_ASSIGN_OR_RETURN(out.templates, string_list(item, "captions.templates", origin));
    } else if (key == "synonyms") {
      if (!item.is_object()) {
        return Status::invalid_argument(origin +
                                        ": \"captions.synonyms\" must map categories to words");
      }
      for (const auto& [category, words] : item.items()) {
        XRS_ASSIGN_OR_RETURN(out.synonyms[category],
                             string_list(words, "captions.synonyms." + category, origin));
      }
    } else {
      return Status::invalid_argument(origin + ": unknown key \"captions." + key +
                                      "\" (known: column, synonyms, templates)");
    }
  }
  Status checked = check_caption_config(out);
  if (!checked.is_ok()) return checked.with_context(origin);
  return out;
}

}  // namespace

Status check_dataset_config(const DatasetConfig& config) {
  if (config.categories.empty()) {
    return Status::invalid_argument("categories: at least one category is needed");
  }
  std::set<std::string> seen;
  for (const std::string& c : config.categories) {
    const std::string why = unsafe_name_reason(c, /*allow_subfolders=*/false);
    if (!why.empty()) {
      return Status::invalid_argument("categories: " + quote_for_message(c) +
                                      " is not a plain folder name: " + why);
    }
    if (!seen.insert(c).second) {
      return Status::invalid_argument("categories: " + quote_for_message(c) + " is listed twice");
    }
  }
  if (config.extensions.empty()) {
    return Status::invalid_argument("extensions: at least one extension is needed");
  }
  seen.clear();
  for (const std::string& e : config.extensions) {
    if (e.size() < 2 || e.front() != '.') {
      return Status::invalid_argument("extensions: " + quote_for_message(e) +
                                      " must start with '.' (like \".png\")");
    }
    if (image_type_for_extension(e) == ImageFileType::kUnknown) {
      return Status::invalid_argument("extensions: " + quote_for_message(e) +
                                      " is not an image type xray-search decodes (.png, .jpg, "
                                      ".jpeg, .dcm, .dicom)");
    }
    if (!seen.insert(ascii_lower(e)).second) {
      return Status::invalid_argument("extensions: " + quote_for_message(e) + " is listed twice");
    }
  }
  seen.clear();
  for (const std::string& c : config.private_columns) {
    if (c.empty()) return Status::invalid_argument("private_columns: a column name is empty");
    if (c == "image_name" || c == "category") {
      return Status::invalid_argument("private_columns: " + quote_for_message(c) +
                                      " cannot be private (the index is built on it)");
    }
    if (!seen.insert(c).second) {
      return Status::invalid_argument("private_columns: " + quote_for_message(c) +
                                      " is listed twice");
    }
  }
  if (config.group_column == "image_name" || config.group_column == "category") {
    return Status::invalid_argument("group_column: " + quote_for_message(config.group_column) +
                                    " cannot group images (use a patient or study id column)");
  }
  if (config.decode.limits.max_pixels < 1) {
    return Status::invalid_argument("max_pixels: must be at least 1");
  }
  if (config.threads < 1 || config.threads > 256) {
    return Status::invalid_argument("threads: must be between 1 and 256, not " +
                                    std::to_string(config.threads));
  }
  return Status::ok();
}

StatusOr<DatasetConfig> parse_dataset_config(std::string_view json, const std::string& origin,
                                             DatasetConfig base) {
  // Parse without exceptions: a malformed document becomes a discarded value.
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::invalid_argument(origin + ": not valid JSON");
  if (!doc.is_object()) return Status::invalid_argument(origin + ": must be a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (key == "categories") {
      XRS_ASSIGN_OR_RETURN(base.categories, string_list(value, key, origin));
    } else if (key == "extensions") {
      XRS_ASSIGN_OR_RETURN(base.extensions, string_list(value, key, origin));
      for (std::string& e : base.extensions) e = ascii_lower(e);
    } else if (key == "max_pixels") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() < 1) {
        return Status::invalid_argument(origin + ": \"max_pixels\" must be a positive integer");
      }
      base.decode.limits.max_pixels = value.get<uint64_t>();
    } else if (key == "private_columns") {
      XRS_ASSIGN_OR_RETURN(base.private_columns, string_list(value, key, origin));
    } else if (key == "group_column") {
      if (!value.is_string()) {
        return Status::invalid_argument(origin + ": \"group_column\" must be a string");
      }
      base.group_column = value.get<std::string>();
    } else if (key == "unlisted_files") {
      if (value != "error" && value != "warning") {
        return Status::invalid_argument(origin +
                                        ": \"unlisted_files\" must be \"error\" or \"warning\"");
      }
      base.unlisted_files_are_errors = value == "error";
    } else if (key == "captions") {
      XRS_ASSIGN_OR_RETURN(base.captions, caption_config(value, origin));
    } else {
      return Status::invalid_argument(origin + ": unknown key " + quote_for_message(key) +
                                      " (known: captions, categories, extensions, group_column, "
                                      "max_pixels, private_columns, unlisted_files)");
    }
  }
  Status checked = check_dataset_config(base);
  if (!checked.is_ok()) return checked.with_context(origin);
  return base;
}

StatusOr<DatasetConfig> load_dataset_config(const std::string& path, DatasetConfig base) {
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxConfigBytes));
  return parse_dataset_config(text, path, std::move(base));
}

StatusOr<DatasetConfig> load_dataset_config_for(const std::string& data_dir, DatasetConfig base) {
  const std::string path =
      (std::filesystem::path(data_dir) / std::string(kDatasetConfigFileName)).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return Status::io_error(path + ": " + ec.message());
    return base;
  }
  return load_dataset_config(path, std::move(base));
}

}  // namespace xrs
