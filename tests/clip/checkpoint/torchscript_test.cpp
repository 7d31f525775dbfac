// The PyTorch zip checkpoint reader: the fixture against its safetensors twin, archives written
// by torch itself (checked against torch's own reading of them), hand-made archives for every
// layout detail, and damaged or hostile archives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

#include "checkpoint_builders.h"
#include "clip/checkpoint/tensor_archive.h"
#include "clip/checkpoint/zip_reader.h"
#include "core/file_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

namespace pk = testing::pk;
using namespace std::string_literals;

std::vector<float> as_floats(const TensorView& v) {
  std::vector<float> out(v.numel());
  Status s = TensorArchive::to_float(v, out);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return out;
}

std::string halves(std::initializer_list<uint16_t> v) {
  std::string s;
  for (uint16_t h : v) testing::put_le(&s, h, 2);
  return s;
}
std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// archive/data.pkl + archive/data/<key> + archive/version, written to the scratch folder.
std::string write_archive(const std::string& name, const std::string& pickle,
                          const std::vector<std::pair<std::string, std::string>>& storages,
                          bool zip64 = false, bool deflate = false) {
  std::vector<testing::ZipEntrySpec> entries = {{"archive/data.pkl", pickle, deflate}};
  for (const auto& [key, bytes] : storages) {
    entries.push_back({"archive/data/" + key, bytes, deflate});
  }
  entries.push_back({"archive/version", "3\n"});
  const std::string path = testing::scratch_dir("torchscript_" + name) + "/" + name + ".pt";
  EXPECT_TRUE(write_file_atomic(path, testing::build_zip(entries, zip64)).is_ok());
  return path;
}

// Expects TensorArchive::open to fail with `code` and a message naming the file and `phrase`.
void expect_open_error(const std::string& path, StatusCode code, const std::string& phrase) {
  auto r = TensorArchive::open(path);
  ASSERT_FALSE(r.is_ok()) << path;
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(phrase), std::string::npos) << r.status().to_string();
  EXPECT_EQ(r.status().message().rfind(path, 0), 0u)
      << "names the file: " << r.status().to_string();
}

TEST(TorchScriptTest, FixtureMatchesItsSafetensorsTwin) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::fixtures_dir() + "/tiny-openai-b32";
  const auto t0 = std::chrono::steady_clock::now();
  auto pt = TensorArchive::open(dir + "/tiny-openai-b32.pt");
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(pt.is_ok()) << pt.status().to_string();
  std::cout << "[ info     ] opened tiny-openai-b32.pt (" << (*pt)->tensors().size()
            << " tensors) in " << ms << " ms\n";
  EXPECT_EQ((*pt)->format(), ArchiveFormat::kTorchScript);
  auto st = TensorArchive::open(dir + "/open_clip_model.safetensors");
  ASSERT_TRUE(st.is_ok()) << st.status().to_string();
  for (const auto& [name, want] : (*st)->tensors()) {
    const TensorView* got = (*pt)->find(name);
    ASSERT_NE(got, nullptr) << name << " is missing from the .pt";
    EXPECT_EQ(got->shape, want.shape) << name;
    EXPECT_EQ(as_floats(*got), as_floats(want)) << name;
  }
  // OpenAI's released dtypes: linear/conv/attention weights half, embeddings and norms float.
  EXPECT_EQ((*pt)->find("visual.conv1.weight")->dtype, DType::kF16);
  EXPECT_EQ((*pt)->find("transformer.resblocks.0.attn.in_proj_weight")->dtype, DType::kF16);
  EXPECT_EQ((*pt)->find("ln_final.weight")->dtype, DType::kF32);
  // Anything beyond the state dict can only be the tensor attributes OpenAI's model carries.
  const std::set<std::string> extra_ok = {"attn_mask", "input_resolution", "context_length",
                                          "vocab_size"};
  for (const auto& [name, view] : (*pt)->tensors()) {
    if ((*st)->find(name)) continue;
    EXPECT_TRUE(extra_ok.contains(name.substr(name.rfind('.') + 1))) << "unexpected " << name;
  }
}

