#include "dataset/validate.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>

#include "dataset/config.h"
#include "dataset/file_check.h"
#include "dataset/text.h"

namespace xrs {

using dataset_internal::FileJob;
using dataset_internal::FileResult;
namespace fs = std::filesystem;

namespace {

const std::string kMetadata(kMetadataFileName);
const std::string kRaw(kRawDirName);
// Nesting deeper than this under raw/ is reported instead of walked (no row needs it).
constexpr int kMaxWalkDepth = 32;

// "a, b, c", each item escaped (header names may hold line breaks).
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += escape_for_message(s);
  }
  return out;
}

class Validator {
 public:
  Validator(const std::string& data_dir, const DatasetConfig& config)
      : dir_(data_dir), config_(config) {
    report_.data_dir = data_dir;
    report_.decoded = config.decode_images;
  }

  ValidationReport run() {
    if (read_metadata()) {
      check_rows();
      check_files();
    }
    // Rows in file order; problems without a line (unlisted files) after them, by path.
    auto key = [](const Problem& p) {
      using Key = std::tuple<int, const std::string&, const std::string&, const std::string&>;
      return Key(p.line == 0 ? kLast : p.line, p.file, p.column, p.code);
    };
    std::stable_sort(report_.problems.begin(), report_.problems.end(),
                     [&](const Problem& a, const Problem& b) { return key(a) < key(b); });
    return std::move(report_);
  }

 private:
  static constexpr int kLast = std::numeric_limits<int>::max();

  void add(std::string code, ProblemScope scope, std::string file, int line, std::string column,
           std::string image_name, std::string message, Severity severity = Severity::kError) {
    report_.problems.push_back({std::move(code), severity, scope, std::move(file), line,
                                std::move(column), std::move(image_name), std::move(message)});
  }
  void add_dataset(std::string code, std::string file, int line, std::string message) {
    add(std::move(code), ProblemScope::kDataset, std::move(file), line, "", "", std::move(message));
  }

