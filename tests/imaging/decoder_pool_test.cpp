// DecoderPool (imaging/decoder_pool.h): decoding in the xray-search-decoder worker process.
// The worker's test faults (XRS_DECODER_TEST_FAULTS=1, set only for the pools these tests make)
// stand in for a codec that aborts, crashes, exits, hangs or allocates without bound; the real
// file that made GDCM abort is checked too when ../shared/regressions has it.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/file_util.h"
#include "imaging/decode.h"
#include "imaging/decoder_pool.h"
#include "imaging/encode.h"
#include "support/gdcm_regression_dicom.h"
#include "support/phi_dicom.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using namespace std::chrono_literals;

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Image random_image(int w, int h, PixelFormat format, uint32_t seed) {
  Image image;
  image.width = w;
  image.height = h;
  image.format = format;
  image.pixels.resize(size_t(w) * h * channel_count(format));
  std::mt19937 rng(seed);
  for (uint8_t& p : image.pixels) p = static_cast<uint8_t>(rng());
  return image;
}

std::string png_of(int w, int h, PixelFormat format, uint32_t seed) {
  auto png = encode_png(random_image(w, h, format, seed));
  EXPECT_TRUE(png.is_ok()) << png.status().to_string();
  return png.is_ok() ? *png : std::string();
}

// A valid PNG whose trailing bytes (after IEND, ignored by decoders) ask a test-fault worker
// to act out `fault`.
std::string faulty_png(const std::string& fault) {
  return png_of(8, 8, PixelFormat::kL, 7) + "XRS-DECODER-TEST-FAULT:" + fault + ";";
}

DecoderPoolOptions test_options() {
  DecoderPoolOptions o;
  o.max_workers = 2;
  o.timeout = 3s;
  o.memory_limit_mib = 1024;
  o.extra_env = {"XRS_DECODER_TEST_FAULTS=1"};
  return o;
}

void expect_same(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.format, b.format);
  EXPECT_TRUE(a.pixels == b.pixels) << "pixels differ";
}

// The pool's answer after a failure: an ordinary image still decodes, identical to the
// in-process decoder's.
void expect_pool_works(DecoderPool& pool) {
  const std::string png = png_of(31, 17, PixelFormat::kRGB, 3);
  auto pooled = pool.decode(as_bytes(png), {});
  ASSERT_TRUE(pooled.is_ok()) << pooled.status().to_string();
  auto direct = decode_image_in_process(as_bytes(png));
  ASSERT_TRUE(direct.is_ok());
  expect_same(*pooled, *direct);
}

TEST(DecoderPool, DecodesLikeTheInProcessDecoder) {
  DecoderPool pool(test_options());
  const std::string dicom = testing::phi_dicom(96, 80);
  for (const std::string& bytes :
       {png_of(64, 48, PixelFormat::kL, 1), png_of(5, 9, PixelFormat::kRGBA, 2), dicom}) {
    auto pooled = pool.decode(as_bytes(bytes), {});
    auto direct = decode_image_in_process(as_bytes(bytes));
    ASSERT_TRUE(direct.is_ok()) << direct.status().to_string();
    ASSERT_TRUE(pooled.is_ok()) << pooled.status().to_string();
    expect_same(*pooled, *direct);
  }
  // Ordinary decode errors come back with their code and message unchanged.
  const std::string truncated = png_of(64, 48, PixelFormat::kL, 1).substr(0, 60);
  auto pooled = pool.decode(as_bytes(truncated), {});
  auto direct = decode_image_in_process(as_bytes(truncated));
  ASSERT_FALSE(direct.is_ok());
  ASSERT_FALSE(pooled.is_ok());
  EXPECT_EQ(pooled.status().code(), direct.status().code());
  EXPECT_EQ(pooled.status().message(), direct.status().message());
  EXPECT_FALSE(is_decoder_failure(pooled.status()));
  // Options travel: a pixel limit below the image's size is applied in the worker.
  DecodeOptions small;
  small.limits.max_pixels = 100;
  auto limited = pool.decode(as_bytes(png_of(64, 48, PixelFormat::kL, 1)), small);
  ASSERT_FALSE(limited.is_ok());
  EXPECT_EQ(limited.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.workers_started(), 1) << "one worker serves one thread's requests in turn";
}

TEST(DecoderPool, TheDefaultPathGoesThroughTheWorker) {
  const std::string png = png_of(20, 10, PixelFormat::kLA, 4);
  auto pooled = decode_image(as_bytes(png));
  ASSERT_TRUE(pooled.is_ok()) << pooled.status().to_string();
  expect_same(*pooled, *decode_image_in_process(as_bytes(png)));
  EXPECT_GE(default_decoder_pool().workers_started(), 1);
  // Bytes of no known format are refused without a worker, with the in-process message.
  auto text = decode_image(as_bytes(std::string("hello world")));
  ASSERT_FALSE(text.is_ok());
  EXPECT_EQ(text.status().message(),
            decode_image_in_process(as_bytes(std::string("hello world"))).status().message());
}

TEST(DecoderPool, AnAbortIsAnErrorForThatImageOnly) {
  DecoderPool pool(test_options());
  auto r = pool.decode(as_bytes(faulty_png("abort")), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("crashed on this file (SIGABRT"), std::string::npos)
      << r.status().to_string();
  EXPECT_TRUE(is_decoder_failure(r.status()));
  EXPECT_TRUE(pool.worker_pids().empty()) << "the dead worker is reaped";
  expect_pool_works(pool);
  EXPECT_EQ(pool.workers_started(), 2);
}

