// Vector search benchmark; prints one JSON document on stdout.
//
//   index_bench [--exact-n 100000] [--dim 512] [--queries 50] [--approx-n 1000000]
//               [--kinds ivf,hnsw,f16,ivf-pq:m=64] [--clusters 1000] [--spread 1.0]
//               [--nlist N] [--nprobe N] [--efforts 8,16,32,64] [--batched 0|1]
//
// exact: ExactIndex::search over exact-n x dim vs one cblas_sgemv over the same matrix (the
//        memory-bandwidth floor), medians over the queries, and their ratio.
// approximate: for each kind, build time, median ms per single query and recall@10 against exact
//        search, over approx-n clustered vectors (a Gaussian mixture on the unit sphere: `clusters`
//        random centres, point = normalise(centre + spread * gaussian / sqrt(dim)), queries drawn
//        from the same mixture). --efforts repeats the queries at each per-query effort
//        (VectorSearchOptions::nprobe for IVF and IVF-PQ, ef_search for HNSW) on the one built
//        index. Kinds are vector index specs (parse_vector_index_spec, e.g. ivf-pq:m=32,nbits=8).
//        Memory per vector: the growth of the process's resident set over the build (the
//        generated float32 data is freed by then) and the size of the saved vectors file.
// --batched 1: the approximate section never holds the approx-n float32 vectors (for 10M x 512,
//        20 GB): each row is generated from its own seed, the ground truth is a streaming exact
//        scan (blocks of rows against all queries, top 10 kept), and each kind is built through
//        build_vector_index_batched (f16 and ivf-pq read batches; other kinds would need every
//        vector). exact_ms_median is then the streaming scan's time per query (generation
//        excluded), not an in-memory search.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "index/vector_index.h"
#include "index/vectors_file.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Resident set size of this process in bytes (Linux), 0 when unknown.
double rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * 4096.0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// splitmix64 + Box-Muller: fast, deterministic normal samples.
struct Gaussian {
  uint64_t state;
  double spare = 0;
  bool has_spare = false;
  explicit Gaussian(uint64_t seed) : state(seed) {}
  double uniform() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (static_cast<double>((z ^ (z >> 31)) >> 11) + 0.5) * 0x1.0p-53;
  }
  float operator()() {
    if (has_spare) {
      has_spare = false;
      return static_cast<float>(spare);
    }
    double r = std::sqrt(-2 * std::log(uniform())), t = 2 * M_PI * uniform();
    spare = r * std::sin(t);
    has_spare = true;
    return static_cast<float>(r * std::cos(t));
  }
};

void normalise(float* v, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += static_cast<double>(v[i]) * v[i];
  const double inv = 1 / std::sqrt(s);
  for (size_t i = 0; i < dim; ++i) v[i] = static_cast<float>(v[i] * inv);
}

struct Mixture {
  size_t dim, clusters;
  float spread;
  std::vector<float> centres;
  Mixture(size_t d, size_t c, float s) : dim(d), clusters(c), spread(s), centres(c * d) {
    Gaussian g(1);
    for (float& v : centres) v = g();
    for (size_t c0 = 0; c0 < c; ++c0) normalise(&centres[c0 * d], d);
  }
  // Fills rows x dim floats at out; the same seed gives the same rows.
  void sample(float* out, size_t rows, uint64_t seed) const {
    Gaussian g(seed);
    const float scale = spread / std::sqrt(static_cast<float>(dim));
    for (size_t r = 0; r < rows; ++r) {
      const float* c = &centres[(static_cast<size_t>(g.uniform() * clusters) % clusters) * dim];
      for (size_t i = 0; i < dim; ++i) out[r * dim + i] = c[i] + scale * g();
      normalise(out + r * dim, dim);
    }
  }
  // Rows begin .. begin + count, each from its own seed (any order, any batching: the same rows).
  void rows(float* out, size_t begin, size_t count, uint64_t seed) const {
    for (size_t r = 0; r < count; ++r) {
      sample(out + r * dim, 1, (seed << 40) ^ (begin + r) * 0x9e3779b97f4a7c15ull);
    }
  }
  xrs::EmbeddingSet set(size_t rows, uint64_t seed) const {
    xrs::EmbeddingSet s;
    s.vectors = xrs::FloatMatrix::allocate(rows, dim).value();
    sample(s.vectors.data(), rows, seed);
    s.ids.resize(rows);
    for (size_t i = 0; i < rows; ++i) s.ids[i] = static_cast<int64_t>(i) + 1;
    return s;
  }
};

