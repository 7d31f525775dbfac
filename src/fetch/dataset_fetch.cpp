#include "fetch/dataset_fetch.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "dataset/dataset.h"
#include "fetch/url.h"

namespace xrs {

namespace fs = std::filesystem;

std::string_view fetch_outcome_name(FetchOutcome outcome) {
  switch (outcome) {
    case FetchOutcome::kDownloaded:
      return "downloaded";
    case FetchOutcome::kSkipped:
      return "skipped";
    case FetchOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kColumnSha256 = "sha256";

struct Columns {
  int name = -1, url = -1, category = -1, sha256 = -1;
};

// One row to fetch, prepared before the workers start.
struct Job {
  DatasetFetchItem item;
  std::string dest;
  std::string sha256;  // expected, lower case; empty when the row has none
  ImageFileType type = ImageFileType::kUnknown;
};

// "Intact": the expected SHA-256 when the row gives one, else a complete decode as `type`.
Status check_intact(const std::string& path, const Job& job, const DecodeOptions& decode) {
  if (!job.sha256.empty()) {
    XRS_ASSIGN_OR_RETURN(std::string sha, sha256_file(path));
    if (sha != job.sha256) {
      return Status::corruption("SHA-256 " + sha + ", expected " + job.sha256 +
                                " (the sha256 column)");
    }
    return Status::ok();
  }
  XRS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  const ImageFileType found = sniff_image_type(bytes);
  if (found != ImageFileType::kUnknown && found != job.type) {
    return Status::corruption("holds a " + std::string(image_file_type_name(found)) +
                              " image, but its name says " +
                              std::string(image_file_type_name(job.type)));
  }
  StatusOr<Image> image = decode_image(bytes, decode);
  return image.is_ok() ? Status::ok() : image.status();
}

// Fills `job` from a CSV record, or sets item.reason when the row is refused.
void prepare(const CsvRecord& r, const Columns& c, const std::string& out_dir, Job* job) {
  DatasetFetchItem& item = job->item;
  item.line = r.line;
  item.image_name = r.fields[c.name];
  item.category = r.fields[c.category];
  const std::string& url = r.fields[c.url];
  if (std::string why = unsafe_name_reason(item.image_name, true); !why.empty()) {
    item.reason = "image_name '" + item.image_name + "' is refused: " + why;
  } else if (std::string why2 = unsafe_name_reason(item.category, false); !why2.empty()) {
    item.reason = "category '" + item.category + "' is refused: " + why2;
  } else if ((job->type = image_type_for_extension(
                  fs::path(item.image_name).extension().string())) == ImageFileType::kUnknown) {
    item.reason = "image_name '" + item.image_name + "' does not end in an image extension";
  } else if (url.empty()) {
    item.reason = "source_url is empty";
  }
  if (!item.reason.empty()) return;
  item.url = github_blob_to_raw(url);
  if (c.sha256 >= 0) {
    job->sha256 = ascii_lower(r.fields[c.sha256]);
    if (!job->sha256.empty() &&
        (job->sha256.size() != 64 ||
         job->sha256.find_first_not_of("0123456789abcdef") != std::string::npos)) {
      item.reason = "sha256 '" + r.fields[c.sha256] + "' is not 64 hex digits";
      return;
    }
  }
  item.relative_path = std::string(kRawDirName) + "/" + item.category + "/" + item.image_name;
  job->dest = (fs::path(out_dir) / item.relative_path).string();
}

// Hosts found unreachable during the run: their other rows fail at once instead of each
// waiting for its own DNS or connection failure (offline, every row would).
class UnreachableHosts {
 public:
  // The first failure's message for `host`, or "" when the host has not failed.
  std::string reason(const std::string& host) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = hosts_.find(host);
    return it == hosts_.end() ? "" : it->second;
  }
  void add(const std::string& host, const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    hosts_.emplace(host, why);
  }

 private:
  mutable std::mutex mu_;  // guards hosts_
  std::map<std::string, std::string> hosts_;
};

void run_job(Job& job, const DatasetFetchOptions& options, UnreachableHosts& unreachable) {
  DatasetFetchItem& item = job.item;
  if (Status s = check_download_url(item.url, options.download.allow_http_loopback); !s.is_ok()) {
    item.reason = s.message();
    return;
  }
  const std::string host = parse_url(item.url)->host;  // checked just above
  const std::string hint =
      "; if this machine cannot reach the server, download the file by hand and save it as " +
      job.dest;
  std::error_code ec;
  fs::create_directories(fs::path(job.dest).parent_path(), ec);
  if (ec) {
    item.reason = fs::path(job.dest).parent_path().string() + ": " + ec.message();
    return;
  }
  if (fs::exists(job.dest, ec)) {
    if (!fs::is_regular_file(job.dest, ec)) {
      item.reason = job.dest + " exists and is not a regular file";
      return;
    }
    if (check_intact(job.dest, job, options.decode).is_ok()) {
      item.outcome = FetchOutcome::kSkipped;
      item.bytes = fs::file_size(job.dest, ec);
      return;
    }
  }
  if (std::string earlier = unreachable.reason(host); !earlier.empty()) {
    item.reason =
        "not tried: " + host + " was unreachable earlier in this run (" + earlier + ")" + hint;
    return;
  }
  DownloadRequest request{item.url, job.dest, job.sha256, {}};
  request.verify = [&job, &options](const std::string& part) {
    Status s = check_intact(part, job, options.decode);
    if (s.is_ok()) return s;
    return Status(s.code(), job.item.url + ": the downloaded file is not usable: " + s.message());
  };
  DownloadFailure failure;
  StatusOr<DownloadResult> got = download_file(request, options.download, {}, &failure);
  if (!got.is_ok()) {
    item.reason = got.status().message();
    if (failure.host_unreachable) unreachable.add(host, got.status().message());
    if (got.status().code() == StatusCode::kUnavailable) item.reason += hint;
    return;
  }
  item.outcome = FetchOutcome::kDownloaded;
  item.bytes = got->size;
}

Status copy_metadata(const std::string& from, const std::string& out_dir) {
  const fs::path to = fs::path(out_dir) / kMetadataFileName;
  std::error_code ec;
  if (fs::exists(to, ec) && fs::equivalent(from, to, ec)) return Status::ok();
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(from));
  return write_file_atomic(to.string(), text);
}

}  // namespace