TEST(DecoderPool, ACrashOrAnExitIsAnError) {
  DecoderPool pool(test_options());
  auto segv = pool.decode(as_bytes(faulty_png("segv")), {});
  ASSERT_FALSE(segv.is_ok());
  EXPECT_NE(segv.status().message().find("crashed on this file (SIG"), std::string::npos)
      << segv.status().to_string();
  auto exited = pool.decode(as_bytes(faulty_png("exit")), {});
  ASSERT_FALSE(exited.is_ok());
  EXPECT_NE(exited.status().message().find("exited with status 3"), std::string::npos)
      << exited.status().to_string();
  expect_pool_works(pool);
}

TEST(DecoderPool, AHangIsStoppedAtTheDeadline) {
  DecoderPoolOptions o = test_options();
  o.timeout = 1s;
  DecoderPool pool(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = pool.decode(as_bytes(faulty_png("hang")), {});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("timed out after 1 s"), std::string::npos)
      << r.status().to_string();
  EXPECT_TRUE(is_decoder_failure(r.status()));
  EXPECT_LT(took, 10s);
  EXPECT_GE(took, 900ms);
  expect_pool_works(pool);
}

TEST(DecoderPool, AMemoryBlowUpHitsTheLimit) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "skipped: under AddressSanitizer the worker runs without RLIMIT_AS";
#endif
  DecoderPoolOptions o = test_options();
  o.memory_limit_mib = 512;
  o.timeout = 20s;
  DecoderPool pool(o);
  auto r = pool.decode(as_bytes(faulty_png("alloc")), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().to_string();
  EXPECT_NE(r.status().message().find("ran out of memory on this file (limit 512 MiB"),
            std::string::npos)
      << r.status().to_string();
  expect_pool_works(pool);
}

TEST(DecoderPool, AWorkerKilledMidDecodeIsReplaced) {
  DecoderPoolOptions o = test_options();
  o.timeout = 30s;
  DecoderPool pool(o);
  StatusOr<Image> hung = Status::internal("not run");
  std::thread t([&] { hung = pool.decode(as_bytes(faulty_png("hang")), {}); });
  std::vector<pid_t> pids;
  for (int i = 0; i < 500 && pids.empty(); ++i) {
    pids = pool.worker_pids();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(pids.size(), 1u);
  std::this_thread::sleep_for(200ms);  // the request is in the worker's hands
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  t.join();
  ASSERT_FALSE(hung.is_ok());
  EXPECT_NE(hung.status().message().find("was killed (SIGKILL)"), std::string::npos)
      << hung.status().to_string();
  expect_pool_works(pool);
  const std::vector<pid_t> now = pool.worker_pids();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], pids[0]) << "a fresh worker";
}

TEST(DecoderPool, ConcurrentDecodesGiveTheInProcessPixels) {
  DecoderPoolOptions o = test_options();
  o.max_workers = 3;
  DecoderPool pool(o);
  std::vector<std::string> inputs;
  for (int i = 0; i < 6; ++i) {
    inputs.push_back(
        png_of(40 + i * 13, 30 + i * 7, i % 2 ? PixelFormat::kRGB : PixelFormat::kL, 100 + i));
    auto jpeg = encode_jpeg(random_image(50 + i, 40, PixelFormat::kRGB, 200 + i), 90);
    ASSERT_TRUE(jpeg.is_ok());
    inputs.push_back(*jpeg);
  }
  inputs.push_back(testing::phi_dicom(64, 64));
  // Real radiographs and photos from the shared fixtures when present.
  const std::filesystem::path images = testing::fixtures_dir() + "/images";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(images, ec)) {
    auto bytes = read_file(entry.path().string());
    if (bytes.is_ok()) inputs.push_back(*bytes);
  }
  // A fault in the mix: the other threads' decodes are not disturbed by it.
  inputs.push_back(faulty_png("abort"));
  std::vector<StatusOr<Image>> expected;
  for (const std::string& in : inputs) expected.push_back(decode_image_in_process(as_bytes(in)));
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          const size_t k = (i + size_t(t) * 5) % inputs.size();
          auto got = pool.decode(as_bytes(inputs[k]), {});
          if (k == inputs.size() - 1) {
            if (got.is_ok() || !is_decoder_failure(got.status())) ++failures;
            continue;
          }
          if (got.is_ok() != expected[k].is_ok()) {
            ++failures;
          } else if (got.is_ok() &&
                     (got->pixels != expected[k]->pixels || got->width != expected[k]->width)) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(pool.worker_pids().size(), 3u);
}

TEST(DecoderPool, TheGdcmAbortRegressionIsContained) {
  const std::string path = testing::gdcm_regression_dicom_file();
  auto bytes = read_file(path);
  ASSERT_TRUE(bytes.is_ok());
  DecoderPool pool(test_options());
  auto r = pool.decode(as_bytes(*bytes), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().code(), StatusCode::kInternal) << r.status().to_string();
  auto again = decode_image_file(path);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().message().rfind(path + ": ", 0), 0u) << again.status().to_string();
  expect_pool_works(pool);
}

TEST(DecoderPool, AMissingWorkerProgramIsAClearError) {
  DecoderPoolOptions o;
  o.worker_path = testing::binary_dir() + "/no-such-decoder";
  DecoderPool pool(o);
  auto r = pool.decode(as_bytes(png_of(4, 4, PixelFormat::kL, 1)), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no-such-decoder"), std::string::npos);
}

}  // namespace
}  // namespace xrs