TEST(TorchScriptTest, DamagedFixtureFailsCleanly) {
  XRS_REQUIRE_FIXTURES();
  const std::string src = testing::fixtures_dir() + "/tiny-openai-b32/tiny-openai-b32.pt";
  auto full = read_file(src);
  ASSERT_TRUE(full.is_ok());
  auto zip = ZipReader::open(std::as_bytes(std::span(full->data(), full->size())), src);
  ASSERT_TRUE(zip.is_ok());
  const ZipReader::Entry* pkl = zip->find("tiny-openai-b32/data.pkl");
  ASSERT_NE(pkl, nullptr);
  const size_t cd_start = zip->entries().back().data_offset + zip->entries().back().size;
  const std::string dir = testing::scratch_dir("torchscript_damaged");
  const size_t n = full->size();
  for (size_t len : {size_t(0), size_t(2), size_t(100), n / 4, n / 2, cd_start - 1, cd_start + 50,
                     n - 23, n - 20, n - 1}) {
    const std::string path = dir + "/cut" + std::to_string(len) + ".pt";
    ASSERT_TRUE(write_file_atomic(path, full->substr(0, len)).is_ok());
    auto r = TensorArchive::open(path);
    ASSERT_FALSE(r.is_ok()) << "prefix of " << len << " bytes";
  }
  std::string bad = *full;
  bad[cd_start] = 'X';  // central directory signature of the first entry
  ASSERT_TRUE(write_file_atomic(dir + "/cd.pt", bad).is_ok());
  expect_open_error(dir + "/cd.pt", StatusCode::kCorruption, "central directory");
  bad = *full;
  bad[pkl->data_offset + pkl->size / 2] ^= 0x20;
  ASSERT_TRUE(write_file_atomic(dir + "/crc.pt", bad).is_ok());
  expect_open_error(dir + "/crc.pt", StatusCode::kCorruption, "'tiny-openai-b32/data.pkl': CRC-32");
}

// Half storage "0" holds 0..11, seen as a 4x3 matrix "w" and as its transpose "w_t"; float
// storage "1" holds 10..14; bf16 storage "2"; int64 storage "3".
std::string layout_pickle() {
  const std::string h = pk::storage("HalfStorage", "0", 12);
  const std::string f = pk::storage("FloatStorage", "1", 5);
  const std::string gamma =
      pk::global("torch._utils", "_rebuild_parameter") +
      pk::tuple({pk::tensor(pk::storage("BFloat16Storage", "2", 2), 0, {2}, {1}), "\x88",
                 pk::ordered_dict({})}) +
      "R";
  return pk::pickle(pk::module(
      "Net", {{"w", pk::tensor(h, 0, {4, 3}, {3, 1})},
              {"w_t", pk::tensor(h, 0, {3, 4}, {1, 3})},
              {"sub", pk::module("Sub", {{"bias", pk::tensor(f, 1, {3}, {1})},
                                         {"inner", pk::module("Inner", {{"gamma", gamma}})},
                                         {"training", "\x88"}})},
              {"empty", pk::tensor(f, 5, {0, 4}, {4, 1})},
              {"scalar", pk::tensor(f, 4, {}, {})},
              {"steps", pk::tensor(pk::storage("LongStorage", "3", 2), 0, {2}, {1})},
              {"cfg", pk::integer(3)},
              {"nothing", "N"}}));
}

std::vector<std::pair<std::string, std::string>> layout_storages() {
  std::string h;  // 0..11 as float16: 0, then 1.0 = 0x3c00, 2.0 = 0x4000, ...
  for (int i = 0; i < 12; ++i) {
    uint16_t bits = 0;
    if (i > 0) {
      int e = 0;
      while ((2 << e) <= i) ++e;
      bits = uint16_t((e + 15) << 10 | ((i << (10 - e)) & 0x3ff));
    }
    testing::put_le(&h, bits, 2);
  }
  std::string longs;
  testing::put_le(&longs, uint64_t(-5), 8);
  testing::put_le(&longs, 1ULL << 40, 8);
  return {{"0", h},
          {"1", floats({10, 11, 12, 13, 14})},
          {"2", halves({0x3f80, 0xc040})},  // bf16 1.0, -3.0
          {"3", longs}};
}

