#include "dataset/dataset.h"

#include <utf8proc.h>

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
  const std::string e = dataset_internal::ascii_lower(extension);
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

std::string escaped(std::string_view text) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      utf8proc_int32_t cp = 0;
      const utf8proc_ssize_t n =
          utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                           static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
      if (n > 0 && cp >= 0) {
        out.append(text.substr(i, static_cast<size_t>(n)));
        i += static_cast<size_t>(n);
        continue;
      }
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\' || c == '\'') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string extension_of(std::string_view name) {
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  return ascii_lower(base.substr(dot));
}

}  // namespace dataset_internal
}  // namespace xrs
