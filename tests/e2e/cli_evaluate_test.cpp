// `xray-search evaluate` end to end through the built binary, on a small copy of the shared
// dataset indexed with the tiny fixture model and grouped by a metadata column (through the
// dataset config's group_column). The reference is a NumPy brute force written here over the
// index's `export` output, metadata.csv and `embed` output for the text queries: every query
// ranked in full, metrics, macro averages, suggested thresholds. Also: --queries files (texts,
// indexed images, listed images), side-by-side indexes, and bad input with its exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "index/catalog.h"
#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using json = nlohmann::json;
using testing::describe;
using testing::ProcessResult;
using testing::run_cli;
using testing::run_process;

constexpr const char* kPython = "/usr/bin/python3";
constexpr int kPerCategory = 8;

std::string numpy_missing() {
  if (!std::filesystem::exists(kPython)) return std::string(kPython) + " is absent";
  const ProcessResult r = run_process({kPython, "-c", "import numpy"});
  return r.exit_code == 0 ? "" : std::string(kPython) + " has no numpy: " + r.err;
}

#define REQUIRE_NUMPY()                                          \
  do {                                                           \
    if (const std::string why = numpy_missing(); !why.empty()) { \
      GTEST_SKIP() << "skipped: " << why;                        \
    }                                                            \
  } while (0)

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// argv: export prefix, metadata.csv, group column ("" none), k, queries.json[, near-duplicate
// threshold ("" none)]. With a threshold, a query's group is the connected component of the
// graph linking equal column values and pairs of cosine >= threshold (breadth-first search).
// queries.json is a list of {"embedding": [...] | "row": r, "category": C | "images": [names],
// "exclude": r|null}. Prints {"image": {"per_query": [...], "macro": {...}, "per_category": {...}},
//         "text": {...same...}, "threshold": {"image": t, "text": t}}.
constexpr const char* kReference = R"PY(
import csv, json, sys
import numpy as np
prefix, meta, group_col, k, qfile = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
E = np.load(prefix + ".npy").astype(np.float64)
rows = list(csv.DictReader(open(prefix + ".csv")))
ids = np.array([int(r["id"]) for r in rows])
names = [r["image_name"] for r in rows]
cat = np.array([r["category"] for r in rows])
grp = [None] * len(rows)
if group_col:
    g = {r["image_name"]: r[group_col] for r in csv.DictReader(open(meta))}
    grp = [g.get(n) or None for n in names]
if len(sys.argv) > 6 and sys.argv[6]:
    t = float(sys.argv[6])
    S = E @ E.T
    link = [[i != j and (S[i, j] >= t or (grp[i] is not None and grp[i] == grp[j]))
             for j in range(len(rows))] for i in range(len(rows))]
    comp = [None] * len(rows)
    for s in range(len(rows)):
        if comp[s] is None:
            comp[s], todo = s, [s]
            while todo:
                i = todo.pop()
                for j in range(len(rows)):
                    if link[i][j] and comp[j] is None:
                        comp[j] = s
                        todo.append(j)
    grp = comp
def judge(scores, cand, rel):
    order = np.lexsort((ids[cand], -scores[cand]))
    r = rel[cand][order].astype(float)
    s = scores[cand][order]
    R = int(r.sum())
    top = list(zip(s[:k].tolist(), r[:k].tolist()))
    if R == 0:
        return None, top
    prec = np.cumsum(r) / np.arange(1, len(r) + 1)
    m = {"p@1": r[0], "p@k": r[:k].sum() / k, "r_precision": r[:R].sum() / R,
         "map_at_r": (prec[:R] * r[:R]).sum() / R, "map": (prec * r).sum() / R,
         "mrr": 1.0 / (np.argmax(r) + 1)}
    return {a: float(b) for a, b in m.items()}, top
def summarize(results, cats):
    per = {}
    for m, c in zip(results, cats):
        if m is not None and c is not None:
            per.setdefault(c, []).append(m)
    pc = {c: {key: float(np.mean([m[key] for m in ms])) for key in ms[0]} for c, ms in per.items()}
    macro = {key: float(np.mean([pc[c][key] for c in pc])) for key in next(iter(pc.values()))}
    return {"per_query": results, "macro": macro, "per_category": pc}
def threshold(tops):
    rel = sorted([s for s, r in tops if r], reverse=True)
    need = int(np.ceil(0.95 * len(rel) - 1e-9))
    return rel[max(need, 1) - 1]
n = len(rows)
image, itops = [], []
for q in range(n):
    cand = np.array([j for j in range(n) if j != q and (grp[q] is None or grp[j] != grp[q])])
    m, top = judge(E @ E[q], cand, cat == cat[q])
    image.append(m)
    itops += top