TEST(TorchScriptTest, ReadsModulesStridesOffsetsAndDtypes) {
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant == 0 ? "stored" : variant == 1 ? "zip64" : "deflated");
    const std::string path = write_archive("layout" + std::to_string(variant), layout_pickle(),
                                           layout_storages(), variant == 1, variant == 2);
    auto a = TensorArchive::open(path);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    std::set<std::string> names;
    for (const auto& [name, v] : (*a)->tensors()) names.insert(name);
    EXPECT_EQ(names, (std::set<std::string>{"w", "w_t", "sub.bias", "sub.inner.gamma", "empty",
                                            "scalar", "steps"}));
    const TensorView& w = *(*a)->find("w");
    const TensorView& wt = *(*a)->find("w_t");
    EXPECT_EQ(w.dtype, DType::kF16);
    EXPECT_TRUE(w.is_contiguous());
    EXPECT_EQ(as_floats(w), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    EXPECT_FALSE(wt.is_contiguous());
    EXPECT_EQ(wt.strides, (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(as_floats(wt), (std::vector<float>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}));
    EXPECT_EQ(wt.data.data(), w.data.data()) << "one storage, no copies";
    EXPECT_EQ(as_floats(*(*a)->find("sub.bias")), (std::vector<float>{11, 12, 13}));
    EXPECT_EQ((*a)->find("sub.bias")->data.size(), 12u) << "the view starts at its offset";
    EXPECT_EQ((*a)->find("sub.inner.gamma")->dtype, DType::kBF16);
    EXPECT_EQ(as_floats(*(*a)->find("sub.inner.gamma")), (std::vector<float>{1, -3}));
    EXPECT_EQ((*a)->find("empty")->numel(), 0);
    EXPECT_TRUE((*a)->find("empty")->data.empty());
    EXPECT_EQ(as_floats(*(*a)->find("scalar")), (std::vector<float>{14}));
    const TensorView& steps = *(*a)->find("steps");
    ASSERT_EQ(steps.dtype, DType::kI64);
    int64_t raw[2];
    ASSERT_EQ(steps.data.size(), sizeof raw);
    std::memcpy(raw, steps.data.data(), sizeof raw);
    EXPECT_EQ(raw[0], -5);
    EXPECT_EQ(raw[1], 1LL << 40);
  }
}

TEST(TorchScriptTest, ReadsTorchSaveStateDicts) {
  // torch.save(model.state_dict()): an OrderedDict of tensors (here one memoised and named
  // twice) whose own attribute `_metadata` arrives by BUILD.
  const std::string t = pk::tensor(pk::storage("FloatStorage", "0", 5), 0, {5}, {1});
  const std::string pickle = pk::pickle(
      pk::global("collections", "OrderedDict") + ")R(" + pk::str("enc.weight") + t + "q\x00"s +
      pk::str("enc.bias") + "h\x00u"s + "}(" + pk::str("_metadata") + pk::ordered_dict({}) + "ub");
  const std::string path = write_archive("state_dict", pickle, {{"0", floats({1, 2, 3, 4, 5})}});
  auto a = TensorArchive::open(path);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_EQ((*a)->tensors().size(), 2u);
  EXPECT_EQ(as_floats(*(*a)->find("enc.bias")), (std::vector<float>{1, 2, 3, 4, 5}));
}

