#include "clip/checkpoint/safetensors_writer.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "clip/checkpoint/tensor_archive.h"
#include "core/file_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

TEST(SafetensorsWriterTest, HalfConversionHandExamples) {
  // IEEE 754 binary16 values worked out by hand.
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);  // largest half
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);  // halfway to 65536: ties to even = inf
  EXPECT_EQ(float_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of it: ties to even = 0
  EXPECT_EQ(float_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);             // smallest normal
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, even mantissa: down
  EXPECT_EQ(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, odd: up
  EXPECT_EQ(float_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x7c00, 0x7c00);
  EXPECT_NE(float_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x03ff, 0);
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie: even, down
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie: odd, up
  EXPECT_EQ(float_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
}

TEST(SafetensorsWriterTest, RoundTripsThroughTheReader) {
  SafetensorsWriter w;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 4.0f, 0.1f, -7.0f};
  ASSERT_TRUE(w.add_floats("a.weight", {2, 3}, a).is_ok());
  ASSERT_TRUE(w.add_floats("h", {3}, std::span(a).first(3), DType::kF16).is_ok());
  ASSERT_TRUE(w.add_floats("b", {2}, std::span(a).first(2), DType::kBF16).is_ok());
  const int64_t ids[] = {7, -1};
  ASSERT_TRUE(w.add("ids", DType::kI64, {2}, std::as_bytes(std::span(ids))).is_ok());
  const uint8_t mask[] = {1, 0, 1};
  ASSERT_TRUE(w.add("mask", DType::kU8, {3}, std::as_bytes(std::span(mask))).is_ok());
  const float scalar = 2.5f;
  ASSERT_TRUE(w.add_floats("logit_scale", {}, {&scalar, 1}).is_ok());
  ASSERT_TRUE(w.add_floats("empty", {0, 4}, {}).is_ok());
  w.set_metadata("format", "pt");
  const std::string path = testing::scratch_dir("safetensors_writer") + "/x.safetensors";
  ASSERT_TRUE(w.write(path).is_ok());

  auto archive = TensorArchive::open(path);
  ASSERT_TRUE(archive.is_ok()) << archive.status().to_string();
  EXPECT_EQ((*archive)->tensors().size(), 7u);
  EXPECT_EQ((*archive)->metadata().at("format"), "pt");
  const TensorView* av = (*archive)->find("a.weight");
  ASSERT_NE(av, nullptr);
  EXPECT_EQ(av->dtype, DType::kF32);
  EXPECT_EQ(av->shape, (std::vector<int64_t>{2, 3}));
  // float32 data lands 4-byte aligned (the reader can use it in place).
  EXPECT_EQ(reinterpret_cast<uintptr_t>(av->data.data()) % 4, 0u);
  std::vector<float> out(6);
  ASSERT_TRUE(TensorArchive::to_float(*av, out).is_ok());
  EXPECT_EQ(out, a);
  std::vector<float> three(3);
  ASSERT_TRUE(TensorArchive::to_float(*(*archive)->find("h"), three).is_ok());
  EXPECT_EQ(three, (std::vector<float>{1.5f, -2.0f, 3.25f}));  // exact in half
  std::vector<float> two(2);
  ASSERT_TRUE(TensorArchive::to_float(*(*archive)->find("b"), two).is_ok());
  EXPECT_EQ(two, (std::vector<float>{1.5f, -2.0f}));
  const TensorView* iv = (*archive)->find("ids");
  ASSERT_NE(iv, nullptr);
  EXPECT_EQ(iv->dtype, DType::kI64);
  int64_t back[2];
  std::memcpy(back, iv->data.data(), sizeof back);
  EXPECT_EQ(back[0], 7);
  EXPECT_EQ(back[1], -1);
  const TensorView* sv = (*archive)->find("logit_scale");
  ASSERT_NE(sv, nullptr);
  EXPECT_TRUE(sv->shape.empty());
  float s = 0;
  ASSERT_TRUE(TensorArchive::to_float(*sv, {&s, 1}).is_ok());
  EXPECT_EQ(s, 2.5f);
  EXPECT_EQ((*archive)->find("empty")->shape, (std::vector<int64_t>{0, 4}));
}

TEST(SafetensorsWriterTest, RefusesBadTensors) {
  SafetensorsWriter w;
  const float v[4] = {};
  EXPECT_TRUE(w.add_floats("x", {2, 2}, v).is_ok());
  Status dup = w.add_floats("x", {4}, v);
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.message().find("'x' is added twice"), std::string::npos) << dup.to_string();
  Status size = w.add_floats("y", {3}, v);
  EXPECT_EQ(size.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(size.message().find("16 bytes for 3 F32 elements"), std::string::npos)
      << size.to_string();
  EXPECT_FALSE(w.add_floats("__metadata__", {4}, v).is_ok());
  EXPECT_FALSE(w.add_floats("", {4}, v).is_ok());
  EXPECT_FALSE(w.add_floats("z", {4}, v, DType::kI32).is_ok());
  EXPECT_FALSE(w.add_floats("n", {-4}, v).is_ok());
  EXPECT_EQ(w.size(), 1u);
}

// Python reads what the writer wrote, parsing the format by hand (json + numpy, no safetensors
// package), and numpy's own float16 conversion must give the writer's bits.
constexpr const char* kReadBack = R"PY(
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert n % 8 == 0, 'header not padded to 8 bytes'
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
types = {'F32': np.float32, 'F16': np.float16, 'BF16': np.uint16, 'I64': np.int64}
arrays, end = {}, 0
for name, e in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0] if kv[0] != '__metadata__' else -1):
    if name == '__metadata__':
        continue
    b, f = e['data_offsets']
    assert b == end, 'gap or overlap before ' + name
    end = f
    dt = np.dtype(types[e['dtype']]).newbyteorder('<')
    assert b % dt.itemsize == 0, name + ' is not aligned'
    arrays[name] = np.frombuffer(data[b:f], dtype=dt).reshape(e['shape'])
