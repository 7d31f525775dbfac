#include "embedding_file.h"

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <regex>

#include "core/file_util.h"

namespace xrs::app {

namespace {

static_assert(std::endian::native == std::endian::little, "the .npy reader assumes little-endian");

constexpr std::string_view kNpyMagic = "\x93NUMPY";

StatusOr<std::vector<float>> parse_npy(std::string_view bytes) {
  if (bytes.size() < 10) return Status::invalid_argument("the .npy file is truncated");
  const auto major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0;
  size_t start = 0;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(bytes[8]) | (size_t(static_cast<unsigned char>(bytes[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::invalid_argument("the .npy file is truncated");
    for (int i = 3; i >= 0; --i)
      header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    start = 12;
  } else {
    return Status::invalid_argument("unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < start + header_len) {
    return Status::invalid_argument("the .npy header is truncated");
  }
  const std::string header(bytes.substr(start, header_len));
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) {
    return Status::invalid_argument("the .npy header has no 'descr'");
  }
  const std::string descr = m[1];
  size_t item = 0;
  if (descr == "<f4") {
    item = 4;
  } else if (descr == "<f8") {
    item = 8;
  } else {
    return Status::invalid_argument("the .npy array's type is '" + descr +
                                    "'; float32 ('<f4') or float64 ('<f8') is needed");
  }
  // 'fortran_order' does not matter: a (d,) or (1, d) array reads the same in either order.
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    return Status::invalid_argument("the .npy header has no 'shape'");
  }
  std::vector<size_t> shape;
  const std::string dims = m[1];
  const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    shape.push_back(std::stoull(it->str()));
  }
  size_t n = 0;
  if (shape.size() == 1) {
    n = shape[0];
  } else if (shape.size() == 2 && shape[0] == 1) {
    n = shape[1];
  } else {
    return Status::invalid_argument("the .npy array's shape is (" + dims +
                                    "); one embedding, (d,) or (1, d), is needed");
  }
  const std::string_view data = bytes.substr(start + header_len);
  if (data.size() != n * item) {
    return Status::invalid_argument("the .npy data is " + std::to_string(data.size()) +
                                    " bytes; its header says " + std::to_string(n * item));
  }
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (item == 4) {
      std::memcpy(&out[i], data.data() + 4 * i, 4);
    } else {
      double d = 0;
      std::memcpy(&d, data.data() + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
  }
  return out;
}

StatusOr<std::vector<float>> parse_json_embedding(std::string_view bytes) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    return Status::invalid_argument("not a .npy file and not valid JSON: " + what);
  }
  if (doc.is_object() && doc.contains("embedding")) doc = doc["embedding"];
  if (!doc.is_array()) {
    return Status::invalid_argument(
        "the JSON must be an array of numbers (or an object with an \"embedding\" array)");
  }
  std::vector<float> out;
  out.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    if (!doc[i].is_number()) {
      return Status::invalid_argument("value " + std::to_string(i) + " (0-based) is not a number");
    }
    out.push_back(static_cast<float>(doc[i].get<double>()));
  }
  return out;
}

}  // namespace

StatusOr<std::vector<float>> parse_embedding_file(std::string_view bytes) {
  if (bytes.starts_with(kNpyMagic)) return parse_npy(bytes);
  return parse_json_embedding(bytes);
}

StatusOr<std::vector<float>> read_embedding_file(const std::string& path) {
  XRS_ASSIGN_OR_RETURN(std::string bytes, read_file(path, uint64_t(64) << 20));
  StatusOr<std::vector<float>> e = parse_embedding_file(bytes);
  if (!e.is_ok()) return e.status().with_context(path);
  return e;
}

}  // namespace xrs::app
