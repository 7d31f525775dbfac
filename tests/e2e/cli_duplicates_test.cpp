// `xray-search duplicates` end to end through the built binary, against a NumPy all-pairs
// reference over the index's own `export` (every pair scored in float64, groups as connected
// components, each group's linking score as the largest pair score at which it stays connected).
// The dataset copy includes planted near-duplicates: a byte-identical copy under another name, a
// re-encoded (PNG → JPEG) copy, a slightly cropped and a brightness-shifted one, made with
// Pillow. (With the tiny random fixture model every image embeds close to every other, so the
// comparison is made at thresholds taken from the pair scores themselves.) Skips, saying so,
// without NumPy/Pillow.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using json = nlohmann::json;
using testing::describe;
using testing::ProcessResult;
using testing::run_cli;
using testing::run_process;

constexpr const char* kPython = "/usr/bin/python3";

std::string python_missing() {
  if (!std::filesystem::exists(kPython)) return std::string(kPython) + " is absent";
  const ProcessResult r = run_process({kPython, "-c", "import numpy, PIL"});
  return r.exit_code == 0 ? "" : std::string(kPython) + " lacks numpy or Pillow: " + r.err;
}

#define REQUIRE_PYTHON()                                          \
  do {                                                            \
    if (const std::string why = python_missing(); !why.empty()) { \
      GTEST_SKIP() << "skipped: " << why;                         \
    }                                                             \
  } while (0)

// Planted copies of the first chest image (Pillow), returned as dataset rows.
constexpr const char* kPlant = R"(
import sys
from PIL import Image, ImageEnhance
src, out = sys.argv[1], sys.argv[2]
im = Image.open(src).convert('RGB')
w, h = im.size
im.save(out + '/planted_reencoded.jpg', quality=85)
im.crop((w // 40, h // 40, w - w // 40, h - h // 40)).save(out + '/planted_cropped.png')
ImageEnhance.Brightness(im).enhance(1.1).save(out + '/planted_brighter.png')
)";

// The reference: for each threshold, the groups (names, sorted) and linking scores.
constexpr const char* kReference = R"(
import csv, json, sys
import numpy as np
e = np.load(sys.argv[1]).astype(np.float64)
names = [r['image_name'] for r in csv.DictReader(open(sys.argv[2]))]
n = len(names)
s = e @ e.T
iu = np.triu_indices(n, 1)
pairs = np.sort(s[iu])[::-1]
# Thresholds between two neighbouring pair scores (never on one), at several depths.
ts = []
for q in (0.02, 0.1, 0.3, 0.6):
    i = int(q * len(pairs))
    while i + 1 < len(pairs) and pairs[i] - pairs[i + 1] < 1e-5:
        i += 1
    if i + 1 < len(pairs):
        ts.append(float((pairs[i] + pairs[i + 1]) / 2))
ts.append(float((1.0 + pairs[1]) / 2) if pairs[0] > 0.99999 else 0.0)
def connected(members, t):
    seen, todo = {members[0]}, [members[0]]
    while todo:
        x = todo.pop()
        for y in members:
            if y not in seen and s[x, y] >= t:
                seen.add(y); todo.append(y)
    return len(seen) == len(members)
out = {}
for t in ts:
    if t <= 0:
        continue
    comp = [-1] * n
    groups = []
    for i in range(n):
        if comp[i] >= 0:
            continue
        comp[i] = len(groups); g = [i]; todo = [i]
        while todo:
            x = todo.pop()
            for j in range(n):
                if comp[j] < 0 and s[x, j] >= t:
                    comp[j] = comp[i]; g.append(j); todo.append(j)
        groups.append(sorted(g))
    res = []
    for g in groups:
        if len(g) < 2:
            continue
        cand = sorted({s[x, y] for x in g for y in g if x < y and s[x, y] >= t}, reverse=True)
        link = next(c for c in cand if connected(g, c))
        res.append({'images': sorted(names[x] for x in g), 'min_score': float(link)})
    out['%.9f' % t] = res
out['max_pair'] = float(pairs[0])
print(json.dumps(out))
)";

class CliDuplicatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    REQUIRE_PYTHON();
    if (data_ != nullptr) return;
    data_ = new testing::DatasetCopy(testing::make_dataset_copy("cli-duplicates", 4));
    dir_ = new std::string(testing::scratch_dir("cli-duplicates-work"));
    const testing::DatasetRow first = data_->rows().front();
    const std::string planted = *dir_ + "/planted";
    std::filesystem::create_directories(planted);
    std::ofstream(*dir_ + "/plant.py") << kPlant;
    ProcessResult p = run_process({kPython, *dir_ + "/plant.py", data_->file(first), planted});
    ASSERT_EQ(p.exit_code, 0) << describe(p);
    for (const char* name :
         {"planted_reencoded.jpg", "planted_cropped.png", "planted_brighter.png"}) {
      testing::DatasetRow r = first;
      r.image_name = name;
      data_->add(r, planted + "/" + name);
    }
    testing::DatasetRow same = first;
    same.image_name = "planted_identical.png";
    data_->add(same, data_->file(first));
    data_->write_metadata();
    ProcessResult index = run_cli(
        {"index", data_->dir(), "--model", testing::tiny_model_dir(), "--index", *dir_ + "/idx"});
    ASSERT_EQ(index.exit_code, 0) << describe(index);
    ProcessResult exported = run_cli({"export", "--index", *dir_ + "/idx", "--out", *dir_ + "/e"});
    ASSERT_EQ(exported.exit_code, 0) << describe(exported);
    std::ofstream(*dir_ + "/reference.py") << kReference;
    ProcessResult ref =
        run_process({kPython, *dir_ + "/reference.py", *dir_ + "/e.npy", *dir_ + "/e.csv"});
    ASSERT_EQ(ref.exit_code, 0) << describe(ref);
    reference_ = new json(json::parse(ref.out));
  }

  static std::string index() { return *dir_ + "/idx"; }
  static testing::DatasetCopy* data_;
  static std::string* dir_;
  static json* reference_;
};

testing::DatasetCopy* CliDuplicatesTest::data_ = nullptr;
std::string* CliDuplicatesTest::dir_ = nullptr;
json* CliDuplicatesTest::reference_ = nullptr;