std::string exact_section(const Mixture& mix, size_t n, const std::vector<float>& queries,
                          size_t nq) {
  const size_t dim = mix.dim;
  xrs::EmbeddingSet set = mix.set(n, 7);
  xrs::FloatMatrix baseline = xrs::FloatMatrix::allocate(n, dim).value();
  std::memcpy(baseline.data(), set.vectors.data(), n * dim * sizeof(float));
  xrs::VectorIndexOptions options;
  options.kind = xrs::IndexKind::kExact;
  auto index = xrs::build_vector_index(std::move(set), options).value();
  std::vector<float> scores(n);
  std::vector<double> sgemv_ms, search_ms;
  xrs::VectorSearchOptions so;
  so.k = 10;
  // Interleaved, so that both see the same machine load; one warm-up round first.
  for (size_t q = 0; q <= nq; ++q) {
    const float* query = &queries[(q % nq) * dim];
    auto t0 = Clock::now();
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(dim), 1.0f,
                baseline.data(), static_cast<int>(dim), query, 1, 0.0f, scores.data(), 1);
    double a = ms_since(t0);
    t0 = Clock::now();
    auto hits = index->search({query, dim}, so).value();
    double b = ms_since(t0);
    if (q > 0) {
      sgemv_ms.push_back(a);
      search_ms.push_back(b);
    }
  }
  std::ostringstream o;
  o << "{\"n\": " << n << ", \"dim\": " << dim << ", \"queries\": " << nq
    << ", \"sgemv_ms_median\": " << median(sgemv_ms)
    << ", \"search_ms_median\": " << median(search_ms)
    << ", \"ratio\": " << median(search_ms) / median(sgemv_ms) << "}";
  return o.str();
}

// The streaming ground truth of --batched: the k best ids of every query over rows 0..n of
// mix.rows(.., 11), in blocks; the time per query of the scan (generation excluded).
double streamed_truth(const Mixture& mix, size_t n, const std::vector<float>& queries, size_t nq,
                      size_t k, std::vector<std::set<int64_t>>& truth) {
  const size_t dim = mix.dim, block = 65536;
  std::vector<std::vector<std::pair<float, int64_t>>> best(nq);
  std::vector<float> rows(block * dim), scores(block * nq);
  double scan_ms = 0;
  for (size_t begin = 0; begin < n; begin += block) {
    const size_t count = std::min(block, n - begin);
    mix.rows(rows.data(), begin, count, 11);
    auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nq),
                static_cast<int>(count), static_cast<int>(dim), 1.0f, queries.data(),
                static_cast<int>(dim), rows.data(), static_cast<int>(dim), 0.0f, scores.data(),
                static_cast<int>(count));
    for (size_t q = 0; q < nq; ++q) {
      auto& b = best[q];
      for (size_t r = 0; r < count; ++r) {
        const float sc = scores[q * count + r];
        if (b.size() < k || sc > b.front().first) {
          b.emplace_back(sc, static_cast<int64_t>(begin + r) + 1);
          std::sort(b.begin(), b.end(), [](auto& x, auto& y) { return x.first < y.first; });
          if (b.size() > k) b.erase(b.begin());
        }
      }
    }
    scan_ms += ms_since(t0);
  }
  for (size_t q = 0; q < nq; ++q) {
    for (const auto& [sc, id] : best[q]) truth[q].insert(id);
  }
  return scan_ms / static_cast<double>(nq);
}

