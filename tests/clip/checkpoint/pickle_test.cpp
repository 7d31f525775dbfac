// The restricted unpickler: values from hand-written opcodes and from CPython's own pickler,
// refusal of every global outside the allowlist, malformed input and limits.
#include "clip/checkpoint/pickle.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "checkpoint_builders.h"
#include "core/file_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using pickle::Kind;
using pickle::Value;
namespace pk = testing::pk;
using namespace std::string_literals;

constexpr const char* kPython = "/usr/bin/python3";

StatusOr<pickle::Document> load(const std::string& bytes, const pickle::Limits& limits = {}) {
  return pickle::unpickle(std::as_bytes(std::span(bytes.data(), bytes.size())), limits);
}

const Value* lookup(const Value& dict, std::string_view key) {
  const Value* found = nullptr;
  for (const auto& [k, v] : dict.entries) {
    if (k->kind == Kind::kString && k->text == key) found = v;
  }
  return found;
}

// Expects failure with `code`, a message naming the opcode offset and containing `phrase`.
void expect_error(const std::string& bytes, StatusCode code, const std::string& phrase,
                  const pickle::Limits& limits = {}) {
  auto r = load(bytes, limits);
  ASSERT_FALSE(r.is_ok()) << "accepted: " << phrase;
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(phrase), std::string::npos) << r.status().to_string();
  EXPECT_EQ(r.status().message().rfind("offset ", 0), 0u) << r.status().to_string();
}

TEST(PickleTest, ReadsHandWrittenOpcodes) {
  // {'a': 7, 'b': (-2, 300, 70000, -1 (LONG1), 1.5), 'c': [None, True, False, 'x', 'x'], 'd': {}}
  std::string body = "}q\x00("s;
  body += pk::str("a") + "K\x07";
  body += pk::str("b") + "(J\xfe\xff\xff\xff" + "M\x2c\x01" + "J\x70\x11\x01\x00"s + "\x8a\x01\xff";
  body += std::string("G\x3f\xf8\x00\x00\x00\x00\x00\x00", 9) + "t";
  body += pk::str("c") + "](N\x88\x89" + pk::str("x") + "q\x01h\x01" + "e";
  body += pk::str("d") + pk::ordered_dict({});
  body += "u";
  auto doc = load(pk::pickle(body));
  ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
  const Value& root = doc->root();
  ASSERT_EQ(root.kind, Kind::kDict);
  EXPECT_EQ(lookup(root, "a")->integer, 7);
  const Value* b = lookup(root, "b");
  ASSERT_EQ(b->kind, Kind::kTuple);
  ASSERT_EQ(b->items.size(), 5u);
  EXPECT_EQ(b->items[0]->integer, -2);
  EXPECT_EQ(b->items[1]->integer, 300);
  EXPECT_EQ(b->items[2]->integer, 70000);
  EXPECT_EQ(b->items[3]->integer, -1);
  EXPECT_EQ(b->items[4]->real, 1.5);
  const Value* c = lookup(root, "c");
  ASSERT_EQ(c->kind, Kind::kList);
  ASSERT_EQ(c->items.size(), 5u);
  EXPECT_EQ(c->items[0]->kind, Kind::kNone);
  EXPECT_TRUE(c->items[1]->boolean);
  EXPECT_FALSE(c->items[2]->boolean);
  EXPECT_EQ(c->items[3], c->items[4]) << "memo returns the same value";
  EXPECT_EQ(lookup(root, "d")->kind, Kind::kDict);
}

