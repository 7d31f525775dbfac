#include "dataset/file_check.h"

#include <algorithm>
#include <new>

#include "core/file_util.h"
#include "dataset/text.h"

namespace xrs::dataset_internal {

namespace fs = std::filesystem;

namespace {

// Whether `path` (canonical) lies strictly inside `dir` (canonical), component by component, so
// that "raw2/x" is not taken to be inside "raw".
bool is_inside(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (p == path.end() || *p != *d) return false;
  }
  return p != path.end();
}

std::string type_label(ImageFileType type) {
  switch (type) {
    case ImageFileType::kPng:
      return "PNG";
    case ImageFileType::kJpeg:
      return "JPEG";
    case ImageFileType::kDicom:
      return "DICOM";
    case ImageFileType::kUnknown:
      break;
  }
  return "unknown";
}

std::string first_bytes_hex(std::span<const uint8_t> bytes) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    if (i) out += ' ';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

class Checker {
 public:
  Checker(const FileJob& job, const fs::path& data_dir, const fs::path& raw_canonical,
          const DatasetConfig& config)
      : job_(job), data_dir_(data_dir), raw_(raw_canonical), config_(config) {}

  FileResult run() {
    try {
      check();
    } catch (const std::bad_alloc&) {
      add("decode_failed", "ran out of memory while checking " + job_.relative_path);
    } catch (const std::exception& e) {
      add("unreadable_file", job_.relative_path + " cannot be checked: " + e.what());
    }
    return std::move(result_);
  }

 private:
  void add(std::string code, std::string message) {
    Problem p;
    p.code = std::move(code);
    p.scope = ProblemScope::kImage;
    p.file = job_.relative_path;
    p.line = job_.line;
    p.column = std::string(kColumnImageName);
    p.image_name = job_.image_name;
    p.message = std::move(message);
    result_.problems.push_back(std::move(p));
  }

  void check() {
    const std::string& rel = job_.relative_path;
    const fs::path full = data_dir_ / rel;
    std::error_code ec;
    const fs::path target = fs::canonical(full, ec);
    if (ec) {
      std::error_code link_ec;
      if (ec == std::errc::no_such_file_or_directory && fs::is_symlink(full, link_ec)) {
        add("missing_file", rel + " is a symbolic link whose target does not exist");
      } else if (ec == std::errc::no_such_file_or_directory) {
        add("missing_file", rel + " does not exist");
      } else {
        add("unreadable_file", rel + " cannot be resolved: " + ec.message());
      }
      return;
    }
    if (!is_inside(target, raw_)) {
      add("unsafe_link", rel + " leads to " + quote_for_message(target.string()) +
                             ", outside raw/ (a symbolic link)");
      return;
    }
    const fs::file_status st = fs::status(target, ec);
    if (ec || !fs::is_regular_file(st)) {
      add("not_a_file", rel + " is not a regular file" +
                            (fs::is_directory(st) ? std::string(" (a directory)") : ""));
      return;
    }
    const uint64_t size = fs::file_size(target, ec);
    if (!ec && size == 0) {
      add("empty_file", rel + " is empty (0 bytes)");
      return;
    }
    if (job_.expected == ImageFileType::kUnknown) return;
    check_content(target);
  }

  void check_content(const fs::path& target) {
    const std::string& rel = job_.relative_path;
    StatusOr<MappedFile> mapped = MappedFile::open(target.string());
    if (!mapped.is_ok()) {
      add("unreadable_file", rel + " cannot be read: " + mapped.status().message());
      return;
    }
    result_.content_checked = true;
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(mapped->data()),
                                         mapped->size());
    const ImageFileType actual = sniff_image_type(bytes);
    if (actual != job_.expected) {
      const std::string ext = extension_of(job_.image_name);
      if (actual == ImageFileType::kUnknown) {
        add("content_mismatch", rel + " is named " + ext + " but is not a " +
                                    type_label(job_.expected) + " file (it starts with " +
                                    first_bytes_hex(bytes) + ")");
      } else {
        add("content_mismatch", rel + " is named " + ext + " but its content is " +
                                    type_label(actual) + ", not " + type_label(job_.expected));
      }
      return;
    }
    StatusOr<ImageInfo> info = probe_image(bytes, config_.decode.limits);
    if (!info.is_ok()) {
      add_decode_problem(info.status(), "its header cannot be read");
      return;
    }
    if (!config_.decode_images) return;
    StatusOr<Image> image = decode_image(bytes, config_.decode);
    if (!image.is_ok()) add_decode_problem(image.status(), "it does not decode");
  }

  void add_decode_problem(const Status& status, const std::string& what) {
    const std::string& rel = job_.relative_path;
    if (status.code() == StatusCode::kResourceExhausted) {
      add("too_many_pixels", rel + " is too large to decode: " + status.message());
    } else {
      add("decode_failed", rel + ": " + what + ": " + status.message());
    }
  }

  const FileJob& job_;
  const fs::path& data_dir_;
  const fs::path& raw_;
  const DatasetConfig& config_;
  FileResult result_;
};

}  // namespace

FileResult check_image_file(const FileJob& job, const fs::path& data_dir,
                            const fs::path& raw_canonical, const DatasetConfig& config) {
  return Checker(job, data_dir, raw_canonical, config).run();
}

}  // namespace xrs::dataset_internal