std::string approximate_section(const Mixture& mix, size_t n, const std::vector<float>& queries,
                                size_t nq, const std::vector<std::string>& kinds,
                                const xrs::IvfParams& ivf, const std::vector<size_t>& efforts,
                                bool batched) {
  const size_t dim = mix.dim;
  const size_t k = 10;
  // Ground truth and the exact baseline at this size; the exact index is freed before the
  // approximate ones are built (the data is regenerated from its seed).
  std::vector<std::set<int64_t>> truth(nq);
  std::vector<double> exact_ms;
  if (batched) {
    exact_ms.push_back(streamed_truth(mix, n, queries, nq, k, truth));
  } else {
    xrs::VectorIndexOptions options;
    options.kind = xrs::IndexKind::kExact;
    auto exact = xrs::build_vector_index(mix.set(n, 11), options).value();
    xrs::VectorSearchOptions so;
    so.k = k;
    for (size_t q = 0; q < nq; ++q) {
      auto t0 = Clock::now();
      auto hits = exact->search({&queries[q * dim], dim}, so).value();
      exact_ms.push_back(ms_since(t0));
      for (const auto& h : hits) truth[q].insert(h.id);
    }
  }
  std::ostringstream o;
  o << "{\"n\": " << n << ", \"dim\": " << dim << ", \"queries\": " << nq
    << ", \"exact_ms_median\": " << median(exact_ms) << ", \"indexes\": [";
  for (size_t i = 0; i < kinds.size(); ++i) {
    auto parsed = xrs::parse_vector_index_spec(kinds[i]);
    if (!parsed.is_ok()) {
      std::fprintf(stderr, "index_bench: %s\n", parsed.status().to_string().c_str());
      std::exit(2);
    }
    xrs::VectorIndexOptions options = *parsed;
    if (options.ivf.nlist == 0) options.ivf.nlist = ivf.nlist;
    if (options.ivf.nprobe == 0) options.ivf.nprobe = ivf.nprobe;
    const double rss0 = rss_bytes();
    auto t0 = Clock::now();
    auto build = [&]() -> xrs::StatusOr<std::unique_ptr<xrs::VectorIndex>> {
      if (batched) {
        return xrs::build_vector_index_batched(
            n, dim,
            [&mix](size_t begin, size_t count, float* vectors, int64_t* ids) {
              mix.rows(vectors, begin, count, 11);
              for (size_t r = 0; r < count; ++r) ids[r] = static_cast<int64_t>(begin + r) + 1;
              return xrs::Status::ok();
            },
            options);
      }
      xrs::EmbeddingSet set = mix.set(n, 11);
      t0 = Clock::now();
      return xrs::build_vector_index(std::move(set), options);
    };
    auto index = build();
    double build_s = ms_since(t0) / 1000;  // --batched: generating the rows included
    if (!index.is_ok()) {
      std::fprintf(stderr, "index_bench: %s\n", index.status().to_string().c_str());
      std::exit(1);
    }
    const double rss_per_vector = (rss_bytes() - rss0) / static_cast<double>(n);
    double file_per_vector = 0;
    if ((*index)->kind() != xrs::IndexKind::kExact) {
      const std::string path = "/tmp/index_bench_" + std::to_string(::getpid()) + ".faiss";
      if (xrs::write_vectors_file(path, **index,
                                  {std::string(32, '0'), 1, static_cast<uint32_t>(dim)})
              .is_ok()) {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (f != nullptr) {
          std::fseek(f, 0, SEEK_END);
          file_per_vector = static_cast<double>(std::ftell(f)) / static_cast<double>(n);
          std::fclose(f);
        }
      }
      std::remove(path.c_str());
    }
    // 0 = the effort the index was built with.
    std::vector<size_t> sweep = efforts.empty() ? std::vector<size_t>{0} : efforts;
    for (size_t e = 0; e < sweep.size(); ++e) {
      xrs::VectorSearchOptions so;
      so.k = k;
      if (sweep[e] != 0) {
        so.nprobe = sweep[e];
        so.ef_search = static_cast<int>(sweep[e]);
      }
      std::vector<double> ms;
      size_t found = 0;
      for (size_t q = 0; q < nq; ++q) {
        auto t1 = Clock::now();
        auto hits = (*index)->search({&queries[q * dim], dim}, so).value();
        ms.push_back(ms_since(t1));
        for (const auto& h : hits) found += truth[q].count(h.id);
      }
      o << (i + e ? ", " : "") << "{\"index\": \"" << (*index)->describe()
        << "\", \"effort\": " << sweep[e] << ", \"build_s\": " << build_s
        << ", \"rss_bytes_per_vector\": " << rss_per_vector
        << ", \"file_bytes_per_vector\": " << file_per_vector
        << ", \"ms_per_query_median\": " << median(ms)
        << ", \"recall_at_10\": " << static_cast<double>(found) / static_cast<double>(nq * k)
        << "}";
    }
  }
  o << "]}";
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  size_t exact_n = 100000, dim = 512, nq = 50, approx_n = 1000000, clusters = 1000;
  bool batched = false;
  float spread = 1.0f;
  xrs::IvfParams ivf;
  std::string kinds_arg = "ivf,hnsw";
  std::vector<size_t> efforts;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--exact-n")
      exact_n = std::stoul(value);
    else if (flag == "--dim")
      dim = std::stoul(value);
    else if (flag == "--queries")
      nq = std::stoul(value);
    else if (flag == "--approx-n")
      approx_n = std::stoul(value);
    else if (flag == "--batched")
      batched = value != "0";
    else if (flag == "--kinds")
      kinds_arg = value;
    else if (flag == "--clusters")
      clusters = std::stoul(value);
    else if (flag == "--spread")
      spread = std::stof(value);
    else if (flag == "--nlist")
      ivf.nlist = std::stoul(value);
    else if (flag == "--nprobe")
      ivf.nprobe = std::stoul(value);
    else if (flag == "--efforts")
      for (std::stringstream ss(value); std::getline(ss, value, ',');) {
        if (!value.empty()) efforts.push_back(std::stoul(value));
      }
    else {
      std::fprintf(stderr, "index_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  // Comma-separated specs; a NAME=VALUE piece continues the spec before it
  // ("ivf-pq:m=32,nbits=8,f16" is two kinds).
  std::vector<std::string> kinds;
  for (std::stringstream ss(kinds_arg); std::getline(ss, kinds_arg, ',');) {
    if (kinds_arg.empty()) continue;
    const bool continues = kinds_arg.find('=') != std::string::npos &&
                           kinds_arg.find(':') == std::string::npos && !kinds.empty();
    if (continues) {
      kinds.back() += "," + kinds_arg;
    } else {
      kinds.push_back(kinds_arg);
    }
  }
  Mixture mix(dim, clusters, spread);
  std::vector<float> queries(nq * dim);
  mix.sample(queries.data(), nq, 99);
  std::string exact = exact_n > 0 ? exact_section(mix, exact_n, queries, nq) : "null";
  std::string approx =
      approx_n > 0 ? approximate_section(mix, approx_n, queries, nq, kinds, ivf, efforts, batched)
                   : "null";
  std::printf(
      "{\"openblas_threads\": %d, \"clusters\": %zu, \"spread\": %g,\n \"exact\": %s,\n"
      " \"approximate\": %s}\n",
      openblas_get_num_threads(), clusters, static_cast<double>(spread), exact.c_str(),
      approx.c_str());
  return 0;
}