TEST(PickleTest, ReadsTensorsAndStorages) {
  const std::string pid = pk::storage("HalfStorage", "7", 24);
  const std::string t = pk::tensor(pid, 2, {3, 4}, {1, 5});
  std::string body = pk::ordered_dict(
      {{"w", t},
       {"p", pk::global("torch._utils", "_rebuild_parameter") +
                 pk::tuple({pk::tensor(pk::storage("BFloat16Storage", "k", 1), 0, {}, {}), "\x88",
                            pk::ordered_dict({})}) +
                 "R"}});
  auto doc = load(pk::pickle(body));
  ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
  const Value* w = lookup(doc->root(), "w");
  ASSERT_EQ(w->kind, Kind::kTensor);
  EXPECT_EQ(w->tensor_offset, 2);
  EXPECT_EQ(w->tensor_shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(w->tensor_strides, (std::vector<int64_t>{1, 5}));
  ASSERT_EQ(w->storage->kind, Kind::kStorage);
  EXPECT_EQ(w->storage->storage_dtype, DType::kF16);
  EXPECT_EQ(w->storage->storage_key, "7");
  EXPECT_EQ(w->storage->storage_location, "cpu");
  EXPECT_EQ(w->storage->storage_numel, 24);
  const Value* p = lookup(doc->root(), "p");
  ASSERT_EQ(p->kind, Kind::kTensor) << "_rebuild_parameter yields the tensor it wraps";
  EXPECT_EQ(p->storage->storage_dtype, DType::kBF16);
  EXPECT_TRUE(p->tensor_shape.empty());
}

// CPython's pickler, protocols 2-5 (2 uses GLOBAL and BINPUT; 4 and 5 add FRAME, MEMOIZE,
// SHORT_BINUNICODE and STACK_GLOBAL).
TEST(PickleTest, ReadsWhatCPythonWrites) {
  if (!std::filesystem::exists(kPython)) GTEST_SKIP() << "skipped: " << kPython << " is absent";
  const std::string dir = testing::scratch_dir("pickle_cpython");
  const std::string cmd =
      std::string(kPython) +
      " -c \"import pickle, collections, sys\n"
      "obj = {'ints': [0, 1, 255, 256, 65535, 65536, -1, -129, 2**31 - 1, -2**31, 2**40,"
      " -2**63, 2**63 - 1], 'f': -0.25, 's': 'h\\u00e9llo', 'long': 'x' * 300,"
      " 't': (1, (2, 3), ()), 'b': [True, False, None],"
      " 'od': collections.OrderedDict([('k', 1), ('j', 2)])}\n"
      "for p in (2, 3, 4, 5):\n"
      "    open(sys.argv[1] + '/p%d.pkl' % p, 'wb').write(pickle.dumps(obj, protocol=p))\n\" " +
      dir;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  for (int p : {2, 3, 4, 5}) {
    SCOPED_TRACE("protocol " + std::to_string(p));
    auto bytes = read_file(dir + "/p" + std::to_string(p) + ".pkl");
    ASSERT_TRUE(bytes.is_ok());
    auto doc = load(*bytes);
    ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
    const Value& root = doc->root();
    const std::vector<int64_t> ints = {0,         1,         255,      256,       65535,
                                       65536,     -1,        -129,     INT32_MAX, INT32_MIN,
                                       1LL << 40, INT64_MIN, INT64_MAX};
    const Value* list = lookup(root, "ints");
    ASSERT_EQ(list->items.size(), ints.size());
    for (size_t i = 0; i < ints.size(); ++i) EXPECT_EQ(list->items[i]->integer, ints[i]) << i;
    EXPECT_EQ(lookup(root, "f")->real, -0.25);
    EXPECT_EQ(lookup(root, "s")->text, "h\xc3\xa9llo");
    EXPECT_EQ(lookup(root, "long")->text, std::string(300, 'x'));
    const Value* t = lookup(root, "t");
    ASSERT_EQ(t->items.size(), 3u);
    EXPECT_EQ(t->items[1]->items[1]->integer, 3);
    EXPECT_TRUE(t->items[2]->items.empty());
    const Value* b = lookup(root, "b");
    EXPECT_TRUE(b->items[0]->boolean);
    EXPECT_EQ(b->items[2]->kind, Kind::kNone);
    const Value* od = lookup(root, "od");
    ASSERT_EQ(od->kind, Kind::kDict);
    EXPECT_EQ(lookup(*od, "j")->integer, 2);
  }
}

TEST(PickleTest, RefusesEveryGlobalOutsideTheAllowlist) {
  const std::pair<const char*, const char*> kGlobals[] = {{"os", "system"},
                                                          {"posix", "system"},
                                                          {"nt", "system"},
                                                          {"builtins", "eval"},
                                                          {"builtins", "exec"},
                                                          {"__builtin__", "getattr"},
                                                          {"subprocess", "Popen"},
                                                          {"torch", "load"},
                                                          {"torch._utils", "_rebuild_qtensor"},
                                                          {"collections", "deque"},
                                                          {"torch.jit._pickle", "build_evil"},
                                                          {"torchX", "FloatStorage"}};
  for (const auto& [module, name] : kGlobals) {
    const std::string qualified = std::string(module) + "." + name;
    SCOPED_TRACE(qualified);
    const std::string call = pk::tuple({pk::str("echo never-run")}) + "R";
    // Protocol 2 spelling (GLOBAL) and protocol 4 spelling (STACK_GLOBAL).
    expect_error(pk::pickle(pk::global(module, name) + call), StatusCode::kUnsupported,
                 "global '" + qualified + "' is not allowed");
    expect_error(pk::pickle(pk::str(module) + pk::str(name) + "\x93" + call),
                 StatusCode::kUnsupported, "global '" + qualified + "' is not allowed");
  }
}

// The bytes CPython writes for an object whose __reduce__ asks for os.system: refused before
// anything could be called (this process never runs the command either way).
TEST(PickleTest, RefusesCPythonReducePayloads) {
  if (!std::filesystem::exists(kPython)) GTEST_SKIP() << "skipped: " << kPython << " is absent";
  const std::string dir = testing::scratch_dir("pickle_payload");
  const std::string cmd =
      std::string(kPython) +
      " -c \"import pickle, os, sys, subprocess\n"
      "class A:\n    def __reduce__(self): return (os.system, ('echo never-run',))\n"
      "class B:\n    def __reduce__(self): return (eval, ('1+1',))\n"
      "class C:\n    def __reduce__(self): return (subprocess.Popen, (['true'],))\n"
      "for i, o in enumerate((A(), B(), C())):\n"
      "    for p in (2, 4):\n"
      "        open(sys.argv[1] + '/%d_%d.pkl' % (i, p), 'wb').write(pickle.dumps(o, "
      "protocol=p))\n\" " +
      dir;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  // Protocol 2 spells names the Python 2 way (fix_imports): builtins is __builtin__ and
  // subprocess.Popen is commands.Popen.
  const char* kNames[2][3] = {{"posix.system", "__builtin__.eval", "commands.Popen"},
                              {"posix.system", "builtins.eval", "subprocess.Popen"}};
  for (int i = 0; i < 3; ++i) {
    for (int p : {2, 4}) {
      auto bytes = read_file(dir + "/" + std::to_string(i) + "_" + std::to_string(p) + ".pkl");
      ASSERT_TRUE(bytes.is_ok());
      expect_error(*bytes, StatusCode::kUnsupported,
                   std::string("global '") + kNames[p == 4][i] + "' is not allowed");
    }
  }
}

TEST(PickleTest, RefusesCallsOfAllowedNonCallables) {
  expect_error(pk::pickle(pk::global("__torch__.model", "Net") + ")R"), StatusCode::kUnsupported,
               "calling '__torch__.model.Net'");
  expect_error(pk::pickle(pk::global("torch", "FloatStorage") + pk::int_tuple({4}) + "R"),
               StatusCode::kUnsupported, "calling 'torch.FloatStorage'");
  expect_error(pk::pickle(pk::global("collections", "OrderedDict") + ")\x81"),
               StatusCode::kUnsupported, "only __torch__ classes");
  expect_error(pk::pickle(pk::str("os.system") + ")R"), StatusCode::kCorruption,
               "expects a callable");
}

TEST(PickleTest, RejectsMalformedPickles) {
  struct Case {
    std::string bytes;
    StatusCode code;
    const char* phrase;
  };
  const Case cases[] = {
      {"\x80\x02.", StatusCode::kCorruption, "offset 2 (STOP): stack underflow"},
      {"\x80\x02t.", StatusCode::kCorruption, "no MARK"},
      {"\x80\x02K\x01(R.", StatusCode::kCorruption, "(REDUCE): stack underflow"},
      {"\x80\x02K\x01\xff.", StatusCode::kCorruption, "offset 4 (0xff): unknown opcode"},
      {"\x80\x02\x00."s, StatusCode::kCorruption, "unknown opcode"},
      {"\x80\x02h\x05.", StatusCode::kCorruption, "memo index 5 never stored"},
      {"\x80\x02}(K\x01u.", StatusCode::kCorruption, "odd number of items"},
      {"\x80\x02K\x01K\x02"
       "a.",
       StatusCode::kCorruption, "expects a list"},
      {"\x80\x02K\x01)b.", StatusCode::kCorruption, "cannot set the state of a int"},
      {"\x80\x02K\x05Q.", StatusCode::kCorruption, "persistent id must be"},
      {pk::pickle(pk::tuple({pk::str("storage"), pk::global("torch", "FloatStorage"), pk::str("0"),
                             pk::str("cpu"), "J\xff\xff\xff\xff"}) +
                  "Q"),
       StatusCode::kCorruption, "persistent id must be"},
      {pk::pickle(pk::global("torch._utils", "_rebuild_tensor_v2") +
                  pk::tuple({pk::integer(1), pk::integer(0), "))", "\x89"}) + "R"),
       StatusCode::kCorruption, "_rebuild_tensor_v2 takes 6 or 7 arguments"},
      {pk::pickle(pk::tensor("K\x01", 0, {2}, {1})), StatusCode::kCorruption,
       "expects (storage, int, tuple, tuple"},
      {pk::pickle(pk::tensor(pk::storage("FloatStorage", "0", 4), 0, {2, 2}, {1})),
       StatusCode::kCorruption, "2 sizes and 1 strides"},
      {pk::pickle(pk::tensor(pk::storage("FloatStorage", "0", 4), 0, {2}, {-1})),
       StatusCode::kCorruption, "non-negative"},
      {"\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.", StatusCode::kUnsupported,
       "wider than 64 bits"},
      {"\x80\x02i__main__\nX\n.", StatusCode::kUnsupported, "(INST)"},
      {"\x80\x06N.", StatusCode::kUnsupported, "pickle protocol 6"},
      {"\x80\x02X\xff\xff\xff\x7f", StatusCode::kResourceExhausted, "exceeds the limit"},
      {"\x80\x02X\x10\x00\x00\x00"s + "abc", StatusCode::kCorruption, "truncated"},
      {"\x80\x02"
       "cos\nsys",
       StatusCode::kCorruption, "has no end"},
      {"\x80\x02N", StatusCode::kCorruption, "without a STOP"},
      {"", StatusCode::kCorruption, "without a STOP"},
  };
  for (const Case& c : cases) expect_error(c.bytes, c.code, c.phrase);
}

TEST(PickleTest, EveryPrefixOfAValidPickleFailsCleanly) {
  const std::string full = pk::pickle(
      pk::module("Net", {{"w", pk::tensor(pk::storage("HalfStorage", "0", 6), 0, {2, 3}, {3, 1})},
                         {"sub", pk::module("Sub", {{"training", "\x88"}})}}));
  ASSERT_TRUE(load(full).is_ok()) << load(full).status().to_string();
  for (size_t n = 0; n < full.size(); ++n) {
    auto r = load(full.substr(0, n));
    ASSERT_FALSE(r.is_ok()) << "prefix of " << n << " bytes";
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
  }
}

TEST(PickleTest, EnforcesLimits) {
  expect_error("\x80\x02" + std::string(5000, '('), StatusCode::kResourceExhausted, "nested MARKs");
  pickle::Limits small;
  small.max_values = 100;
  expect_error("\x80\x02" + std::string(200, 'N'), StatusCode::kResourceExhausted,
               "more than 100 values", small);
  small = {};
  small.max_stack = 50;
  expect_error("\x80\x02N" + std::string(60, '2'), StatusCode::kResourceExhausted,
               "stack deeper than 50", small);
  small = {};
  small.max_memo = 3;
  expect_error("\x80\x02Nq\x00q\x01q\x02q\x03."s, StatusCode::kResourceExhausted, "memo larger",
               small);
  small = {};
  small.max_string = 8;
  expect_error(pk::pickle(pk::str("123456789")), StatusCode::kResourceExhausted,
               "exceeds the limit of 8", small);
  small = {};
  small.max_rank = 2;
  expect_error(pk::pickle(pk::tensor(pk::storage("FloatStorage", "0", 1), 0, {1, 1, 1}, {1, 1, 1})),
               StatusCode::kCorruption, "at most 2 dimensions", small);
}

// Nesting without MARKs (lists appended into lists) and self-reference through the memo:
// the machine is iterative and owns every value, so neither recursion nor cycles hurt it.
TEST(PickleTest, DeepAndCyclicStructuresAreSafe) {
  std::string deep = "\x80\x02" + std::string(100000, ']') + std::string(99999, 'a') + ".";
  auto doc = load(deep);
  ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
  EXPECT_EQ(doc->root().items.size(), 1u);
  auto cyclic = load(
      "\x80\x02]q\x00h\x00"
      "a."s);
  ASSERT_TRUE(cyclic.is_ok()) << cyclic.status().to_string();
  EXPECT_EQ(cyclic->root().items[0], &cyclic->root());
}

}  // namespace
}  // namespace xrs
