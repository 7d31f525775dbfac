// De-identification end to end (docs/SECURITY.md): a DICOM file carrying every attribute of the
// PS3.15 Basic Profile list (tests/support/phi_dicom.h: the patient's name, IDs, dates, ...) is
// validated, indexed, searched, exported and served through the built binary. Not one byte of
// any identifying value may appear in anything the project wrote or sent: the index folder,
// the export, every command's output, every API response (the image route sends a PNG), the
// web UI's files, the access log and the audit log. A second server started with
// --serve-originals sends the file as stored: the check finds the values there, so it is able to
// find a leak.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/file_util.h"
#include "e2e/subprocess.h"
#include "pipeline/dataset_copy.h"
#include "support/phi_dicom.h"

namespace xrs {
namespace {

namespace fs = std::filesystem;
using testing::describe;
using testing::kPhiMarker;
using testing::ProcessResult;
using testing::run_cli;
using testing::run_process;

constexpr char kToken[] = "xrs_deidentification-test-token-000000000001";

std::string read_all(const std::string& path) {
  auto bytes = read_file(path);
  return bytes.is_ok() ? *bytes : std::string();
}

// Every occurrence of the marker in `bytes`, for the failure message.
std::string leaks_in(const std::string& what, const std::string& bytes) {
  const size_t at = bytes.find(kPhiMarker);
  if (at == std::string::npos) return "";
  return what + " contains '" + bytes.substr(at, 24) + "'\n";
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

// curl's output (headers and body, -i) for one request.
ProcessResult curl(const std::string& args) {
  return run_process({"/bin/sh", "-c", "curl -sS -i --max-time 30 " + args});
}

class Deidentification : public ::testing::Test {
 protected:
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    if (run_process({"/bin/sh", "-c", "command -v curl"}).exit_code != 0) {
      GTEST_SKIP() << "skipped: curl is needed (scripts/install-deps.sh)";
    }
    dir_ = testing::scratch_dir("deidentification");
    data_ = dir_ + "/data";
    index_ = dir_ + "/idx";
    fs::create_directories(data_ + "/raw/chest");
    dicom_ = testing::phi_dicom(96, 80);
    ASSERT_NE(dicom_.find(kPhiMarker), std::string::npos);
    ASSERT_NE(dicom_.find("DOE^JANE^"), std::string::npos);
    std::ofstream(data_ + "/raw/chest/scan-0001.dcm", std::ios::binary) << dicom_;
    // A second, ordinary image, so that searches have more than one candidate.
    const auto first = testing::shared_rows().at(0);
    fs::copy_file(testing::shared_file(first),
                  data_ + "/raw/chest/plain" + fs::path(first.image_name).extension().string());
    // A private column (a medical record number) that must stay in the dataset folder.
    std::ofstream(data_ + "/metadata.csv")
        << "image_name,source_url,category,license,mrn\n"
        << "scan-0001.dcm,https://example.org/scan-0001,chest,CC0," << kPhiMarker << "-MRN-1\n"
        << "plain" << fs::path(first.image_name).extension().string()
        << ",https://example.org/plain,chest,CC0," << kPhiMarker << "-MRN-2\n";
    std::ofstream(data_ + "/xray-search.json") << R"({"private_columns": ["mrn"]})";
    std::ofstream(dir_ + "/tokens.txt") << "viewer all sha256:" << sha256_of(kToken) << "\n";
  }

  static std::string sha256_of(const std::string& token) {
    ProcessResult r =
        run_process({"/bin/sh", "-c", "printf '%s' " + quote(token) + " | sha256sum | cut -c1-64"});
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::string dir_, data_, index_, dicom_;
};

TEST_F(Deidentification, NoIdentifyingValueLeavesThroughAnyOutput) {
  std::string leaks;
  auto check = [&](const std::string& what, const std::string& bytes) {
    leaks += leaks_in(what, bytes);
  };

  ProcessResult validate = run_cli({"validate", data_});
  EXPECT_EQ(validate.exit_code, 0) << describe(validate);
  check("validate stdout", validate.out);
  check("validate stderr", validate.err);
  ProcessResult index =
      run_cli({"index", data_, "--model", testing::tiny_model_dir(), "--index", index_});
  ASSERT_EQ(index.exit_code, 0) << describe(index);
  check("index stdout", index.out);
  check("index stderr", index.err);
  ProcessResult exported = run_cli({"export", "--index", index_, "--out", dir_ + "/export"});
  ASSERT_EQ(exported.exit_code, 0) << describe(exported);
  check("export .csv", read_all(dir_ + "/export.csv"));
  check("export .npy", read_all(dir_ + "/export.npy"));
  ProcessResult search =
      run_cli({"search", "--index", index_, "--image", data_ + "/raw/chest/scan-0001.dcm", "--json",
               "--min-score", "-1", "--include-self"});
  ASSERT_EQ(search.exit_code, 0) << describe(search);
  check("search --json", search.out + search.err);

  // The server, with tokens and an audit log.
  const int port = free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto server = testing::Subprocess::start(
      {testing::cli_path(), "serve", "--index", index_, "--port", std::to_string(port), "--tokens",
       dir_ + "/tokens.txt", "--audit-log", dir_ + "/audit.log"});
  ASSERT_TRUE(server);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    up = curl(quote(base + "/api/health")).exit_code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << "the server did not come up";
  const std::string auth = "-H " + quote(std::string("Authorization: Bearer ") + kToken) + " ";
  std::vector<std::pair<std::string, std::string>> requests = {
      {"health", quote(base + "/api/health")},
      {"openapi", auth + quote(base + "/api/openapi.json")},
      {"ui", quote(base + "/")},
      {"ui app.js", quote(base + "/app.js")},
      {"text search", auth + "-H 'Content-Type: application/json' -d " +
                          quote(R"({"query":"chest","min_score":-1})") + " " +
                          quote(base + "/api/search/text")},
      {"image search", auth + "-F " + quote("file=@" + data_ + "/raw/chest/scan-0001.dcm") +
                           " -F min_score=-1 " + quote(base + "/api/search/image")},
  };
  for (const auto& [what, args] : requests) {
    ProcessResult r = curl(args);
    EXPECT_EQ(r.exit_code, 0) << what << describe(r);
    EXPECT_NE(r.out.find(" 200"), std::string::npos) << what << r.out.substr(0, 300);
    check(what, r.out);
  }
  // Every indexed image, its preview, and a search from it.
  ProcessResult list = curl(auth + "-H 'Content-Type: application/json' -d " +
                            quote(R"({"query":"x","min_score":-1,"k":20})") + " " +
                            quote(base + "/api/search/text"));
  const std::string body = list.out.substr(list.out.find("\r\n\r\n") + 4);
  const auto results = nlohmann::json::parse(body)["results"];
  ASSERT_EQ(results.size(), 2u) << body;
  std::string dicom_id;
  for (const auto& hit : results) {
    const std::string id = std::to_string(hit["id"].get<int64_t>());
    const bool dicom = hit["image_name"] == "scan-0001.dcm";
    if (dicom) dicom_id = id;
    ProcessResult image = curl(auth + quote(base + "/api/images/" + id));
    EXPECT_NE(image.out.find("Content-Type: image/png"), std::string::npos)
        << "the image route sends a PNG: " << image.out.substr(0, 300);
    EXPECT_NE(image.out.find("\r\n\r\n\x89PNG"), std::string::npos);
    if (dicom) {
      EXPECT_EQ(image.out.find("DICM"), std::string::npos);
    }
    check("image " + id, image.out);
    ProcessResult preview = curl(auth + quote(base + "/api/images/" + id + "/preview?size=64"));
    EXPECT_NE(preview.out.find("Content-Type: image/jpeg"), std::string::npos);
    check("preview " + id, preview.out);
    ProcessResult similar = curl(auth + "-H 'Content-Type: application/json' -d " +
                                 quote(R"({"id":)" + id + R"(,"min_score":-1})") + " " +
                                 quote(base + "/api/search/similar"));
    check("similar " + id, similar.out);
  }
  ASSERT_FALSE(dicom_id.empty());
  server->signal(SIGTERM);
  ProcessResult served = server->wait(std::chrono::seconds(30));
  EXPECT_EQ(served.exit_code, 0) << describe(served);
  check("serve stdout", served.out);
  check("serve stderr (the access log)", served.err);
  const std::string audit = read_all(dir_ + "/audit.log");
  EXPECT_NE(audit.find("\"event\":\"image.open\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"upload_type\":\"dicom\""), std::string::npos) << audit;
  check("audit log", audit);
  EXPECT_EQ(served.err.find(kToken), std::string::npos) << "the token is in the access log";
  EXPECT_EQ(audit.find(kToken), std::string::npos) << "the token is in the audit log";

  // Every file the index holds (catalog, its WAL, vectors, ANN index, ...).
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(index_)) {
    if (!entry.is_regular_file()) continue;
    check("index file " + entry.path().filename().string(), read_all(entry.path().string()));
    ++files;
  }
  EXPECT_GE(files, 1);
  EXPECT_TRUE(leaks.empty()) << leaks;

  // The positive control: with --serve-originals the stored file goes out, and the same check
  // finds the patient's name in it.
  auto originals =
      testing::Subprocess::start({testing::cli_path(), "serve", "--index", index_, "--port",
                                  std::to_string(port), "--serve-originals"});
  ASSERT_TRUE(originals);
  std::string raw;
  for (int i = 0; i < 300; ++i) {
    ProcessResult r = curl(quote(base + "/api/images/" + dicom_id));
    if (r.exit_code == 0) {
      raw = r.out;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  originals->signal(SIGTERM);
  ProcessResult original_run = originals->wait(std::chrono::seconds(30));
  EXPECT_NE(original_run.err.find("--serve-originals"), std::string::npos) << "no warning shown";
  EXPECT_NE(raw.find("Content-Type: application/dicom"), std::string::npos) << raw.substr(0, 300);
  EXPECT_NE(raw.find("DOE^JANE^"), std::string::npos);
  EXPECT_FALSE(leaks_in("the original", raw).empty()) << "the check cannot see a leak";
}

}  // namespace
}  // namespace xrs