  // Reads metadata.csv and checks its header; false when rows cannot be checked at all.
  bool read_metadata() {
    Status config_ok = check_dataset_config(config_);
    if (!config_ok.is_ok()) {
      add_dataset("invalid_config", "", 0, "the configuration is invalid: " + config_ok.message());
      return false;
    }
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
      add_dataset("missing_data_dir", "", 0,
                  "the data directory " + quote_for_message(dir_.string()) +
                      (fs::exists(dir_, ec) ? " is not a directory" : " does not exist"));
      return false;
    }
    StatusOr<CsvTable> read = read_csv_file((dir_ / kMetadata).string(), kMetadata, config_.csv);
    if (!read.is_ok()) {
      const StatusCode code = read.status().code();
      if (code == StatusCode::kNotFound) {
        add_dataset("missing_metadata", kMetadata, 0,
                    kMetadata + " does not exist in " + quote_for_message(dir_.string()));
      } else if (code == StatusCode::kResourceExhausted) {
        add_dataset("csv_too_large", kMetadata, 0, read.status().message());
      } else {
        add_dataset("unreadable_metadata", kMetadata, 0, read.status().message());
      }
      return false;
    }
    table_ = std::move(read).value();
    for (const CsvIssue& issue : table_.issues) {
      add_dataset(std::string(csv_issue_code(issue.kind)), kMetadata, issue.line, issue.message);
    }
    report_.rows = table_.records_seen;
    report_.columns = table_.header;
    if (table_.header.empty()) return false;
    bool all_present = true;
    for (std::string_view name : {kColumnImageName, kColumnSourceUrl, kColumnCategory}) {
      if (table_.column_index(name) >= 0) continue;
      all_present = false;
      std::string m = kMetadata + " has no column '" + std::string(name) + "'";
      for (const std::string& h : table_.header) {
        if (h.find(name) != std::string::npos) m += " (but has " + quote_for_message(h) + ")";
      }
      add(std::string("missing_column"), ProblemScope::kDataset, kMetadata, table_.header_line,
          std::string(name), "", m + "; its columns are: " + joined(table_.header));
    }
    if (all_present && report_.rows == 0 && table_.issues.empty()) {
      add("empty_dataset", ProblemScope::kDataset, kMetadata, 0, "", "",
          kMetadata + " lists no images", Severity::kWarning);
    }
    return all_present;
  }

  void check_rows() {
    const int i_name = table_.column_index(kColumnImageName);
    const int i_url = table_.column_index(kColumnSourceUrl);
    const int i_cat = table_.column_index(kColumnCategory);
    const std::set<std::string> categories(config_.categories.begin(), config_.categories.end());
    std::set<std::string> extensions;
    for (const std::string& e : config_.extensions) {
      extensions.insert(ascii_lower(e));
    }
    std::map<std::string, int> first_line;
    for (CsvRecord& record : table_.records) {
      const std::string& name = record.fields[i_name];
      const std::string& category = record.fields[i_cat];
      const int line = record.line;
      const size_t problems_before = report_.problems.size();
      auto row_problem = [&](const char* code, std::string_view column, std::string message) {
        add(code, ProblemScope::kImage, kMetadata, line, std::string(column), name,
            std::move(message));
      };
      const std::string who = name.empty() ? "the row" : "image " + quote_for_message(name);
      for (int i : {i_name, i_url, i_cat}) {
        if (record.fields[i].empty()) {
          row_problem("empty_field", table_.header[i], who + " has an empty " + table_.header[i]);
        }
      }
      bool name_safe = false;
      bool duplicate = false;
      if (!name.empty()) {
        const std::string why = unsafe_name_reason(name, /*allow_subfolders=*/true);
        name_safe = why.empty();
        if (!name_safe) {
          row_problem("unsafe_name", kColumnImageName,
                      "image name " + quote_for_message(name) + " could leave its folder: " + why);
        }
        auto [it, inserted] = first_line.emplace(name, line);
        duplicate = !inserted;
        if (duplicate) {
          row_problem("duplicate_image_name", kColumnImageName,
                      who + " is already listed on line " + std::to_string(it->second));
        }
      }
      bool category_safe = false;
      bool category_known = false;
      if (!category.empty()) {
        const std::string why = unsafe_name_reason(category, /*allow_subfolders=*/false);
        category_safe = why.empty();
        category_known = categories.count(category) > 0;
        if (!category_safe) {
          row_problem(
              "unsafe_category", kColumnCategory,
              "category " + quote_for_message(category) + " is not a plain folder name: " + why);
        } else if (!category_known) {
          row_problem("unknown_category", kColumnCategory,
                      who + " has category " + quote_for_message(category) +
                          ", which is not one of " + joined(config_.categories) +
                          " (categories are case-sensitive)");
        }
      }
      ImageFileType expected = ImageFileType::kUnknown;
      if (name_safe) {
        const std::string ext = dataset_internal::extension_of(name);
        if (extensions.count(ext)) {
          expected = image_type_for_extension(ext);
        } else {
          row_problem(
              "bad_extension", kColumnImageName,
              who +
                  (ext.empty() ? " has no extension" : " has extension " + quote_for_message(ext)) +
                  "; allowed: " + joined(config_.extensions));
        }
      }
      const bool row_ok = report_.problems.size() == problems_before;
      if (name_safe && category_safe) {
        const std::string under_raw = category + "/" + name;
        listed_.insert(under_raw);
        for (size_t slash = under_raw.find('/'); slash != std::string::npos;
             slash = under_raw.find('/', slash + 1)) {
          listed_dirs_.insert(under_raw.substr(0, slash));
        }
        // The file of a later duplicate, or of a row whose category is wrong, is listed (so not
        // reported as unlisted) but not checked: the row's own problem says what to fix, and
        // "missing file" would only repeat it.
        if (!duplicate && category_known) {
          jobs_.push_back({name, kRaw + "/" + under_raw, line, expected});
          job_row_ok_.push_back(row_ok);
          job_record_.push_back(&record);
        }
      }
    }
  }

  void check_files() {
    std::error_code ec;
    const fs::path raw = dir_ / kRaw;
    if (!fs::is_directory(raw, ec)) {
      if (!jobs_.empty()) {
        add_dataset("missing_raw_dir", kRaw, 0,
                    "the image folder " + kRaw + "/ " +
                        (fs::exists(raw, ec) ? "is not a directory" : "does not exist") +
                        ", so none of the " + std::to_string(jobs_.size()) + " images can be read");
      }
      return;
    }
    const fs::path raw_canonical = fs::canonical(raw, ec);
    if (ec) {
      add_dataset("unreadable_directory", kRaw, 0, kRaw + "/ cannot be resolved: " + ec.message());
      return;
    }
    std::vector<FileResult> results = run_jobs(raw_canonical);
    for (size_t i = 0; i < jobs_.size(); ++i) {
      report_.images_checked += results[i].content_checked ? 1 : 0;
      const bool ok = job_row_ok_[i] && results[i].problems.empty();
      for (Problem& p : results[i].problems) report_.problems.push_back(std::move(p));
      if (ok) add_entry(jobs_[i], *job_record_[i]);
    }
    walk(raw, "", 0);
  }

  std::vector<FileResult> run_jobs(const fs::path& raw_canonical) {
    std::vector<FileResult> results(jobs_.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs_.size();) {
        results[i] = dataset_internal::check_image_file(jobs_[i], dir_, raw_canonical, config_);
      }
    };
    // This thread works too: threads - 1 helpers, and none beyond one per job.
    const size_t helpers =
        std::min<size_t>(static_cast<size_t>(config_.threads), jobs_.size() + 1) - 1;
    std::vector<std::jthread> pool;
    try {
      for (size_t t = 0; t < helpers; ++t) pool.emplace_back(work);
    } catch (const std::system_error&) {
      // Fewer threads than asked for: the ones that started (and this one) do all the work.
    }
    work();
    return results;
  }

  void add_entry(const FileJob& job, CsvRecord& record) {
    DatasetEntry e;
    for (size_t i = 0; i < table_.header.size(); ++i) {
      const std::string& column = table_.header[i];
      std::string& value = record.fields[i];
      const auto& hidden = config_.private_columns;
      if (std::find(hidden.begin(), hidden.end(), column) != hidden.end()) continue;
      if (column == kColumnImageName) {
        e.image_name = std::move(value);
      } else if (column == kColumnCategory) {
        e.category = std::move(value);
      } else if (column == kColumnSourceUrl) {
        e.source_url = std::move(value);
      } else {
        e.extra.emplace(column, std::move(value));
      }
    }
    e.relative_path = job.relative_path;
    e.line = job.line;
    report_.entries.push_back(std::move(e));
  }

  // Reports every file under raw/ that no row lists. Hidden entries are skipped; symbolic links
  // are not followed (a linked folder counts as listed when some row's path goes through it).
  void walk(const fs::path& dir, const std::string& rel, int depth) {
    const std::string shown = kRaw + "/" + rel;
    std::error_code ec;
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      entries.push_back(*it);
    }
    if (ec) {
      add("unreadable_directory", ProblemScope::kImage, shown, 0, "", "",
          quote_for_message(shown) + " cannot be listed: " + ec.message());
      return;
    }
    for (const fs::directory_entry& entry : entries) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with('.')) continue;
      const std::string path = rel + name;
      const bool is_link = entry.is_symlink(ec);
      const bool is_dir = entry.is_directory(ec);
      if (is_dir && !is_link) {
        if (depth < kMaxWalkDepth) {
          walk(entry.path(), path + "/", depth + 1);
        } else {
          add("unreadable_directory", ProblemScope::kImage, kRaw + "/" + path, 0, "", "",
              quote_for_message(kRaw + "/" + path) + " is nested too deep to be checked");
        }
      } else if (is_dir ? !listed_dirs_.count(path) : !listed_.count(path)) {
        report_unlisted(path, is_dir);
      }
    }
  }

  void report_unlisted(const std::string& path, bool is_dir) {
    const std::string shown = kRaw + "/" + path;
    std::string m = escape_for_message(shown) + (is_dir ? " (a linked folder)" : "") +
                    " is not listed in " + kMetadata;
    const size_t slash = path.find('/');
    if (slash == std::string::npos) {
      m += " (files belong in " + kRaw + "/<category>/)";
    } else if (std::find(config_.categories.begin(), config_.categories.end(),
                         path.substr(0, slash)) == config_.categories.end()) {
      m += " (and " + quote_for_message(path.substr(0, slash)) + " is not a known category)";
    }
    add("unlisted_file", ProblemScope::kImage, shown, 0, "", "", m,
        config_.unlisted_files_are_errors ? Severity::kError : Severity::kWarning);
  }

  const fs::path dir_;
  const DatasetConfig& config_;
  ValidationReport report_;
  CsvTable table_;
  std::set<std::string> listed_;       // "<category>/<image_name>" of every row with safe names
  std::set<std::string> listed_dirs_;  // the folders those paths go through
  std::vector<FileJob> jobs_;
  std::vector<bool> job_row_ok_;        // the job's row had no problem of its own
  std::vector<CsvRecord*> job_record_;  // the job's row
};

}  // namespace

ValidationReport validate_dataset(const std::string& data_dir, const DatasetConfig& config) {
  return Validator(data_dir, config).run();
}

}  // namespace xrs
