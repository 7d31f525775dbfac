// fetch_model() / verify_model_dir() against a local server, the manifest, and the registry of
// known models.
#include "fetch/model_fetch.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/sha256.h"
#include "fetch_test_util.h"
#include "support/test_paths.h"
#include "test_http_server.h"

namespace xrs {
namespace {

using testing::fast_options;
using testing::file_response;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::slurp;
using testing::spit;
using testing::test_body;
using testing::TestHttpServer;

const std::string kWeights = test_body(200'000, 7);
const std::string kVocab = test_body(5'000, 8);

// Serves /m/weights.bin and /m/vocab.txt.
HttpResponse serve_model(const HttpRequest& r) {
  if (r.path == "/m/weights.bin") return file_response(r, kWeights, true);
  if (r.path == "/m/vocab.txt") return file_response(r, kVocab, true);
  HttpResponse nf;
  nf.status = 404;
  return nf;
}

// A model with one pinned file and one whose hash is recorded at download.
ModelSpec test_spec(const TestHttpServer& server) {
  ModelSpec spec;
  spec.name = "test/model";
  spec.revision = "r1";
  spec.files = {{"weights.bin", server.url("/m/weights.bin"), sha256_hex(kWeights)},
                {"vocab.txt", server.url("/m/vocab.txt"), ""}};
  return spec;
}

ModelFetchOptions fast() {
  ModelFetchOptions o;
  o.download = fast_options();
  return o;
}

// The SHA-256 as coreutils computes it (a reference independent of our code).
std::string coreutils_sha256(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[65] = {};
  const size_t n = p != nullptr ? std::fread(buf, 1, 64, p) : 0;
  if (p != nullptr) pclose(p);
  return std::string(buf, n);
}

TEST(ModelFetch, DownloadsFilesAndWritesTheManifest) {
  const std::string dir = xrs::testing::scratch_dir("model_fetch_ok") + "/model";
  TestHttpServer server(serve_model);
  StatusOr<ModelFetchResult> r = fetch_model(test_spec(server), dir, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->files.size(), 2u);
  EXPECT_TRUE(r->files[0].downloaded);
  EXPECT_TRUE(r->files[0].sha256_pinned);
  EXPECT_FALSE(r->files[1].sha256_pinned);
  EXPECT_EQ(slurp(dir + "/weights.bin"), kWeights);
  EXPECT_EQ(slurp(dir + "/vocab.txt"), kVocab);

  StatusOr<ModelManifest> m = read_model_manifest(dir + "/xray-search-model.json");
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->model, "test/model");
  EXPECT_EQ(m->revision, "r1");
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[1].name, "vocab.txt");
  EXPECT_EQ(m->files[1].size, kVocab.size());
  EXPECT_EQ(m->files[1].sha256, coreutils_sha256(dir + "/vocab.txt"));
  EXPECT_EQ(m->files[1].url, server.url("/m/vocab.txt"));
  EXPECT_FALSE(m->files[1].sha256_pinned);
  EXPECT_TRUE(m->files[0].sha256_pinned);

  // Run again: everything is intact, nothing is downloaded.
  const size_t before = server.requests().size();
  r = fetch_model(test_spec(server), dir, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->files[0].downloaded);
  EXPECT_FALSE(r->files[1].downloaded);
  EXPECT_EQ(server.requests().size(), before);
}

TEST(ModelFetch, ReplacesADamagedFile) {
  const std::string dir = xrs::testing::scratch_dir("model_fetch_damaged");
  TestHttpServer server(serve_model);
  ASSERT_TRUE(fetch_model(test_spec(server), dir, fast()).is_ok());
  spit(dir + "/vocab.txt", "tampered");
  StatusOr<ModelFetchResult> r = fetch_model(test_spec(server), dir, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->files[1].downloaded);  // the recorded hash no longer matched
  EXPECT_EQ(slurp(dir + "/vocab.txt"), kVocab);
}

TEST(ModelFetch, AdoptsFilesPutThereByHand) {
  const std::string dir = xrs::testing::scratch_dir("model_fetch_adopt");
  spit(dir + "/weights.bin", kWeights);
  spit(dir + "/vocab.txt", kVocab);
  TestHttpServer server(serve_model);
  StatusOr<ModelFetchResult> r = fetch_model(test_spec(server), dir, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->files[0].downloaded);
  EXPECT_FALSE(r->files[1].downloaded);
  EXPECT_TRUE(server.requests().empty());
}

TEST(ModelFetch, PinnedHashMismatchFailsWithoutAFile) {
  const std::string dir = xrs::testing::scratch_dir("model_fetch_mismatch");
  TestHttpServer server(serve_model);
  ModelSpec spec = test_spec(server);
  spec.files[0].sha256 = sha256_hex("something else");
  StatusOr<ModelFetchResult> r = fetch_model(spec, dir, fast());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("weights.bin"), std::string::npos);
  EXPECT_NE(r.status().message().find(sha256_hex(kWeights)), std::string::npos);
  EXPECT_NE(r.status().message().find(spec.files[0].sha256), std::string::npos);
  EXPECT_FALSE(testing::exists(dir + "/weights.bin"));
  EXPECT_FALSE(testing::exists(dir + "/weights.bin.part"));
}

TEST(ModelFetch, UnreachableServerSaysWhatToPutWhere) {
  const std::string dir = xrs::testing::scratch_dir("model_fetch_offline") + "/vit";
  StatusOr<ModelSpec> known = find_known_model("ViT-B/32");
  ASSERT_TRUE(known.is_ok());
  ModelSpec spec = from_mirror(*known, "https://127.0.0.1:1/clip");
  ModelFetchOptions o = fast();
  o.download.max_attempts = 1;
  StatusOr<ModelFetchResult> r = fetch_model(spec, dir, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(testing::exists(dir));  // created by the call, left empty: removed
  const std::string& m = r.status().message();
  for (const ModelFileSpec& f : spec.files) {
    EXPECT_NE(m.find(f.url), std::string::npos) << m;
    EXPECT_NE(m.find("-> " + dir + "/" + f.name), std::string::npos) << m;
    EXPECT_NE(m.find("SHA-256 " + f.sha256), std::string::npos) << m;
  }
}

TEST(ModelFetch, RefusesAnotherModelsFolder) {
  const std::string dir = xrs::testing::scratch_dir("model_fetch_other");
  ASSERT_TRUE(write_model_manifest(dir + "/xray-search-model.json", {"other", "", {}}).is_ok());
  TestHttpServer server(serve_model);
  StatusOr<ModelFetchResult> r = fetch_model(test_spec(server), dir, fast());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("'other'"), std::string::npos) << r.status().message();
  ModelFetchOptions force = fast();
  force.force = true;
  EXPECT_TRUE(fetch_model(test_spec(server), dir, force).is_ok());
}

TEST(ModelVerify, DetectsModifiedAndMissingFiles) {
  const std::string dir = xrs::testing::scratch_dir("model_verify");
  TestHttpServer server(serve_model);
  ASSERT_TRUE(fetch_model(test_spec(server), dir, fast()).is_ok());
  StatusOr<ModelVerifyReport> v = verify_model_dir(dir);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_TRUE(v->ok());
  EXPECT_TRUE(v->from_manifest);
  EXPECT_EQ(v->files.size(), 2u);

  std::string changed = kWeights;
  changed[100'000] ^= 1;  // one bit
  spit(dir + "/weights.bin", changed);
  std::filesystem::remove(dir + "/vocab.txt");
  v = verify_model_dir(dir);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_FALSE(v->ok());
  ASSERT_EQ(v->files.size(), 2u);
  EXPECT_EQ(v->files[0].state, FileState::kMismatch);
  EXPECT_EQ(v->files[0].actual_sha256, coreutils_sha256(dir + "/weights.bin"));
  EXPECT_EQ(v->files[0].expected_sha256, sha256_hex(kWeights));
  EXPECT_EQ(v->files[1].state, FileState::kMissing);
}

TEST(ModelVerify, WithoutManifestChecksPublishedHashes) {
  const std::string dir = xrs::testing::scratch_dir("model_verify_nomanifest");
  StatusOr<ModelVerifyReport> v = verify_model_dir(dir);
  ASSERT_FALSE(v.is_ok());
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
  spit(dir + "/bpe_simple_vocab_16e6.txt.gz", "not the vocabulary");
  v = verify_model_dir(dir);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_FALSE(v->from_manifest);
  EXPECT_EQ(v->model, "ViT-B/32");
  ASSERT_EQ(v->files.size(), 1u);
  EXPECT_EQ(v->files[0].state, FileState::kMismatch);

  const std::string fixture = xrs::testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz";
  XRS_REQUIRE_PATH(fixture);
  std::filesystem::copy_file(fixture, dir + "/bpe_simple_vocab_16e6.txt.gz",
                             std::filesystem::copy_options::overwrite_existing);
  v = verify_model_dir(dir);
  ASSERT_TRUE(v.is_ok()) << v.status().message();
  EXPECT_TRUE(v->ok());
}

TEST(ModelManifest, DamagedOrHostileManifestsAreRefused) {
  const std::string dir = xrs::testing::scratch_dir("model_manifest_bad");
  const std::string path = dir + "/xray-search-model.json";
  const std::string sha(64, 'a');
  const std::string head = R"({"format":"xray-search-model","version":1,"model":"m","files":)";
  const std::vector<std::string> texts = {
      "{",
      "[]",
      R"({"format":"other","version":1})",
      R"({"format":"xray-search-model","version":2,"model":"m","files":[]})",
      head + "{}}",
      head + R"([{"name":"../x","sha256":")" + sha + R"("}]})",
      head + R"([{"name":"x","sha256":"ABC"}]})",
      head + R"([{"name":"x","sha256":")" + sha + R"(","size":-1}]})",
  };
  for (const std::string& text : texts) {
    spit(path, text);
    StatusOr<ModelManifest> m = read_model_manifest(path);
    ASSERT_FALSE(m.is_ok()) << text;
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption) << text;
    EXPECT_EQ(m.status().message().rfind(path, 0), 0u) << m.status().message();
    EXPECT_FALSE(verify_model_dir(dir).is_ok()) << text;
  }
}

TEST(KnownModels, OpenAiCheckpointAndVocabularyArePinned) {
  StatusOr<ModelSpec> spec = find_known_model("vit-b-32");
  ASSERT_TRUE(spec.is_ok()) << spec.status().message();
  EXPECT_EQ(spec->name, "ViT-B/32");
  EXPECT_EQ(spec->default_dir, "models/ViT-B-32");
  ASSERT_EQ(spec->files.size(), 2u);
  // OpenAI's URL embeds the checkpoint's SHA-256 (DESIGN.md §3 gives the same value).
  EXPECT_EQ(spec->files[0].sha256,
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af");
  EXPECT_NE(spec->files[0].url.find("/" + spec->files[0].sha256 + "/ViT-B-32.pt"),
            std::string::npos);
  for (const ModelFileSpec& f : spec->files) EXPECT_EQ(f.url.rfind("https://", 0), 0u);
  const std::string fixture = xrs::testing::fixtures_dir() + "/bpe_simple_vocab_16e6.txt.gz";
  XRS_REQUIRE_PATH(fixture);
  EXPECT_EQ(spec->files[1].sha256, coreutils_sha256(fixture));
}

TEST(KnownModels, HuggingFaceModelIsPinnedToACommit) {
  StatusOr<ModelSpec> spec = find_known_model("openai/clip-vit-base-patch32");
  ASSERT_TRUE(spec.is_ok()) << spec.status().message();
  EXPECT_EQ(spec->revision.size(), 40u);
  for (const ModelFileSpec& f : spec->files) {
    EXPECT_EQ(f.url, "https://huggingface.co/openai/clip-vit-base-patch32/resolve/" +
                         spec->revision + "/" + f.name);
  }
  StatusOr<ModelSpec> main = at_revision(*spec, "main");
  ASSERT_TRUE(main.is_ok());
  EXPECT_NE(main->files[0].url.find("/resolve/main/model.safetensors"), std::string::npos);
  EXPECT_FALSE(at_revision(*spec, "../x").is_ok());
  EXPECT_FALSE(at_revision(*find_known_model("ViT-B/32"), "main").is_ok());
  StatusOr<ModelSpec> unknown = find_known_model("ViT-L/14");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("ViT-B/32"), std::string::npos);
}

}  // namespace
}  // namespace xrs
