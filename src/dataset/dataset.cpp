#include "dataset/dataset.h"

#include <algorithm>

#include "dataset/text.h"

namespace xrs {

std::string_view severity_name(Severity severity) {
  return severity == Severity::kError ? "error" : "warning";
}

std::string_view problem_scope_name(ProblemScope scope) {
  return scope == ProblemScope::kDataset ? "dataset" : "image";
}

bool ValidationReport::valid() const {
  return error_count() == 0;
}

bool ValidationReport::fatal() const {
  return std::any_of(problems.begin(), problems.end(), [](const Problem& p) {
    return p.severity == Severity::kError && p.scope == ProblemScope::kDataset;
  });
}

int ValidationReport::error_count() const {
  return static_cast<int>(std::count_if(problems.begin(), problems.end(), [](const Problem& p) {
    return p.severity == Severity::kError;
  }));
}

int ValidationReport::warning_count() const {
  return static_cast<int>(problems.size()) - error_count();
}

ImageFileType image_type_for_extension(std::string_view extension) {
  const std::string e = ascii_lower(extension);
  if (e == ".png") return ImageFileType::kPng;
  if (e == ".jpg" || e == ".jpeg") return ImageFileType::kJpeg;
  if (e == ".dcm" || e == ".dicom") return ImageFileType::kDicom;
  return ImageFileType::kUnknown;
}

std::string unsafe_name_reason(std::string_view name, bool allow_subfolders) {
  if (name.empty()) return "it is empty";
  if (name.front() == '/') return "it is an absolute path";
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') return "it contains a backslash";
    if (u < 0x20 || u == 0x7F) return "it contains a control character";
    if (c == '/' && !allow_subfolders) return "it contains '/'";
  }
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t end = name.find('/', begin);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(begin, end - begin);
    if (part.empty()) return "it has an empty path component ('//' or a trailing '/')";
    if (part == "." || part == "..") return "it has a '" + std::string(part) + "' component";
    begin = end + 1;
  }
  return "";
}

namespace dataset_internal {

std::string extension_of(std::string_view name) {
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  return ascii_lower(base.substr(dot));
}

}  // namespace dataset_internal
}  // namespace xrs
