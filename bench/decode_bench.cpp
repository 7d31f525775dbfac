// The cost of containing the codecs (docs/IMAGING.md, "Containing the codecs"): decodes every
// image under a folder in this process (decode_image_in_process) and through a DecoderPool with
// one worker (what decode_image does), alternating per round, and prints one JSON document:
// per-image wall time and CPU time (this process + the worker, read from /proc/<pid>/stat), for
// each way. CPU time is the figure that matters for indexing (decoding runs on a producer thread
// beside inference) and is far less sensitive to other load on the machine than wall time.
//
// usage: decode_bench DIR [--rounds N]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "imaging/decode.h"
#include "imaging/decoder_pool.h"

namespace {

double self_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a live process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks).
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0.0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0.0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double workers_cpu_seconds(const xrs::DecoderPool& pool) {
  double total = 0.0;
  for (pid_t pid : pool.worker_pids()) total += process_cpu_seconds(pid);
  return total;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: decode_bench DIR [--rounds N]\n");
    return 2;
  }
  int rounds = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  std::vector<std::vector<uint8_t>> files;
  uint64_t bytes_total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[1])) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    if (xrs::sniff_image_type(bytes) == xrs::ImageFileType::kUnknown) continue;
    bytes_total += bytes.size();
    files.push_back(std::move(bytes));
  }
  if (files.empty()) {
    std::fprintf(stderr, "decode_bench: no images under %s\n", argv[1]);
    return 1;
  }
  xrs::DecoderPoolOptions options = xrs::DecoderPoolOptions::from_environment();
  options.max_workers = 1;
  xrs::DecoderPool pool(options);
  // Start the worker before timing (the first request spawns it).
  if (auto warm = pool.decode(files.front(), {}); !warm.is_ok()) {
    std::fprintf(stderr, "decode_bench: %s\n", warm.status().message().c_str());
    return 1;
  }
  const double n = static_cast<double>(files.size());
  std::printf("{\"images\": %zu, \"bytes\": %llu, \"rounds\": [", files.size(),
              static_cast<unsigned long long>(bytes_total));
  uint64_t pixels = 0;
  for (int round = 0; round < rounds; ++round) {
    double wall0 = now_seconds(), cpu0 = self_cpu_seconds();
    int failed_in = 0, failed_pool = 0;
    pixels = 0;
    for (const auto& file : files) {
      auto image = xrs::decode_image_in_process(file, {});
      if (!image.is_ok()) {
        ++failed_in;
        continue;
      }
      pixels += static_cast<uint64_t>(image->width) * image->height * image->channels();
    }
    const double in_wall = now_seconds() - wall0, in_cpu = self_cpu_seconds() - cpu0;
    wall0 = now_seconds();
    cpu0 = self_cpu_seconds();
    const double worker0 = workers_cpu_seconds(pool);
    for (const auto& file : files) {
      if (!pool.decode(file, {}).is_ok()) ++failed_pool;
    }
    const double pool_wall = now_seconds() - wall0;
    const double pool_cpu = self_cpu_seconds() - cpu0 + workers_cpu_seconds(pool) - worker0;
    std::printf(
        "%s{\"in_process_ms_per_image\": {\"wall\": %.3f, \"cpu\": %.3f}, "
        "\"worker_ms_per_image\": {\"wall\": %.3f, \"cpu\": %.3f}, \"failed\": [%d, %d], "
        "\"load1\": %.2f}",
        round ? ", " : "", 1e3 * in_wall / n, 1e3 * in_cpu / n, 1e3 * pool_wall / n,
        1e3 * pool_cpu / n, failed_in, failed_pool, [] {
          double load[1] = {0};
          getloadavg(load, 1);
          return load[0];
        }());
  }
  std::printf("], \"decoded_megapixels_per_round\": %.1f}\n", static_cast<double>(pixels) / 1e6);
  return 0;
}
