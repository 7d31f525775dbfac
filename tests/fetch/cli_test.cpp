// The `model fetch`, `model verify` and `dataset fetch` commands, run as the real binary against
// a local server: exit codes, output, and the messages users see.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "fetch_test_util.h"
#include "imaging/encode.h"
#include "support/test_paths.h"
#include "test_http_server.h"

namespace xrs {
namespace {

using testing::file_response;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::slurp;
using testing::spit;
using testing::test_body;
using testing::TestHttpServer;

struct CliRun {
  int rc = -1;
  std::string out, err;
};

// Runs `xray-search ARGS` (with `env` prefixed) and collects its exit code and output.
CliRun run_cli(const std::string& scratch, const std::string& args, const std::string& env = "") {
  const std::string out = scratch + "/stdout.txt", err = scratch + "/stderr.txt";
  const std::string cmd =
      env + " '" + std::string(XRS_CLI) + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

const char* kAllowHttp = "XRAY_FETCH_ALLOW_HTTP=1";

HttpResponse serve_hf(const HttpRequest& r) {
  const std::string prefix = "/hf/";
  if (r.path.rfind(prefix, 0) == 0) return file_response(r, "body of " + r.path, true);
  HttpResponse nf;
  nf.status = 404;
  return nf;
}

TEST(ModelCli, FetchThenVerifyThenDetectTampering) {
  const std::string dir = xrs::testing::scratch_dir("cli_model_fetch");
  TestHttpServer server(serve_hf);
  CliRun r = run_cli(dir,
                     "model fetch openai/clip-vit-base-patch32 --dir '" + dir + "/m' --mirror " +
                         server.url("/hf") + " --json",
                     kAllowHttp);
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["files"].size(), 5u);
  EXPECT_EQ(j["files"][0]["name"], "model.safetensors");
  EXPECT_EQ(slurp(dir + "/m/config.json"), "body of /hf/config.json");
  EXPECT_NE(r.err.find("recorded"), std::string::npos) << r.err;

  r = run_cli(dir, "model verify --dir '" + dir + "/m'");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("ok        merges.txt"), std::string::npos) << r.out;

  spit(dir + "/m/config.json", "{}");
  r = run_cli(dir, "model verify --dir '" + dir + "/m'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("mismatch  config.json: sha256 "), std::string::npos) << r.err;
  r = run_cli(dir, "model verify --json --dir '" + dir + "/m'");
  EXPECT_EQ(r.rc, 1);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
}

TEST(ModelCli, PinnedHashMismatchNamesBothHashes) {
  const std::string dir = xrs::testing::scratch_dir("cli_model_mismatch");
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, "fake", true); });
  CliRun r = run_cli(
      dir, "model fetch ViT-B/32 --retries 0 --dir '" + dir + "' --mirror " + server.url("/clip"),
      kAllowHttp);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("expected 40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(testing::exists(dir + "/ViT-B-32.pt"));
  EXPECT_FALSE(testing::exists(dir + "/ViT-B-32.pt.part"));
}

TEST(ModelCli, OfflineErrorSaysWhatToDownloadAndWhere) {
  const std::string dir = xrs::testing::scratch_dir("cli_model_offline");
  CliRun r = run_cli(dir, "model fetch ViT-B/32 --retries 0 --connect-timeout 2 --dir '" + dir +
                              "/vit' --mirror https://127.0.0.1:1/clip");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("https://127.0.0.1:1/clip/ViT-B-32.pt\n    -> " + dir + "/vit/ViT-B-32.pt"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("-> " + dir + "/vit/bpe_simple_vocab_16e6.txt.gz"), std::string::npos);
  EXPECT_NE(r.err.find("run this command again"), std::string::npos);
}

TEST(ModelCli, UsageErrors) {
  const std::string dir = xrs::testing::scratch_dir("cli_model_usage");
  CliRun r = run_cli(dir, "model fetch ViT-H/14 --dir '" + dir + "'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("known models: ViT-B/32, openai/clip-vit-base-patch32"), std::string::npos)
      << r.err;
  // Plain http needs XRAY_FETCH_ALLOW_HTTP=1, and then only to this machine.
  r = run_cli(dir, "model fetch openai/clip-vit-base-patch32 --dir '" + dir +
                       "' --mirror http://127.0.0.1:9/hf");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("plain http is refused"), std::string::npos) << r.err;
  r = run_cli(dir, "model verify --dir '" + dir + "/nothing'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("no such model folder"), std::string::npos) << r.err;
}

TEST(DatasetCli, FetchReportsAndExitsOneOnFailures) {
  const std::string dir = xrs::testing::scratch_dir("cli_dataset_fetch");
  Image img;
  img.width = 8;
  img.height = 8;
  img.pixels.assign(64, 128);
  const std::string png = *encode_png(img);
  TestHttpServer server([&](const HttpRequest& r) {
    if (r.path == "/a.png") return file_response(r, png, true);
    HttpResponse nf;
    nf.status = 404;
    return nf;
  });
  spit(dir + "/metadata.csv",
       "image_name,source_url,category\na.png," + server.url("/a.png") + ",chest\n");
  CliRun r = run_cli(
      dir, "dataset fetch '" + dir + "/metadata.csv' --out '" + dir + "/data' --json", kAllowHttp);
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["downloaded"], 1);
  EXPECT_EQ(j["items"][0]["path"], "raw/chest/a.png");
  EXPECT_NE(r.err.find("1 downloaded, 0 skipped (already intact), 0 failed"), std::string::npos)
      << r.err;
  EXPECT_EQ(slurp(dir + "/data/raw/chest/a.png"), png);

  spit(dir + "/metadata.csv", "image_name,source_url,category\na.png," + server.url("/a.png") +
                                  ",chest\nb.png," + server.url("/b.png") + ",hand\n");
  r = run_cli(dir, "dataset fetch '" + dir + "/metadata.csv' --out '" + dir + "/data' -j 2",
              kAllowHttp);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("failed: line 3 b.png: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 downloaded, 1 skipped (already intact), 1 failed"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace xrs
