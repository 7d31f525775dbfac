// Issue 11, sharded indexing and merge, through the built binary: `index --shard K/N` for every K,
// then `merge`, must equal one `index` run over the whole dataset (the same image set, the same
// vectors, the same search results), for N = 1, 2 and 3, also after files were added, changed and
// removed; merge refuses mixed models, overlapping, duplicate and missing shards; a merge killed
// between two batches leaves a readable index that the next merge completes.
//
// The reference is the single-run index read back through the catalog (vectors compared per
// image name, search results compared by name and score).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "index/catalog.h"
#include "index/shard.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

namespace fs = std::filesystem;
using testing::describe;
using testing::ProcessResult;
using testing::run_cli;

// The images of an index: name → (sha256, vector).
struct Entry {
  std::string sha256;
  std::string category;
  std::vector<float> vector;
};
std::map<std::string, Entry> read_index(const std::string& dir) {
  std::map<std::string, Entry> out;
  auto catalog = Catalog::open(dir, Catalog::Mode::kReadOnly);
  EXPECT_TRUE(catalog.is_ok()) << dir << ": " << catalog.status().to_string();
  if (!catalog.is_ok()) return out;
  auto snap = (*catalog)->snapshot(true);
  EXPECT_TRUE(snap.is_ok()) << snap.status().to_string();
  if (!snap.is_ok()) return out;
  for (size_t i = 0; i < snap->rows.size(); ++i) {
    const auto row = snap->vectors->vectors.row(i);
    out[snap->rows[i].image_name] = {snap->rows[i].sha256, snap->rows[i].category,
                                     std::vector<float>(row.begin(), row.end())};
  }
  return out;
}

void expect_same_index(const std::string& merged, const std::string& single) {
  const auto a = read_index(merged);
  const auto b = read_index(single);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, e] : b) {
    auto it = a.find(name);
    ASSERT_NE(it, a.end()) << name << " is missing from the merged index";
    EXPECT_EQ(it->second.sha256, e.sha256) << name;
    EXPECT_EQ(it->second.category, e.category) << name;
    ASSERT_EQ(it->second.vector.size(), e.vector.size()) << name;
    float worst = 0;
    for (size_t d = 0; d < e.vector.size(); ++d) {
      worst = std::max(worst, std::fabs(it->second.vector[d] - e.vector[d]));
    }
    EXPECT_LE(worst, 1e-6f) << name;
  }
}

// (score, name) of a search's results, sorted by score descending then name (exact ties, e.g.
// two copies of one file, may come in another id order in the two indexes).
std::vector<std::pair<double, std::string>> search(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"search"};
  all.insert(all.end(), args.begin(), args.end());
  for (const char* a : {"--k", "20", "--min-score", "-1", "--json"}) all.push_back(a);
  const ProcessResult r = run_cli(all);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  std::vector<std::pair<double, std::string>> out;
  if (r.exit_code != 0) return out;
  const auto j = nlohmann::json::parse(r.out);
  for (const auto& hit : j.at("results")) {
    out.emplace_back(hit.at("score").get<double>(), hit.at("image_name").get<std::string>());
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  return out;
}

void expect_same_search(const std::string& merged, const std::string& single,
                        const std::string& image) {
  for (const auto& query : std::vector<std::vector<std::string>>{
           {"--text", "hand x-ray"}, {"--text", "a dental radiograph"}, {"--image", image}}) {
    std::vector<std::string> a = {"--index", merged}, b = {"--index", single};
    a.insert(a.end(), query.begin(), query.end());
    b.insert(b.end(), query.begin(), query.end());
    const auto got = search(a), want = search(b);
    ASSERT_EQ(got.size(), want.size()) << query[1];
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].second, want[i].second) << query[1] << " rank " << i;
      EXPECT_NEAR(got[i].first, want[i].first, 1e-5) << query[1] << " rank " << i;
    }
  }
}

ProcessResult index_cmd(const std::string& data, const std::string& idx, const std::string& shard,
                        const std::string& model = testing::tiny_model_dir()) {
  std::vector<std::string> args = {"index", data, "--model", model, "--index", idx, "--json"};
  if (!shard.empty()) {
    args.push_back("--shard");
    args.push_back(shard);
  }
  return run_cli(args);
}

