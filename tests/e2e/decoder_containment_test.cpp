// Issue 8: no input may take a process down. Files that kill the image decoder go through every
// entry point of the built binary (validate, index, embed, the upload route, the image routes of
// an indexed file whose bytes were replaced) and each must end in a clear error for that file,
// while the process goes on and the other images are handled.
//
// Two bad files: a PNG carrying the decoder worker's test fault "abort" (imaging/decoder_pool.h;
// this program sets XRS_DECODER_TEST_FAULTS=1 for the processes it starts), which stands for any
// input that crashes a codec, and ../shared/regressions/dicom-gdcm-assert-bits.dcm, which made
// GDCM fail an assertion and call abort() until the DICOM decoder checked GDCM's preconditions:
// now a plain DICOM error (without ../shared, a file made with the same attributes:
// support/gdcm_regression_dicom.h). Both must end in a clear error for that file while the
// process goes on.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e/subprocess.h"
#include "imaging/encode.h"
#include "pipeline/dataset_copy.h"
#include "support/gdcm_regression_dicom.h"
#include "support/phi_dicom.h"

namespace xrs {
namespace {

namespace fs = std::filesystem;
using testing::describe;
using testing::ProcessResult;
using testing::run_cli;
using testing::run_process;

constexpr char kFaultName[] = "fault-abort.png";
constexpr char kRegressionName[] = "gdcm-assert.dcm";

// ../shared's file where present, else one generated with its attributes.
std::string regression_path() {
  return testing::gdcm_regression_dicom_file();
}

bool have_regression() {
  return fs::exists(regression_path());
}

// What each bad file's error says: a contained crash for the test fault, GDCM's refused
// precondition (imaging/dicom.cpp) for the regression file.
std::string expected_error(const std::string& name) {
  return name == kFaultName ? "the image decoder crashed on this file (SIGABRT"
                            : "Bits Stored 2 with Bits Allocated 8 is not supported";
}

// A valid 16x16 PNG (it passes every header check) whose trailing bytes make a test-fault
// decoder worker abort.
std::string fault_png() {
  Image image;
  image.width = 16;
  image.height = 16;
  image.pixels.assign(256, 128);
  auto png = encode_png(image);
  return (png.is_ok() ? *png : std::string()) + "XRS-DECODER-TEST-FAULT:abort;";
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
  return run_process({"/bin/sh", "-c", "curl -sS -i --max-time 60 " + args});
}

int http_status(const ProcessResult& r) {
  // "HTTP/1.1 422 Unprocessable..." (the last status line, after any 100 Continue).
  const size_t at = r.out.rfind("HTTP/1.");
  if (at == std::string::npos || r.out.size() < at + 12) return -1;
  return std::atoi(r.out.c_str() + at + 9);
}

class DecoderContainment : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv("XRS_DECODER_TEST_FAULTS", "1", 1);  // inherited by xray-search, then its workers
  }

  void SetUp() override {
    XRS_REQUIRE_DATASET();
    dir_ = testing::scratch_dir("decoder_containment");
    data_ = dir_ + "/data";
    fs::create_directories(data_ + "/raw/chest");
    std::ofstream csv(data_ + "/metadata.csv");
    csv << "image_name,source_url,category,license\n";
    auto add = [&](const std::string& name) {
      csv << name << ",https://example.org/" << name << ",chest,CC0\n";
      names_.push_back(name);
    };
    const auto rows = testing::shared_rows();
    for (size_t i = 0; i < 3; ++i) {
      fs::copy_file(testing::shared_file(rows.at(i)), data_ + "/raw/chest/" + rows[i].image_name);
      add(rows[i].image_name);
      good_.push_back(rows[i].image_name);
    }
    // A good DICOM, replaced by a killer after indexing (the image routes' test).
    std::ofstream(data_ + "/raw/chest/scan.dcm", std::ios::binary) << testing::phi_dicom(64, 48);
    add("scan.dcm");
    good_.push_back("scan.dcm");
    std::ofstream(data_ + "/raw/chest/" + kFaultName, std::ios::binary) << fault_png();
    add(kFaultName);
    bad_.push_back(kFaultName);
    if (have_regression()) {
      fs::copy_file(regression_path(), data_ + "/raw/chest/" + kRegressionName);
      add(kRegressionName);
      bad_.push_back(kRegressionName);
    }
  }