TEST(TorchScriptTest, RejectsHostileAndInconsistentArchives) {
  const std::string h12 = pk::storage("HalfStorage", "0", 12);
  const std::string bytes24(24, '\0');
  auto one = [&](const std::string& tensor) {
    return pk::pickle(pk::ordered_dict({{"t", tensor}}));
  };
  struct Case {
    const char* name;
    std::string pickle;
    StatusCode code;
    std::string phrase;
  };
  const Case cases[] = {
      {"os_system",
       pk::pickle(pk::global("os", "system") + pk::tuple({pk::str("echo never-run")}) + "R"),
       StatusCode::kUnsupported, "data.pkl: offset 2 (GLOBAL): global 'os.system' is not allowed"},
      {"outside", one(pk::tensor(h12, 0, {4, 4}, {4, 1})), StatusCode::kCorruption,
       "reaches element 15 of storage '0', which has 12"},
      {"offset", one(pk::tensor(h12, 12, {1}, {1})), StatusCode::kCorruption, "reaches element 12"},
      {"stride", one(pk::tensor(h12, 0, {2}, {100})), StatusCode::kCorruption,
       "reaches element 100"},
      {"empty_offset", one(pk::tensor(h12, 13, {0}, {1})), StatusCode::kCorruption,
       "offset past the end"},
      {"overflow", one(pk::tensor(h12, 0, {1LL << 40, 1LL << 40}, {0, 0})), StatusCode::kCorruption,
       "overflow"},
      {"missing_storage", one(pk::tensor(pk::storage("HalfStorage", "9", 12), 0, {12}, {1})),
       StatusCode::kCorruption, "storage '9' has no zip entry 'archive/data/9'"},
      {"numel", one(pk::tensor(pk::storage("HalfStorage", "0", 13), 0, {12}, {1})),
       StatusCode::kCorruption, "13 F16 elements do not fit its 24-byte entry"},
      {"dtype_clash",
       pk::pickle(
           pk::ordered_dict({{"a", pk::tensor(h12, 0, {12}, {1})},
                             {"b", pk::tensor(pk::storage("FloatStorage", "0", 6), 0, {6}, {1})}})),
       StatusCode::kCorruption, "declared both as"},
      {"name_clash",
       pk::pickle(
           pk::ordered_dict({{"a.b", pk::tensor(h12, 0, {1}, {1})},
                             {"a", pk::ordered_dict({{"b", pk::tensor(h12, 0, {1}, {1})}})}})),
       StatusCode::kCorruption, "two tensors are named 'a.b'"},
      {"no_tensors", pk::pickle(pk::ordered_dict({{"epoch", pk::integer(3)}})),
       StatusCode::kUnsupported, "holds no named tensors"},
      {"cycle", pk::pickle("}q\x00("s + pk::str("self") + "h\x00u"s),
       StatusCode::kResourceExhausted, "nested deeper than 128"},
      {"own_state",
       pk::pickle(pk::global("__torch__.m", "Net") + ")\x81q\x00h\x00"
                                                     "b"s),
       StatusCode::kResourceExhausted, "nested deeper than 128"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expect_open_error(write_archive(c.name, c.pickle, {{"0", bytes24}}), c.code, c.phrase);
  }
}

TEST(TorchScriptTest, BoundsNestingAndSharedModuleExplosion) {
  // 200 nested dicts.
  std::string deep = pk::tensor(pk::storage("FloatStorage", "0", 1), 0, {}, {});
  for (int i = 0; i < 200; ++i) deep = "}(" + pk::str("m") + deep + "u";
  expect_open_error(write_archive("deep", pk::pickle(deep), {{"0", floats({1})}}),
                    StatusCode::kResourceExhausted, "nested deeper than 128");
  // 40 levels, each naming the level below twice: 2^40 paths through 40 dicts.
  std::string shared =
      pk::ordered_dict({{"t", pk::tensor(pk::storage("FloatStorage", "0", 1), 0, {}, {})}}) +
      "q\x00"s;
  for (int i = 1; i <= 40; ++i) {
    shared +=
        "}(" + pk::str("a") + "h" + char(i - 1) + pk::str("b") + "h" + char(i - 1) + "uq" + char(i);
  }
  expect_open_error(write_archive("shared", pk::pickle(shared), {{"0", floats({1})}}),
                    StatusCode::kResourceExhausted, "values reached while naming tensors");
}

// Archives written by torch itself (torch.jit.save of a scripted module, torch.save of its state
// dict, and that file re-zipped with deflate), compared with what torch reads back from them.
constexpr const char* kTorchScript = R"PY(
import json, sys, zipfile, torch
out = sys.argv[1]
torch.manual_seed(0)

class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3).half()
        self.norm = torch.nn.LayerNorm(3)
        self.register_buffer('steps', torch.arange(5, dtype=torch.int64) * 3)

    def forward(self, x):
        return self.norm(self.lin(x.half()).float())

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(3, 5))
        self.b = torch.nn.Parameter(torch.randn(2, 3).to(torch.bfloat16))
        self.t = torch.nn.Parameter(torch.randn(4, 6).t())
        self.register_buffer('window', torch.randn(20, dtype=torch.float64)[3:11].view(2, 4))
        self.blocks = torch.nn.ModuleList([Block(), Block()])
        self.scale = torch.nn.Parameter(torch.tensor(2.5))

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x * self.scale

net = Net()
torch.jit.save(torch.jit.script(net), out + '/scripted.pt')
torch.save(net.state_dict(), out + '/state_dict.pt')
with zipfile.ZipFile(out + '/state_dict.pt') as src:
    with zipfile.ZipFile(out + '/deflated.pt', 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
names = {torch.float16: 'F16', torch.float32: 'F32', torch.bfloat16: 'BF16',
         torch.float64: 'F64', torch.int64: 'I64'}

def describe(sd, tag):
    m = {}
    for i, (k, v) in enumerate(sd.items()):
        f = '%s/%s_%d.bin' % (out, tag, i)
        v = v.detach()
        data = (v.float() if v.is_floating_point() else v).contiguous().numpy().tobytes()
        open(f, 'wb').write(data)
        m[k] = {'shape': list(v.shape), 'stride': list(v.stride()), 'dtype': names[v.dtype],
                'file': f}
    json.dump(m, open('%s/%s.json' % (out, tag), 'w'))

describe(torch.jit.load(out + '/scripted.pt').state_dict(), 'scripted')
describe(torch.load(out + '/state_dict.pt'), 'state_dict')
)PY";