text, ttops, tcats = [], [], []
for t in json.load(open(qfile)):
    v = np.array(t["embedding"], dtype=np.float64) if "embedding" in t else E[t["row"]]
    v = v / np.linalg.norm(v)
    rel = (cat == t["category"]) if "category" in t else np.isin(np.array(names), t["images"])
    cand = np.array([j for j in range(n) if j != t.get("exclude")])
    m, top = judge(E @ v, cand, rel)
    text.append(m)
    ttops += top
    tcats.append(t.get("category"))
out = {"image": summarize(image, list(cat)), "threshold": {"image": threshold(itops)}}
if any(c is not None for c in tcats):
    out["text"] = summarize(text, tcats)
else:
    out["text"] = {"per_query": text}
out["threshold"]["text"] = threshold(ttops) if any(r for _, r in ttops) else None
print(json.dumps(out))
)PY";

class CliEvaluateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::DatasetCopy(testing::make_dataset_copy("cli-evaluate", kPerCategory));
    // Groups of two consecutive images of one category ("patients"), the last two of each
    // category in no group.
    std::map<std::string, int> seen;
    std::vector<std::string> names;
    for (const testing::DatasetRow& r : data_->rows()) names.push_back(r.image_name);
    for (const std::string& name : names) {
      testing::DatasetRow& r = data_->row(name);
      const int i = seen[r.category]++;
      r.note = i < kPerCategory - 2 ? r.category + "-p" + std::to_string(i / 2) : "";
    }
    data_->write_metadata();
    write_text(data_->dir() + "/xray-search.json", R"({"group_column": "note"})");
    dir_ = new std::string(testing::scratch_dir("cli-evaluate-work"));
    index_result_ =
        new ProcessResult(run_cli({"index", data_->dir(), "--model", testing::tiny_model_dir(),
                                   "--index", *dir_ + "/idx", "--json"}));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete dir_;
    delete index_result_;
  }
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    ASSERT_EQ(index_result_->exit_code, 0) << describe(*index_result_);
  }

  static std::string index() { return *dir_ + "/idx"; }
  static std::string file(const std::string& name) { return *dir_ + "/" + name; }

  // A model folder of the tiny fixture's name (so the same identity) under file(parent), holding
  // links to the fixture's files: a place to write xray-search-model.json.
  static std::string linked_model(const std::string& parent) {
    const std::string model = file(parent) + "/" + testing::model_name(testing::tiny_model_dir());
    std::filesystem::remove_all(file(parent));
    std::filesystem::create_directories(model);
    for (const char* f :
         {"open_clip_model.safetensors", "open_clip_config.json", "vocab.json", "merges.txt"}) {
      std::filesystem::create_symlink(testing::tiny_model_dir() + "/" + f, model + "/" + f);
    }
    return model;
  }

  static json evaluate_json(std::vector<std::string> args) {
    args.insert(args.begin(), {"evaluate", "--index", index(), "--json"});
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }

  static std::vector<float> embed_text(const std::string& text) {
    const ProcessResult r =
        run_cli({"embed", "--model", testing::tiny_model_dir(), "--text", text});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return json::parse(r.out)["embedding"].get<std::vector<float>>();
  }

  // The NumPy reference for these text/image queries (see kReference).
  static json reference(const json& queries, const std::string& group_column, int k,
                        const std::string& duplicate_min_score = "",
                        const std::string& index_dir = index(), const std::string& data_dir = {}) {
    const ProcessResult exported =
        run_cli({"export", "--index", index_dir, "--out", file("export")});
    EXPECT_EQ(exported.exit_code, 0) << describe(exported);
    write_text(file("ref-queries.json"), queries.dump());
    const std::string meta = (data_dir.empty() ? data_->dir() : data_dir) + "/metadata.csv";
    const ProcessResult r =
        run_process({kPython, "-c", kReference, file("export"), meta, group_column,
                     std::to_string(k), file("ref-queries.json"), duplicate_min_score});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }

  static void expect_metrics(const json& got, const json& want, const std::string& what) {
    ASSERT_TRUE(want.is_object()) << what;
    for (const char* key : {"p@1", "p@k", "r_precision", "map_at_r", "map", "mrr"}) {
      ASSERT_TRUE(got.contains(key)) << what << " " << key;
      EXPECT_NEAR(got[key].get<double>(), want[key].get<double>(), 1e-6) << what << " " << key;
    }
  }

  static testing::DatasetCopy* data_;
  static std::string* dir_;
  static ProcessResult* index_result_;
};

testing::DatasetCopy* CliEvaluateTest::data_ = nullptr;
std::string* CliEvaluateTest::dir_ = nullptr;
ProcessResult* CliEvaluateTest::index_result_ = nullptr;