  std::string file(const std::string& name) const { return data_ + "/raw/chest/" + name; }

  std::string dir_, data_;
  std::vector<std::string> names_, good_, bad_;
};

TEST_F(DecoderContainment, ValidateReportsEachKillerAndGoesOn) {
  ProcessResult r = run_cli({"validate", data_});
  EXPECT_EQ(r.term_signal, 0) << describe(r);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const std::string all = r.out + r.err;
  for (const std::string& bad : bad_) {
    EXPECT_NE(all.find("decode_failed: raw/chest/" + bad + ": it does not decode: "),
              std::string::npos)
        << bad << "\n"
        << describe(r);
    EXPECT_NE(all.find(expected_error(bad)), std::string::npos) << bad << "\n" << describe(r);
  }
  EXPECT_NE(all.find(std::to_string(names_.size()) + " images checked (decoded), " +
                     std::to_string(bad_.size()) + " errors"),
            std::string::npos)
      << describe(r);
}

TEST_F(DecoderContainment, EmbedPrintsAnErrorLineAndEmbedsTheOthers) {
  std::vector<std::string> args = {"embed", "--model", testing::tiny_model_dir()};
  for (const std::string& name : names_) {
    args.push_back("--image");
    args.push_back(file(name));
  }
  ProcessResult r = run_cli(args);
  EXPECT_EQ(r.term_signal, 0) << describe(r);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  for (const std::string& bad : bad_) {
    EXPECT_NE(r.err.find("xray-search: error: " + file(bad) + ": "), std::string::npos)
        << describe(r);
    EXPECT_NE(r.err.find(expected_error(bad)), std::string::npos) << describe(r);
  }
  size_t lines = 0;
  std::istringstream out(r.out);
  for (std::string line; std::getline(out, line);) {
    auto j = nlohmann::json::parse(line);
    EXPECT_GT(j["embedding"].size(), 0u);
    EXPECT_EQ(j["input"].get<std::string>().find(data_), 0u) << line.substr(0, 200);
    ++lines;
  }
  EXPECT_EQ(lines, good_.size()) << describe(r);
}