TEST_F(CliDuplicatesTest, GroupsEqualTheNumPyAllPairsReference) {
  size_t compared = 0;
  for (const auto& [key, want] : reference_->items()) {
    if (key == "max_pair") continue;
    ProcessResult r = run_cli({"duplicates", "--index", index(), "--min-score", key, "--json"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    const json got = json::parse(r.out);
    ASSERT_EQ(got.size(), 1u) << "only \"groups\": " << r.out;
    std::map<std::set<std::string>, double> want_groups;
    for (const json& g : want) {
      want_groups[g["images"].get<std::set<std::string>>()] = g["min_score"].get<double>();
    }
    ASSERT_EQ(got["groups"].size(), want_groups.size()) << "threshold " << key << "\n" << r.out;
    for (const json& g : got["groups"]) {
      ASSERT_EQ(g.size(), 2u) << g.dump();
      auto it = want_groups.find(g["images"].get<std::set<std::string>>());
      ASSERT_NE(it, want_groups.end()) << "threshold " << key << ": " << g.dump();
      EXPECT_NEAR(g["min_score"].get<double>(), it->second, 2e-6) << key;
      EXPECT_GE(g["min_score"].get<double>(), std::stod(key) - 1e-6);
    }
    ++compared;
  }
  EXPECT_GE(compared, 4u);
}

TEST_F(CliDuplicatesTest, IdenticalCopyIsGroupedAtTheTopThreshold) {
  // Above every pair but the identical copy's (score 1): exactly that pair.
  ASSERT_GT((*reference_)["max_pair"].get<double>(), 0.99999);
  const std::string first = data_->rows().front().image_name;
  ProcessResult r = run_cli({"duplicates", "--index", index(), "--min-score", "0.99999", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json got = json::parse(r.out);
  bool found = false;
  for (const json& g : got["groups"]) {
    const auto names = g["images"].get<std::set<std::string>>();
    if (names.count("planted_identical.png")) {
      found = true;
      EXPECT_TRUE(names.count(first)) << g.dump();
      EXPECT_GE(g["min_score"].get<double>(), 0.99999);
    }
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(CliDuplicatesTest, TableSheetThresholdValidationAndEmptyResult) {
  // The table lists every grouped image; the sheet embeds a thumbnail for each and loads nothing.
  const std::string sheet = *dir_ + "/sheet.html";
  ProcessResult table =
      run_cli({"duplicates", "--index", index(), "--min-score", "0.5", "--sheet", sheet});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_NE(table.out.find("planted_identical.png"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("groups,"), std::string::npos) << table.out;
  ProcessResult json_out =
      run_cli({"duplicates", "--index", index(), "--min-score", "0.5", "--json"});
  ASSERT_EQ(json_out.exit_code, 0) << describe(json_out);
  const json parsed = json::parse(json_out.out);
  size_t grouped = 0;
  for (const json& g : parsed["groups"]) grouped += g["images"].size();
  ASSERT_GT(grouped, 0u);
  const std::string html = testing::read_bytes(sheet);
  size_t thumbnails = 0;
  for (size_t at = 0; (at = html.find("src=\"data:image/jpeg;base64,", at)) != std::string::npos;
       ++at) {
    ++thumbnails;
  }
  EXPECT_EQ(thumbnails, grouped);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);

  for (const char* bad : {"0", "-0.5", "1.5", "nan", "abc"}) {
    ProcessResult r = run_cli({"duplicates", "--index", index(), "--min-score", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << describe(r);
  }
  ProcessResult missing = run_cli({"duplicates", "--index", *dir_ + "/no-such-index"});
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);

  // Empty: three distinct images (one per category) have no pair at 1.
  testing::DatasetCopy small = testing::make_dataset_copy("cli-duplicates-small", 1);
  ASSERT_EQ(run_cli({"index", small.dir(), "--model", testing::tiny_model_dir(), "--index",
                     *dir_ + "/small"})
                .exit_code,
            0);
  ProcessResult none =
      run_cli({"duplicates", "--index", *dir_ + "/small", "--min-score", "1", "--json"});
  ASSERT_EQ(none.exit_code, 0) << describe(none);
  EXPECT_EQ(json::parse(none.out), json::parse(R"({"groups":[]})"));
  ProcessResult none_table = run_cli({"duplicates", "--index", *dir_ + "/small", "--min-score", "1",
                                      "--sheet", *dir_ + "/empty.html"});
  ASSERT_EQ(none_table.exit_code, 0) << describe(none_table);
  EXPECT_NE(none_table.out.find("no near-duplicates"), std::string::npos) << none_table.out;
  EXPECT_NE(testing::read_bytes(*dir_ + "/empty.html").find("No near-duplicates"),
            std::string::npos);
}

// search --collapse-duplicates[=S]: pages of the collapsed ranking concatenate to it, counts
// included; kept plus hidden results cover the whole ranking; bad values are usage errors.
TEST_F(CliDuplicatesTest, SearchCollapsesNearDuplicatesAcrossPages) {
  // A threshold between pair scores, as the reference chose (some images collapse, not all).
  std::string t;
  for (const auto& [key, groups] : reference_->items()) {
    if (key != "max_pair" && !groups.empty()) t = key;
  }
  ASSERT_FALSE(t.empty());
  auto search = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"search", "--index",    index(),
                                     "--text", "hand x-ray", "--min-score",
                                     "-1",     "--json",     "--collapse-duplicates=" + t};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out) : json();
  };
  const json all = search({"--k", "20"});
  ASSERT_TRUE(all.contains("results"));
  EXPECT_NEAR(all["query"]["collapse_duplicates"].get<double>(), std::stod(t), 1e-6);
  const size_t images = data_->rows().size();
  size_t hidden = 0;
  for (const json& h : all["results"]) hidden += h["duplicates_hidden"].get<size_t>();
  EXPECT_EQ(all["results"].size() + hidden, images) << all.dump();
  EXPECT_LT(all["results"].size(), images);
  std::vector<json> pages;
  for (int offset = 0;; offset += 2) {
    const json page = search({"--k", "2", "--offset", std::to_string(offset)});
    ASSERT_TRUE(page.contains("results"));
    for (const json& h : page["results"]) pages.push_back(h);
    if (page["results"].size() < 2) break;
    ASSERT_LT(offset, 40);
  }
  ASSERT_EQ(pages.size(), all["results"].size());
  for (size_t i = 0; i < pages.size(); ++i) {
    EXPECT_EQ(pages[i]["id"], all["results"][i]["id"]) << i;
    EXPECT_EQ(pages[i]["rank"], int(i) + 1);
    EXPECT_EQ(pages[i]["duplicates_hidden"], all["results"][i]["duplicates_hidden"]) << i;
  }
  // Without a value: the default threshold (0.97); the table shows the hidden column.
  ProcessResult table = run_cli({"search", "--index", index(), "--text", "hand x-ray",
                                 "--min-score", "-1", "--collapse-duplicates"});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_NE(table.out.find("hidden"), std::string::npos) << table.out;
  for (const char* bad : {"0", "1.5", "x", "-0.3"}) {
    ProcessResult r = run_cli({"search", "--index", index(), "--text", "hand",
                               std::string("--collapse-duplicates=") + bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << describe(r);
  }
}

}  // namespace
}  // namespace xrs