ProcessResult merge_cmd(const std::vector<std::string>& shards, const std::string& idx) {
  std::vector<std::string> args = {"merge"};
  args.insert(args.end(), shards.begin(), shards.end());
  for (const char* a : {"--index", "--json"}) {
    args.push_back(a);
    if (std::string(a) == "--index") args.push_back(idx);
  }
  return run_cli(args);
}

class ShardMergeTest : public ::testing::Test {
 protected:
  void SetUp() override { XRS_REQUIRE_DATASET(); }
};

TEST_F(ShardMergeTest, ShardsMergedEqualOneRunAlsoAfterChanges) {
  auto data = testing::make_dataset_copy("shard-merge", 12);
  const std::string root = testing::scratch_dir("shard-merge-idx");
  const std::string single = root + "/single";
  ProcessResult r = index_cmd(data.dir(), single, "");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string query_image = data.file(data.rows().front());

  for (int n : {1, 2, 3}) {
    SCOPED_TRACE("N = " + std::to_string(n));
    std::vector<std::string> shards;
    size_t shard_total = 0;
    for (int k = 0; k < n; ++k) {
      shards.push_back(root + "/n" + std::to_string(n) + "-s" + std::to_string(k));
      r = index_cmd(data.dir(), shards.back(), std::to_string(k) + "/" + std::to_string(n));
      ASSERT_EQ(r.exit_code, 0) << describe(r);
      const auto j = nlohmann::json::parse(r.out);
      EXPECT_EQ(j.at("dataset_images").get<size_t>(), data.rows().size());
      shard_total += j.at("total").get<size_t>();
      // Every image of the shard is one the documented hash puts there.
      for (const auto& [name, e] : read_index(shards.back())) {
        EXPECT_EQ(shard_of(name, n), n > 1 ? k : 0) << name;
      }
    }
    EXPECT_EQ(shard_total, data.rows().size());
    const std::string merged = root + "/merged-" + std::to_string(n);
    r = merge_cmd(shards, merged);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("added").get<size_t>(), data.rows().size());
    EXPECT_EQ(j.at("shards").get<int>(), n > 1 ? n : 0);
    expect_same_index(merged, single);
    expect_same_search(merged, single, query_image);

    if (n != 3) continue;
    // Change the dataset: add two images, give one new content, remove one. Re-index the
    // single index and each shard incrementally, merge again: only what changed is written.
    const auto extra = testing::rows_not_copied(12);
    ASSERT_GE(extra.size(), 3u);
    data.add(extra[0]);
    data.add(extra[1]);
    const std::string changed = data.rows()[3].image_name;
    data.set_bytes(changed, testing::read_bytes(testing::shared_file(extra[2])));
    const std::string removed = data.rows()[5].image_name;
    data.remove(removed);
    data.write_metadata();
    r = index_cmd(data.dir(), single, "");
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    for (int k = 0; k < n; ++k) {
      r = index_cmd(data.dir(), shards[k], std::to_string(k) + "/3");
      ASSERT_EQ(r.exit_code, 0) << describe(r);
    }
    r = merge_cmd(shards, merged);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("added").get<size_t>(), 2u) << r.out;
    EXPECT_EQ(j.at("updated").get<size_t>(), 1u) << r.out;
    EXPECT_EQ(j.at("removed").get<size_t>(), 1u) << r.out;
    EXPECT_EQ(j.at("unchanged").get<size_t>(), data.rows().size() - 3) << r.out;
    expect_same_index(merged, single);
    expect_same_search(merged, single, query_image);
    // Nothing changed: nothing written.
    r = merge_cmd(shards, merged);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("unchanged").get<size_t>(), data.rows().size()) << r.out;
    EXPECT_EQ(
        j.at("added").get<size_t>() + j.at("updated").get<size_t>() + j.at("removed").get<size_t>(),
        0u)
        << r.out;
  }
}