TEST_F(DecoderContainment, IndexSkipsAndReportsKillersAndServingSurvivesThem) {
  if (run_process({"/bin/sh", "-c", "command -v curl"}).exit_code != 0) {
    GTEST_SKIP() << "skipped: curl is needed (scripts/install-deps.sh)";
  }
  const std::string index = dir_ + "/idx";
  ProcessResult indexed =
      run_cli({"index", data_, "--model", testing::tiny_model_dir(), "--index", index});
  ASSERT_EQ(indexed.term_signal, 0) << describe(indexed);
  ASSERT_EQ(indexed.exit_code, 0) << describe(indexed);
  EXPECT_NE(indexed.err.find(std::to_string(good_.size()) + " images (" +
                             std::to_string(good_.size()) + " added"),
            std::string::npos)
      << describe(indexed);
  for (const std::string& bad : bad_) {
    EXPECT_NE(indexed.err.find("skipped raw/chest/" + bad + ": "), std::string::npos)
        << describe(indexed);
  }
  ProcessResult exported = run_cli({"export", "--index", index, "--out", dir_ + "/export"});
  ASSERT_EQ(exported.exit_code, 0) << describe(exported);
  const std::string csv = testing::read_bytes(dir_ + "/export.csv");
  for (const std::string& good : good_) EXPECT_NE(csv.find(good), std::string::npos) << csv;
  for (const std::string& bad : bad_) EXPECT_EQ(csv.find(bad), std::string::npos) << csv;

  // The indexed DICOM's bytes replaced by a killer: its image routes fail, the server lives.
  testing::write_bytes(file("scan.dcm"), fault_png());

  const int port = free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto server = testing::Subprocess::start(
      {testing::cli_path(), "serve", "--index", index, "--port", std::to_string(port)});
  ASSERT_TRUE(server);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    up = curl(quote(base + "/api/health")).exit_code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << "the server did not come up";
  auto health_ok = [&] {
    ProcessResult h = curl(quote(base + "/api/health"));
    return h.exit_code == 0 && http_status(h) == 200;
  };
  auto upload = [&](const std::string& path) {
    return curl("-F " + quote("file=@" + path) + " -F min_score=-1 " +
                quote(base + "/api/search/image"));
  };
  for (const std::string& bad : bad_) {
    ProcessResult r = upload(file(bad));
    if (bad == kFaultName) {
      EXPECT_EQ(http_status(r), 422) << bad << "\n" << r.out.substr(0, 600);
      EXPECT_NE(r.out.find("image_decoder_failed"), std::string::npos) << r.out.substr(0, 600);
    } else {  // refused by the DICOM decoder itself: an ordinary 4xx about the upload
      EXPECT_GE(http_status(r), 400) << bad << "\n" << r.out.substr(0, 600);
      EXPECT_LT(http_status(r), 500) << bad << "\n" << r.out.substr(0, 600);
    }
    EXPECT_NE(r.out.find(expected_error(bad)), std::string::npos) << r.out.substr(0, 600);
    EXPECT_TRUE(health_ok()) << "the server died on " << bad;
    ProcessResult good = upload(file(good_[0]));
    EXPECT_EQ(http_status(good), 200) << good.out.substr(0, 600);
    const std::string body = good.out.substr(good.out.find("\r\n\r\n") + 4);
    // Every indexed image but the query itself (a search excludes its own file).
    EXPECT_EQ(nlohmann::json::parse(body)["results"].size(), good_.size() - 1) << body;
  }

  // The same file as an upload term of a combined query: the same 422, naming the term.
  {
    ProcessResult r =
        curl("-F " + quote(R"(query={"terms":[{"text":"x"},{"upload":"a"}]})") + " -F " +
             quote("a=@" + file(kFaultName)) + " " + quote(base + "/api/search/combined"));
    EXPECT_EQ(http_status(r), 422) << r.out.substr(0, 600);
    EXPECT_NE(r.out.find("image_decoder_failed"), std::string::npos) << r.out.substr(0, 600);
    EXPECT_NE(r.out.find("terms[1].upload 'a'"), std::string::npos) << r.out.substr(0, 600);
    EXPECT_TRUE(health_ok()) << "the server died on a combined upload";
  }

  ProcessResult list = curl("-H 'Content-Type: application/json' -d " +
                            quote(R"({"query":"x","min_score":-1,"k":20})") + " " +
                            quote(base + "/api/search/text"));
  const std::string body = list.out.substr(list.out.find("\r\n\r\n") + 4);
  std::string scan_id;
  const nlohmann::json results = nlohmann::json::parse(body)["results"];
  for (const auto& hit : results) {
    if (hit["image_name"] == "scan.dcm") scan_id = std::to_string(hit["id"].get<int64_t>());
  }
  ASSERT_FALSE(scan_id.empty()) << body;
  for (const std::string& route :
       {"/api/images/" + scan_id, "/api/images/" + scan_id + "/preview?size=64"}) {
    ProcessResult r = curl(quote(base + route));
    EXPECT_GE(http_status(r), 400) << route << "\n" << r.out.substr(0, 600);
    EXPECT_NE(r.out.find("the image decoder crashed on this file"), std::string::npos)
        << route << "\n"
        << r.out.substr(0, 600);
    EXPECT_TRUE(health_ok()) << "the server died on " << route;
  }
  server->signal(SIGTERM);
  ProcessResult served = server->wait(std::chrono::seconds(30));
  EXPECT_EQ(served.exit_code, 0) << describe(served);
}

TEST_F(DecoderContainment, TheRegressionFileIsInTheMix) {
  if (!have_regression()) {
    GTEST_SKIP() << "skipped: " << regression_path()
                 << " is absent (the other tests use the test-fault PNG only)";
  }
  EXPECT_EQ(bad_.size(), 2u);
}

}  // namespace
}  // namespace xrs