TEST_F(CliEvaluateTest, BuiltInPromptsAndGroupsMatchNumpy) {
  REQUIRE_NUMPY();
  const int k = 5;
  const json got = evaluate_json({"--k", std::to_string(k)});
  ASSERT_TRUE(got.is_object());
  EXPECT_EQ(got["k"], k);
  EXPECT_EQ(got["group_column"], "note");
  const int categories = int(testing::category_count());
  const int n = categories * kPerCategory;
  EXPECT_EQ(got["grouped_images"], categories * (kPerCategory - 2));
  EXPECT_EQ(got["images"], n);
  json queries = json::array();
  for (const std::string& c : testing::categories()) {
    queries.push_back({{"embedding", embed_text("a " + c + " x-ray")}, {"category", c}});
  }
  const json ref = reference(queries, "note", k);
  ASSERT_TRUE(ref.is_object());

  const json& i2i = got["image_to_image"];
  EXPECT_EQ(i2i["scored_queries"], n);
  expect_metrics(i2i["macro"], ref["image"]["macro"], "image macro");
  for (const std::string& c : testing::categories()) {
    expect_metrics(i2i["per_category"][c], ref["image"]["per_category"][c], "image " + c);
  }
  // Chance, in the leave-one-out-with-groups setting: with 3 categories, a chest query ranks
  // 8 - 1 - 1 = 6 other chests (a grouped one loses its partner) among 24 - 2 = 22 candidates;
  // P@1's chance is the mean of R/N over the queries: (6 grouped x 6/22 + 2 ungrouped x 7/23) / 8
  // per category. In general, kPerCategory = k and n images:
  // ((k - 2) x (k - 2)/(n - 2) + 2 x (k - 1)/(n - 1)) / k.
  const double k8 = kPerCategory;
  EXPECT_NEAR(i2i["chance"]["p@1"].get<double>(),
              ((k8 - 2) * (k8 - 2) / (n - 2) + 2 * (k8 - 1) / (n - 1)) / k8, 1e-9);
  // The interval holds the macro figure.
  for (const char* key : {"p@1", "map"}) {
    const double m = i2i["macro"][key].get<double>();
    EXPECT_LE(i2i["macro"]["ci95"][key][0].get<double>(), m + 1e-12) << key;
    EXPECT_GE(i2i["macro"]["ci95"][key][1].get<double>(), m - 1e-12) << key;
  }

  const json& t2i = got["text_to_image"];
  ASSERT_EQ(t2i["queries"].size(), testing::category_count());
  expect_metrics(t2i["macro"], ref["text"]["macro"], "text macro");
  for (size_t i = 0; i < testing::category_count(); ++i) {
    const json& q = t2i["queries"][i];
    const json& want = ref["text"]["per_query"][i];
    EXPECT_NEAR(q["ap"].get<double>(), want["map"].get<double>(), 1e-6) << i;
    EXPECT_NEAR(q["p@k"].get<double>(), want["p@k"].get<double>(), 1e-6) << i;
    EXPECT_EQ(q["top"].size(), static_cast<size_t>(k));
  }
  EXPECT_EQ(t2i["template"], "a {} x-ray");
  EXPECT_EQ(t2i["queries"][0]["text"], "a chest x-ray");

  EXPECT_NEAR(got["thresholds"]["image"]["suggested_min_score"].get<double>(),
              ref["threshold"]["image"].get<double>(), 1e-6);
  if (ref["threshold"]["text"].is_null()) {
    EXPECT_TRUE(got["thresholds"]["text"]["suggested_min_score"].is_null());
  } else {
    EXPECT_NEAR(got["thresholds"]["text"]["suggested_min_score"].get<double>(),
                ref["threshold"]["text"].get<double>(), 1e-6);
  }
  EXPECT_GE(got["thresholds"]["image"]["relevant_kept"].get<double>(), 0.95);

  // Without groups (--group-column ""), the reference without groups.
  const json plain =
      evaluate_json({"--k", std::to_string(k), "--group-column", "", "--image-only"});
  ASSERT_TRUE(plain.is_object());
  EXPECT_TRUE(plain["group_column"].is_null());
  EXPECT_TRUE(plain["text_to_image"].is_null());
  const json ref_plain = reference(json::array(), "", k);
  expect_metrics(plain["image_to_image"]["macro"], ref_plain["image"]["macro"], "ungrouped macro");

  // Same seed, same intervals; the human table names the sections.
  EXPECT_EQ(evaluate_json({"--k", std::to_string(k)})["image_to_image"]["macro"]["ci95"],
            i2i["macro"]["ci95"]);
  const ProcessResult table = run_cli({"evaluate", "--index", index()});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  const std::string last_prompt = "a " + testing::categories().back() + " x-ray";
  for (const std::string part : {"image → image", "text → image", "chance", "95% interval", "MAP@R",
                                 "thresholds", last_prompt.c_str()}) {
    EXPECT_TRUE(contains(table.out, part)) << part << "\n" << table.out;
  }
}