TEST(TorchScriptTest, MatchesTorchOnArchivesTorchWrote) {
  const char* python = "/usr/bin/python3";
  if (!std::filesystem::exists(python) ||
      std::system((std::string(python) + " -c 'import torch' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "skipped: " << python << " with torch is needed to write the archives";
  }
  const std::string dir = testing::scratch_dir("torchscript_torch");
  ASSERT_TRUE(write_file_atomic(dir + "/make.py", kTorchScript).is_ok());
  ASSERT_EQ(std::system((std::string(python) + " " + dir + "/make.py " + dir).c_str()), 0);
  const std::pair<const char*, const char*> kArchives[] = {
      {"scripted.pt", "scripted"}, {"state_dict.pt", "state_dict"}, {"deflated.pt", "state_dict"}};
  for (const auto& [file, manifest_name] : kArchives) {
    SCOPED_TRACE(file);
    auto archive = TensorArchive::open(dir + "/" + file);
    ASSERT_TRUE(archive.is_ok()) << archive.status().to_string();
    auto text = read_file(dir + "/" + manifest_name + ".json");
    ASSERT_TRUE(text.is_ok());
    const nlohmann::json manifest = nlohmann::json::parse(*text);
    ASSERT_EQ((*archive)->tensors().size(), manifest.size());
    for (const auto& [name, m] : manifest.items()) {
      SCOPED_TRACE(name);
      const TensorView* v = (*archive)->find(name);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(dtype_name(v->dtype), m["dtype"].get<std::string>());
      EXPECT_EQ(v->shape, m["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(v->strides, m["stride"].get<std::vector<int64_t>>());
      auto want = read_file(m["file"].get<std::string>());
      ASSERT_TRUE(want.is_ok());
      if (v->dtype == DType::kI64) {
        ASSERT_TRUE(v->is_contiguous());
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(v->data.data()), v->data.size()),
                  *want);
        continue;
      }
      std::vector<float> got = as_floats(*v);
      ASSERT_EQ(got.size() * 4, want->size());
      EXPECT_EQ(std::memcmp(got.data(), want->data(), want->size()), 0);
    }
  }
  // The transposed parameter stays a strided view of its storage.
  auto scripted = TensorArchive::open(dir + "/scripted.pt");
  ASSERT_TRUE(scripted.is_ok());
  EXPECT_FALSE((*scripted)->find("t")->is_contiguous());
  EXPECT_EQ((*scripted)->find("blocks.1.lin.weight")->dtype, DType::kF16);
}

TEST(TorchScriptTest, RejectsZipsThatAreNotCheckpoints) {
  const std::string dir = testing::scratch_dir("torchscript_notckpt");
  ASSERT_TRUE(
      write_file_atomic(dir + "/plain.zip", testing::build_zip({{"readme.txt", "hi"}})).is_ok());
  expect_open_error(dir + "/plain.zip", StatusCode::kUnsupported, "without a '<name>/data.pkl'");
  const std::string two =
      testing::build_zip({{"a/data.pkl", pk::pickle("N")}, {"b/data.pkl", pk::pickle("N")}});
  ASSERT_TRUE(write_file_atomic(dir + "/two.zip", two).is_ok());
  expect_open_error(dir + "/two.zip", StatusCode::kCorruption, "two top-level pickles");
  const std::string tensor = pk::pickle(
      pk::ordered_dict({{"t", pk::tensor(pk::storage("FloatStorage", "0", 1), 0, {}, {})}}));
  for (const char* order : {"little", "big"}) {
    const std::string path = dir + "/" + order + ".pt";
    ASSERT_TRUE(write_file_atomic(path, testing::build_zip({{"a/data.pkl", tensor},
                                                            {"a/data/0", floats({1})},
                                                            {"a/byteorder", order}}))
                    .is_ok());
    if (std::string(order) == "little") {
      EXPECT_TRUE(TensorArchive::open(path).is_ok());
    } else {
      expect_open_error(path, StatusCode::kUnsupported, "byte order 'big'");
    }
  }
}

}  // namespace
}  // namespace xrs