TEST_F(ShardMergeTest, MergeRefusesBadShardSetsAndIndexRefusesAnotherShard) {
  auto data = testing::make_dataset_copy("shard-refuse", 4);
  const std::string root = testing::scratch_dir("shard-refuse-idx");
  auto shard = [&](const std::string& name, const std::string& spec,
                   const std::string& model = testing::tiny_model_dir()) {
    const ProcessResult r = index_cmd(data.dir(), root + "/" + name, spec, model);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return root + "/" + name;
  };
  const std::string s0 = shard("s0", "0/3"), s1 = shard("s1", "1/3"), s2 = shard("s2", "2/3");
  const std::string t0 = shard("t0", "0/2");
  const std::string whole = shard("whole", ""), whole2 = shard("whole2", "");
  const std::string other = shard("other-model", "2/3", testing::other_model_dir());

  auto refused = [&](const std::vector<std::string>& inputs, const std::string& why) {
    const std::string target = root + "/target";
    const ProcessResult r = merge_cmd(inputs, target);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.err.find(why), std::string::npos) << describe(r);
    // Nothing was created.
    EXPECT_FALSE(fs::exists(target + "/catalog.sqlite")) << why;
  };
  refused({s0, s1}, "shard 2/3 is missing");
  refused({s0, s1, s2, s1}, "is given twice");
  refused({s0, s1, other}, "was built with model");
  refused({s0, s1, s2, t0}, "shards of different splits");
  refused({whole, whole2}, "overlapping shards");
  refused({s0, s1, s2, whole}, "not a shard");
  refused({root + "/nothing-here"}, "nothing-here");

  // The complete set merges; the target itself cannot be an input.
  ProcessResult r = merge_cmd({s2, s0, s1}, root + "/good");
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  r = merge_cmd({s0, s1, s2, root + "/good"}, root + "/good");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("is the target index itself"), std::string::npos) << describe(r);
  // A shard index is not a merge target.
  r = merge_cmd({whole}, s0);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("is itself shard 0/3"), std::string::npos) << describe(r);

  // index keeps an index to the shard it was made for.
  r = index_cmd(data.dir(), s0, "1/3");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("holds shard 0/3, not shard 1/3"), std::string::npos) << describe(r);
  r = index_cmd(data.dir(), s0, "");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("not the whole dataset"), std::string::npos) << describe(r);
  r = index_cmd(data.dir(), whole, "0/2");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  for (const char* bad : {"3/3", "x", "1/0"}) {
    r = index_cmd(data.dir(), root + "/bad", bad);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find("shard '"), std::string::npos) << describe(r);
  }
}

TEST_F(ShardMergeTest, KilledMergeLeavesAReadableIndexAndTheNextMergeCompletesIt) {
  auto data = testing::make_dataset_copy("shard-kill", 10);
  const std::string root = testing::scratch_dir("shard-kill-idx");
  std::vector<std::string> shards;
  for (int k = 0; k < 2; ++k) {
    shards.push_back(root + "/s" + std::to_string(k));
    const ProcessResult r = index_cmd(data.dir(), shards.back(), std::to_string(k) + "/2");
    ASSERT_EQ(r.exit_code, 0) << describe(r);
  }
  const std::string single = root + "/single";
  ProcessResult r = index_cmd(data.dir(), single, "");
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  const std::string merged = root + "/merged";
  ::setenv("XRS_MERGE_TEST_BATCH", "4", 1);
  ::setenv("XRS_MERGE_TEST_KILL_AFTER_COMMITS", "2", 1);
  r = merge_cmd(shards, merged);
  ::unsetenv("XRS_MERGE_TEST_BATCH");
  ::unsetenv("XRS_MERGE_TEST_KILL_AFTER_COMMITS");
  ASSERT_EQ(r.term_signal, SIGKILL) << describe(r);
  // Readable, holding the committed batches (8 images), not all of them.
  const auto partial = read_index(merged);
  EXPECT_EQ(partial.size(), 8u);
  EXPECT_LT(partial.size(), data.rows().size());

  r = merge_cmd(shards, merged);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("unchanged").get<size_t>(), 8u) << r.out;
  EXPECT_EQ(j.at("added").get<size_t>(), data.rows().size() - 8) << r.out;
  expect_same_index(merged, single);
}

}  // namespace
}  // namespace xrs