assert end == len(data), 'trailing bytes'
ref = arrays['values32']
with np.errstate(over='ignore'):  # values past 65504 become inf, as in the writer
    want16 = ref.astype(np.float16)
assert np.array_equal(arrays['values16'].view(np.uint16), want16.view(np.uint16)), 'f16 bits differ from numpy'
# bfloat16 by round-to-nearest-even on the float32 bits, in numpy
u = ref.view(np.uint32).astype(np.uint64)
bf = ((u + 0x7fff + ((u >> 16) & 1)) >> 16).astype(np.uint16)
assert np.array_equal(arrays['valuesbf'], bf), 'bf16 bits differ'
assert arrays['matrix'].shape == (3, 5) and arrays['matrix'][2, 4] == 14.0
assert arrays['ids'].tolist() == [3, -9]
assert header['__metadata__'] == {'format': 'pt', 'producer': 'xray-search'}
print('ok', len(arrays))
)PY";

TEST(SafetensorsWriterTest, PythonReadsTheFileAndAgreesOnHalfRounding) {
  const char* python = "/usr/bin/python3";
  if (std::system((std::string(python) + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "skipped: " << python << " with numpy (python3-numpy) is needed";
  }
  // Values over the whole half range: random magnitudes 2^-30 .. 2^17, both signs, plus edges.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> exp(-30, 17);
  std::vector<float> values;
  for (int i = 0; i < 20000; ++i) {
    float v = std::ldexp(mant(rng), exp(rng));
    values.push_back(i % 2 ? -v : v);
  }
  for (float v : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 6.1e-5f, 5.96e-8f, 2.98e-8f}) {
    values.push_back(v);
  }
  // Exact ties for both roundings.
  for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f801000u, 0x3f803000u}) {
    values.push_back(std::bit_cast<float>(bits));
  }
  SafetensorsWriter w;
  const int64_t n = static_cast<int64_t>(values.size());
  ASSERT_TRUE(w.add_floats("values32", {n}, values).is_ok());
  ASSERT_TRUE(w.add_floats("values16", {n}, values, DType::kF16).is_ok());
  ASSERT_TRUE(w.add_floats("valuesbf", {n}, values, DType::kBF16).is_ok());
  std::vector<float> matrix(15);
  for (int i = 0; i < 15; ++i) matrix[i] = float(i);
  ASSERT_TRUE(w.add_floats("matrix", {3, 5}, matrix, DType::kF16).is_ok());
  const int64_t ids[] = {3, -9};
  ASSERT_TRUE(w.add("ids", DType::kI64, {2}, std::as_bytes(std::span(ids))).is_ok());
  w.set_metadata("format", "pt");
  w.set_metadata("producer", "xray-search");
  const std::string dir = testing::scratch_dir("safetensors_writer_py");
  ASSERT_TRUE(w.write(dir + "/v.safetensors").is_ok());
  ASSERT_TRUE(write_file_atomic(dir + "/read.py", kReadBack).is_ok());
  const std::string cmd = std::string(python) + " " + dir + "/read.py " + dir +
                          "/v.safetensors > " + dir + "/out.txt 2>&1";
  const int rc = std::system(cmd.c_str());
  auto out = read_file(dir + "/out.txt");
  ASSERT_EQ(rc, 0) << (out.is_ok() ? *out : "");
  EXPECT_EQ(*out, "ok 5\n");
}

}  // namespace
}  // namespace xrs