TEST_F(CliEvaluateTest, QueriesFileMatchesNumpy) {
  REQUIRE_NUMPY();
  const std::vector<testing::DatasetRow>& rows = data_->rows();
  const std::string listed1 = rows[1].image_name, listed2 = rows[kPerCategory + 3].image_name;
  // The first image of the last category (hand; dental in the demo set).
  const std::string last = testing::categories().back();
  const std::string query_image = rows[(testing::category_count() - 1) * kPerCategory].image_name;
  ASSERT_EQ(rows[(testing::category_count() - 1) * kPerCategory].category, last);
  write_text(file("q.jsonl"),
             "{\"text\": \"a " + last + " x-ray\", \"relevant\": {\"category\": \"" + last +
                 "\"}}\n"
                 "\n"
                 "{\"text\": \"two images\", \"relevant\": {\"images\": [\"" +
                 listed1 + "\", \"" + listed2 + "\"]}}\n" + "{\"image\": \"" + query_image +
                 "\", \"relevant\": {\"category\": \"" + last + "\"}}\r\n");
  const int k = 3;
  const json got = evaluate_json({"--queries", file("q.jsonl"), "--k", std::to_string(k)});
  ASSERT_TRUE(got.is_object());
  const json& t = got["text_to_image"];
  ASSERT_EQ(t["queries"].size(), 3u);
  EXPECT_EQ(t["queries"][0]["line"], 1);
  EXPECT_EQ(t["queries"][1]["line"], 3);
  EXPECT_EQ(t["queries"][2]["image"], query_image);
  EXPECT_EQ(t["queries"][1]["relevant"], 2);
  EXPECT_EQ(t["queries"][2]["candidates"],
            testing::category_count() * kPerCategory - 1);  // itself left out

  size_t query_row = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].image_name == query_image) query_row = i;
  }
  // Export rows ascend by id, which follows metadata order for a fresh index.
  json queries = json::array();
  queries.push_back({{"embedding", embed_text("a " + last + " x-ray")}, {"category", last}});
  queries.push_back({{"embedding", embed_text("two images")}, {"images", {listed1, listed2}}});
  queries.push_back({{"row", query_row}, {"category", last}, {"exclude", query_row}});
  const json ref = reference(queries, "note", k);
  ASSERT_TRUE(ref.is_object());
  for (size_t i = 0; i < 3; ++i) {
    const json& q = t["queries"][i];
    const json& want = ref["text"]["per_query"][i];
    ASSERT_TRUE(want.is_object()) << i;
    EXPECT_NEAR(q["ap"].get<double>(), want["map"].get<double>(), 1e-6) << i;
    EXPECT_NEAR(q["p@1"].get<double>(), want["p@1"].get<double>(), 1e-6) << i;
    EXPECT_NEAR(q["map_at_r"].get<double>(), want["map_at_r"].get<double>(), 1e-6) << i;
    EXPECT_NEAR(q["rr"].get<double>(), want["mrr"].get<double>(), 1e-6) << i;
  }
  // Per category: the last only (two queries); the listed-images query counts in the macro as a
  // group of its own.
  ASSERT_EQ(t["per_category"].size(), 1u);
  const double hand =
      (t["queries"][0]["ap"].get<double>() + t["queries"][2]["ap"].get<double>()) / 2;
  EXPECT_NEAR(t["per_category"][last]["map"].get<double>(), hand, 1e-9);
  EXPECT_NEAR(t["macro"]["map"].get<double>(), (hand + t["queries"][1]["ap"].get<double>()) / 2,
              1e-9);
}