StatusOr<DatasetFetchReport> fetch_dataset(const std::string& metadata_csv,
                                           const std::string& out_dir,
                                           const DatasetFetchOptions& options,
                                           const DatasetFetchCallback& on_item) {
  if (options.parallel < 1 || options.parallel > 64) {
    return Status::invalid_argument("parallel downloads must be 1..64, not " +
                                    std::to_string(options.parallel));
  }
  const std::string source = fs::path(metadata_csv).filename().string();
  XRS_ASSIGN_OR_RETURN(CsvTable table, read_csv_file(metadata_csv, source));
  Columns c{table.column_index(kColumnImageName), table.column_index(kColumnSourceUrl),
            table.column_index(kColumnCategory), table.column_index(kColumnSha256)};
  for (auto [index, name] : {std::pair{c.name, kColumnImageName},
                             {c.url, kColumnSourceUrl},
                             {c.category, kColumnCategory}}) {
    if (index < 0) {
      return Status::invalid_argument(
          metadata_csv + ": no column '" + std::string(name) + "'" +
          (table.issues.empty() ? "" : " (" + table.issues.front().message + ")"));
    }
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::io_error(out_dir + ": cannot create the folder: " + ec.message());
  XRS_RETURN_IF_ERROR(copy_metadata(metadata_csv, out_dir));

  DatasetFetchReport report;
  report.out_dir = out_dir;
  for (const CsvIssue& issue : table.issues) {
    DatasetFetchItem item;
    item.line = issue.line;
    item.reason = issue.message;
    report.items.push_back(std::move(item));
  }
  std::vector<Job> jobs(table.records.size());
  std::map<std::string, int> first_line;  // relative path → line of its first row
  for (size_t i = 0; i < jobs.size(); ++i) {
    prepare(table.records[i], c, out_dir, &jobs[i]);
    DatasetFetchItem& item = jobs[i].item;
    if (!item.reason.empty()) continue;
    auto [it, fresh] = first_line.emplace(item.relative_path, item.line);
    if (!fresh)
      item.reason = item.relative_path + " is also listed on line " + std::to_string(it->second);
  }

  const int total = static_cast<int>(report.items.size() + jobs.size());
  std::mutex mu;  // guards `done` and serialises on_item
  int done = 0;
  auto finished = [&](const DatasetFetchItem& item) {
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (on_item) on_item(item, done, total);
  };
  for (const DatasetFetchItem& item : report.items) finished(item);
  std::atomic<size_t> next{0};
  UnreachableHosts unreachable;
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      if (jobs[i].item.reason.empty()) run_job(jobs[i], options, unreachable);
      finished(jobs[i].item);
    }
  };
  std::vector<std::thread> threads;
  const int n = std::min<int>(options.parallel, std::max<int>(1, static_cast<int>(jobs.size())));
  for (int t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();

  for (Job& job : jobs) report.items.push_back(std::move(job.item));
  for (const DatasetFetchItem& item : report.items) {
    if (item.outcome == FetchOutcome::kDownloaded) ++report.downloaded;
    if (item.outcome == FetchOutcome::kSkipped) ++report.skipped;
    if (item.outcome == FetchOutcome::kFailed) ++report.failed;
  }
  return report;
}

}  // namespace xrs