// Near-duplicates: exact copies of one image per category, planted in another copy of the
// dataset, are grouped with their originals and left out of each other's image→image rankings,
// at --duplicate-min-score or at the model's duplicate_min_score (xray-search-model.json, which
// `duplicates` and `search --collapse-duplicates` follow too); the metrics equal NumPy's over the
// same components. Without a threshold for the model nothing is grouped (the tiny random model
// puts distinct X-rays at cosine 0.65-0.9996, so no fixed default would be right for it).
TEST_F(CliEvaluateTest, NearDuplicateGroupsMatchNumpy) {
  REQUIRE_NUMPY();
  testing::DatasetCopy data = testing::make_dataset_copy("cli-evaluate-dups", 5);
  std::vector<std::string> originals;
  std::set<std::string> seen;
  for (const testing::DatasetRow& r : data.rows()) {
    if (seen.insert(r.category).second) originals.push_back(r.image_name);
  }
  for (const std::string& name : originals) {
    testing::DatasetRow copy = data.row(name);
    copy.image_name = "copy-" + name;
    data.add(copy, data.file(name));
  }
  data.write_metadata();
  const std::string model = linked_model("dups-model");
  const std::string idx = file("dups-idx");
  std::filesystem::remove_all(idx);
  const ProcessResult indexed =
      run_cli({"index", data.dir(), "--model", model, "--index", idx, "--json"});
  ASSERT_EQ(indexed.exit_code, 0) << describe(indexed);
  const size_t n = data.rows().size();

  // The threshold: midway between the highest score of two different images and the lowest of
  // an image and its copy, from the exported vectors.
  const ProcessResult exported = run_cli({"export", "--index", idx, "--out", file("dups-export")});
  ASSERT_EQ(exported.exit_code, 0) << describe(exported);
  const ProcessResult gap = run_process({kPython, "-c", R"PY(
import csv, sys
import numpy as np
E = np.load(sys.argv[1] + ".npy").astype(np.float64)
names = [r["image_name"] for r in csv.DictReader(open(sys.argv[1] + ".csv"))]
S = E @ E.T
planted = lambda a, b: a == "copy-" + b or b == "copy-" + a
lo = min(S[i, j] for i in range(len(names)) for j in range(len(names)) if planted(names[i], names[j]))
hi = max(S[i, j] for i in range(len(names)) for j in range(i + 1, len(names))
         if not planted(names[i], names[j]))
print(hi, lo)
)PY",
                                         file("dups-export")});
  ASSERT_EQ(gap.exit_code, 0) << describe(gap);
  double highest_distinct = 0, lowest_planted = 0;
  std::istringstream(gap.out) >> highest_distinct >> lowest_planted;
  ASSERT_GT(lowest_planted - highest_distinct, 1e-4) << gap.out;
  const double t = (highest_distinct + lowest_planted) / 2;
  char t_text[32];
  std::snprintf(t_text, sizeof t_text, "%.7f", t);

  auto evaluate = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"evaluate", "--index", idx, "--json", "--image-only"});
    const ProcessResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out) : json();
  };
  const json ref = reference(json::array(), "", 5, t_text, idx, data.dir());
  const json ref_plain = reference(json::array(), "", 5, "", idx, data.dir());
  ASSERT_TRUE(ref.is_object() && ref_plain.is_object());
  auto expect_grouped = [&](const json& got, const std::string& from) {
    ASSERT_TRUE(got.is_object());
    ASSERT_TRUE(got["near_duplicates"].is_object()) << got.dump();
    EXPECT_EQ(got["near_duplicates"]["groups"], originals.size());
    EXPECT_EQ(got["near_duplicates"]["images"], 2 * originals.size());
    EXPECT_EQ(got["near_duplicates"]["largest_group"], 2);
    EXPECT_EQ(got["near_duplicates"]["from"], from);
    EXPECT_NEAR(got["near_duplicates"]["min_score"].get<double>(), t, 1e-6);
    EXPECT_EQ(got["image_to_image"]["protocol"],
              "leave-one-out, own near-duplicate group left out");
    EXPECT_EQ(got["image_to_image"]["scored_queries"], n);
    expect_metrics(got["image_to_image"]["macro"], ref["image"]["macro"], "grouped " + from);
    for (const std::string& c : seen) {
      expect_metrics(got["image_to_image"]["per_category"][c], ref["image"]["per_category"][c],
                     "grouped " + from + " " + c);
    }
  };

  // No threshold for this model yet: nothing grouped, plain leave-one-out.
  const json plain = evaluate({});
  ASSERT_TRUE(plain.is_object());
  EXPECT_TRUE(plain["near_duplicates"].is_null());
  EXPECT_EQ(plain["image_to_image"]["protocol"], "leave-one-out");
  expect_metrics(plain["image_to_image"]["macro"], ref_plain["image"]["macro"], "plain");
  const ProcessResult table = run_cli({"evaluate", "--index", idx, "--image-only"});
  EXPECT_TRUE(contains(table.out, "near-duplicates: not left out")) << table.out;

  // Given on the command line.
  expect_grouped(evaluate({"--duplicate-min-score", t_text}), "--duplicate-min-score");

  // From the model's settings, for evaluate, duplicates and search.
  write_text(model + "/xray-search-model.json",
             std::string(R"({"duplicate_min_score": )") + t_text + "}");
  expect_grouped(evaluate({}), "model settings");
  EXPECT_TRUE(evaluate({"--keep-near-duplicates"})["near_duplicates"].is_null());
  const ProcessResult dups = run_cli({"duplicates", "--index", idx, "--json"});
  ASSERT_EQ(dups.exit_code, 0) << describe(dups);
  const json groups = json::parse(dups.out)["groups"];
  ASSERT_EQ(groups.size(), originals.size()) << dups.out;
  for (const json& g : groups) {
    ASSERT_EQ(g["images"].size(), 2u);
    EXPECT_EQ(g["images"][1].get<std::string>(), "copy-" + g["images"][0].get<std::string>())
        << g.dump();
  }
  const ProcessResult collapsed = run_cli(
      {"search", "--index", idx, "--text", "a hand x-ray", "--collapse-duplicates", "--json"});
  ASSERT_EQ(collapsed.exit_code, 0) << describe(collapsed);
  EXPECT_NEAR(json::parse(collapsed.out)["query"]["collapse_duplicates"].get<double>(), t, 1e-6);
  const ProcessResult both = run_cli(
      {"evaluate", "--index", idx, "--duplicate-min-score", t_text, "--keep-near-duplicates"});
  EXPECT_EQ(both.exit_code, 2) << describe(both);
  for (const char* bad : {"0", "1.5", "x"}) {
    const ProcessResult r = run_cli({"evaluate", "--index", idx, "--duplicate-min-score", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << " " << describe(r);
  }
}

TEST_F(CliEvaluateTest, SideBySide) {
  const ProcessResult r =
      run_cli({"evaluate", "--index", index(), "--index", index(), "--image-only"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[1]")) << r.out;
  EXPECT_TRUE(contains(r.out, "[2]")) << r.out;
  const ProcessResult j =
      run_cli({"evaluate", "--index", index(), "--index", index(), "--image-only", "--json"});
  ASSERT_EQ(j.exit_code, 0) << describe(j);
  const json doc = json::parse(j.out);
  ASSERT_EQ(doc["indexes"].size(), 2u);
  EXPECT_EQ(doc["indexes"][0]["image_to_image"]["macro"],
            doc["indexes"][1]["image_to_image"]["macro"]);
}

// --write-model-config writes the suggested thresholds beside the model; search then uses them as
// its defaults (an explicit --min-score still wins), and a malformed file is an error.
TEST_F(CliEvaluateTest, ModelConfigThresholds) {
  const std::string model = linked_model("models");
  const std::string settings = model + "/xray-search-model.json";
  // Without the file: the built-in defaults.
  const ProcessResult before =
      run_cli({"search", "--index", index(), "--model", model, "--text", "a hand x-ray", "--json"});
  ASSERT_EQ(before.exit_code, 0) << describe(before);
  EXPECT_NEAR(json::parse(before.out)["min_score"].get<double>(), 0.25, 1e-6);

  const json got = evaluate_json({"--model", model, "--write-model-config"});
  ASSERT_TRUE(got.is_object());
  ASSERT_TRUE(std::filesystem::exists(settings));
  std::ifstream in(settings);
  const json written = json::parse(in);
  const double text = got["thresholds"]["text"]["suggested_min_score"].get<double>();
  const double image = got["thresholds"]["image"]["suggested_min_score"].get<double>();
  EXPECT_NEAR(written["text_min_score"].get<double>(), text, 1e-6);
  EXPECT_NEAR(written["image_min_score"].get<double>(), image, 1e-6);
  EXPECT_EQ(written["evaluation"]["index"], index());

  auto search_min = [&](std::vector<std::string> query) {
    std::vector<std::string> argv = {"search", "--index", index(), "--model", model, "--json"};
    argv.insert(argv.end(), query.begin(), query.end());
    const ProcessResult r = run_cli(argv);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out)["min_score"].get<double>() : -9.0;
  };
  EXPECT_NEAR(search_min({"--text", "a hand x-ray"}), text, 1e-6);
  EXPECT_NEAR(search_min({"--id", "1"}), image, 1e-6);
  EXPECT_NEAR(search_min({"--text", "a hand x-ray", "--min-score", "0.5"}), 0.5, 1e-6);
  // evaluate now compares against the model's thresholds.
  const json again = evaluate_json({"--model", model});
  EXPECT_NEAR(again["thresholds"]["text"]["default_min_score"].get<double>(), text, 1e-6);
  EXPECT_EQ(again["model_settings"], settings);

  write_text(settings, R"({"text_min_score": 2})");
  const ProcessResult bad =
      run_cli({"search", "--index", index(), "--model", model, "--text", "a hand x-ray"});
  EXPECT_EQ(bad.exit_code, 1) << describe(bad);
  EXPECT_TRUE(contains(bad.err, "xray-search-model.json")) << bad.err;
  EXPECT_TRUE(contains(bad.err, "text_min_score")) << bad.err;
  // Several indexes cannot share one write.
  const ProcessResult two =
      run_cli({"evaluate", "--index", index(), "--index", index(), "--write-model-config"});
  EXPECT_EQ(two.exit_code, 2) << describe(two);
}

// A model folder with prompt templates: search embeds a text through each, averages the
// normalised embeddings and normalises again (checked against `search --embedding` of that mean,
// computed here from `embed --text` of each prompt); --raw-text and raw_text turn it off; evaluate
// reports the ensemble beside the single prompt, both against NumPy.
TEST_F(CliEvaluateTest, PromptEnsembleInSearchAndEvaluate) {
  REQUIRE_NUMPY();
  const std::string model = linked_model("ensemble-models");
  const std::vector<std::string> templates = {"a {} x-ray", "a radiograph of the {}", "{}"};
  write_text(model + "/xray-search-model.json", json{{"prompt_templates", templates}}.dump());
  auto ensemble = [&](const std::string& text) {
    std::vector<double> sum;
    for (const std::string& t : templates) {
      std::string prompt = t;
      prompt.replace(prompt.find("{}"), 2, text);
      const std::vector<float> e = embed_text(prompt);
      double n = 0;
      for (float v : e) n += double(v) * v;
      sum.resize(e.size(), 0.0);
      for (size_t j = 0; j < e.size(); ++j) sum[j] += e[j] / std::sqrt(n);
    }
    double n = 0;
    for (double v : sum) n += v * v;
    std::vector<double> out;
    for (double v : sum) out.push_back(v / std::sqrt(n));
    return out;
  };
  auto search = [&](std::vector<std::string> query) {
    std::vector<std::string> argv = {"search", "--index",     index(), "--model", model,
                                     "--json", "--min-score", "-1",    "--k",     "20"};
    argv.insert(argv.end(), query.begin(), query.end());
    const ProcessResult r = run_cli(argv);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.exit_code == 0 ? json::parse(r.out) : json();
  };
  auto expect_same_ranking = [](const json& got, const json& want, const std::string& what) {
    ASSERT_EQ(got["results"].size(), want["results"].size()) << what;
    for (size_t i = 0; i < got["results"].size(); ++i) {
      EXPECT_NEAR(got["results"][i]["score"].get<double>(),
                  want["results"][i]["score"].get<double>(), 1e-5)
          << what << " rank " << i + 1;
    }
  };
  const json hand = ensemble("hand");
  write_text(file("hand-ensemble.json"), hand.dump());
  const json by_text = search({"--text", "hand"});
  ASSERT_TRUE(by_text.is_object());
  EXPECT_EQ(by_text["prompt_templates"], 3);
  expect_same_ranking(by_text, search({"--embedding", file("hand-ensemble.json")}), "ensemble");
  // --raw-text: the text as typed, like a model folder without templates.
  const json raw = search({"--text", "hand", "--raw-text"});
  EXPECT_FALSE(raw.contains("prompt_templates"));
  EXPECT_EQ(raw["query"]["raw_text"], true);
  const ProcessResult plain = run_cli(
      {"search", "--index", index(), "--json", "--min-score", "-1", "--k", "20", "--text", "hand"});
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  expect_same_ranking(raw, json::parse(plain.out), "raw text");
  // The table says the text went through the templates.
  const ProcessResult table =
      run_cli({"search", "--index", index(), "--model", model, "--text", "hand"});
  EXPECT_TRUE(contains(table.out, "3 prompt templates")) << table.out;

  // evaluate: the single prompt as before, the ensemble of each category's name beside it.
  const int k = 5;
  const json got = evaluate_json({"--model", model, "--k", std::to_string(k)});
  ASSERT_TRUE(got.is_object());
  const json& e = got["text_to_image_ensemble"];
  ASSERT_TRUE(e.is_object()) << got.dump();
  EXPECT_EQ(e["templates"], json(templates));
  EXPECT_EQ(got["text_to_image"]["template"], "a {} x-ray");
  EXPECT_EQ(got["thresholds"]["text_queries"], "prompt ensemble");
  json queries = json::array();
  for (const std::string& c : testing::categories()) {
    queries.push_back({{"embedding", ensemble(c)}, {"category", c}});
  }
  const json ref = reference(queries, "note", k);
  ASSERT_TRUE(ref.is_object());
  expect_metrics(e["macro"], ref["text"]["macro"], "ensemble macro");
  ASSERT_EQ(e["queries"].size(), testing::category_count());
  EXPECT_EQ(e["queries"].back()["text"], testing::categories().back());
  if (!ref["threshold"]["text"].is_null()) {
    EXPECT_NEAR(got["thresholds"]["text"]["suggested_min_score"].get<double>(),
                ref["threshold"]["text"].get<double>(), 1e-6);
  }
  const ProcessResult human = run_cli({"evaluate", "--index", index(), "--model", model});
  ASSERT_EQ(human.exit_code, 0) << describe(human);
  EXPECT_TRUE(contains(human.out, "prompt ensemble (3 templates")) << human.out;
  // Without templates there is no ensemble section.
  EXPECT_TRUE(evaluate_json({})["text_to_image_ensemble"].is_null());
}

// --report: one self-contained page: tables, inline SVG histograms, thumbnails as data: URIs
// marked relevant or irrelevant, nothing fetched from elsewhere. (Rendering in a browser is not
// checked here.)
TEST_F(CliEvaluateTest, Report) {
  const std::string dir = file("report");
  std::filesystem::remove_all(dir);
  const ProcessResult r = run_cli({"evaluate", "--index", index(), "--report", dir});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::ifstream in(dir + "/report.html");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string page = ss.str();
  ASSERT_FALSE(page.empty());
  for (const char* part :
       {"<!DOCTYPE html>", "<svg", "class=\"rel\"", "Image → image", "Text → image", "MAP@R",
        "95% interval", "data:image/", "tile relevant", "a chest x-ray"}) {
    EXPECT_TRUE(contains(page, part)) << part;
  }
  // Self-contained: no script, no external resource.
  for (const char* part : {"<script", "src=\"http", "href=\"http", "@import", "url("}) {
    EXPECT_FALSE(contains(page, part)) << part;
  }
  // 3 image queries per category with k = 5 results each, plus one text query per category:
  // with 3 categories 60 result tiles, each marked.
  size_t tiles = 0;
  for (size_t at = page.find("<div class=\"tile "); at != std::string::npos;
       at = page.find("<div class=\"tile ", at + 1)) {
    ++tiles;
  }
  const size_t categories = testing::category_count();
  EXPECT_EQ(tiles, categories * 3u * 6u + categories * 5u);  // image rows show the query tile too
  // Every thumbnail decodes as base64 of a JPEG or PNG: the first one checked.
  const size_t at = page.find("data:image/jpeg;base64,");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(page.substr(at + 23, 4), "/9j/");  // base64 of FF D8 FF
  const ProcessResult two =
      run_cli({"evaluate", "--index", index(), "--index", index(), "--report", dir});
  EXPECT_EQ(two.exit_code, 2) << describe(two);
}

TEST_F(CliEvaluateTest, BadInput) {
  auto expect_error = [&](const std::vector<std::string>& args, int code, const std::string& part) {
    std::vector<std::string> argv = {"evaluate"};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = run_cli(argv);
    EXPECT_EQ(r.exit_code, code) << describe(r);
    EXPECT_TRUE(contains(r.err, part)) << "want '" << part << "' in: " << r.err;
  };
  // A malformed line, named by file and line number.
  write_text(file("bad1.jsonl"), "{\"text\": \"a\", \"relevant\": {\"category\": \"" +
                                     testing::categories().back() + "\"}}\n{\"text\": \"b\", \n");
  expect_error({"--index", index(), "--queries", file("bad1.jsonl")}, 1,
               file("bad1.jsonl") + ":2: not valid JSON");
  write_text(file("bad2.jsonl"), "{\"text\": \"a\", \"relevant\": {\"category\": \"foot\"}}\n");
  std::string have;  // "chest, dental, hand" (../shared), "chest, dental" (the demo set)
  for (const std::string& c : testing::categories()) have += (have.empty() ? "" : ", ") + c;
  expect_error({"--index", index(), "--queries", file("bad2.jsonl")}, 1,
               file("bad2.jsonl") + ":1: unknown category 'foot' (the index has: " + have + ")");
  write_text(file("bad3.jsonl"), "{\"text\": \"a\", \"relevant\": {\"images\": [\"nope.png\"]}}\n");
  expect_error({"--index", index(), "--queries", file("bad3.jsonl")}, 1, "is not in the index");
  write_text(file("bad4.jsonl"), "{\"text\": \"a\"}\n");
  expect_error({"--index", index(), "--queries", file("bad4.jsonl")}, 1, ":1: \"relevant\"");
  write_text(file("empty.jsonl"), "\n");
  expect_error({"--index", index(), "--queries", file("empty.jsonl")}, 1, "no queries");
  expect_error({"--index", index(), "--queries", file("absent.jsonl")}, 1, "absent.jsonl");
  // Usage errors.
  expect_error({"--index", index(), "--k", "0"}, 2, "--k");
  expect_error({}, 2, "--index");
  expect_error({"--index", index(), "--group-column", "nope", "--image-only"}, 1, "'nope'");
  expect_error({"--index", file("no-such-index")}, 1, "no-such-index");

  // An empty index and an index with one image.
  ModelIdentity model;
  model.name = "m";
  model.weights_sha256 = std::string(64, 'a');
  model.dim = 2;
  model.preprocessing = "p";
  {
    auto catalog = Catalog::open_or_create(file("empty-idx"), model);
    ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
  }
  expect_error({"--index", file("empty-idx"), "--image-only"}, 1, "no images");
  {
    auto catalog = Catalog::open_or_create(file("one-idx"), model);
    ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
    auto tx = (*catalog)->begin();
    ASSERT_TRUE(tx.is_ok());
    ImageRecord r;
    r.image_name = "a.png";
    r.category = "chest";
    r.relative_path = "raw/chest/a.png";
    r.sha256 = std::string(64, 'b');
    r.embedding = {1.0f, 0.0f};
    ASSERT_TRUE(tx->upsert(r).is_ok());
    ASSERT_TRUE(tx->commit().is_ok());
  }
  expect_error({"--index", file("one-idx"), "--image-only"}, 1, "1 image");
}

}  // namespace
}  // namespace xrs
