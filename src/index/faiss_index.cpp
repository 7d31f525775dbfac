// FAISS HNSW / IVF behind the VectorIndex interface. FAISS labels are row numbers (0..N-1); the
// VectorIndex base maps rows to image ids.
#include "index/faiss_index.h"

#include <cblas.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <typeinfo>

#include "index/exact_scan.h"
#include "kernels/gemm.h"
#include "kernels/vector_ops.h"

namespace xrs::index_internal {

namespace {

using faiss_idx_t = faiss::Index::idx_t;

// A filtered approximate search that may return only a fraction f of the rows needs about 1/f
// times the usual effort (beam width, lists probed) to find k allowed neighbours. Below this
// fraction an exact scan of the stored vectors is both cheaper and exact.
constexpr double kMinApproximateFraction = 1.0 / 32;
constexpr int kMaxEfSearch = 4096;
// k-means for IVF: 10 iterations over at most 256 points per list (FAISS's own default sample;
// 64 per list lost a fifth of the recall on noisy clustered data with 1000 lists) and at most
// 262,144 points in all, which bounds training at ~1.1e12 flops per iteration whatever nlist is
// (4000 lists train on 65 points each). Spherical centroids for the inner-product metric.
constexpr int kIvfTrainIterations = 10;
constexpr int kIvfTrainPointsPerList = 256;
constexpr size_t kIvfMaxTrainPoints = 262144;
constexpr int kIvfSeed = 1234;

struct RowSelector final : faiss::IDSelector {
  RowFilter filter;
  explicit RowSelector(RowFilter f) : filter(f) {}
  bool is_member(faiss_idx_t row) const override { return filter(static_cast<size_t>(row)); }
};

// Reads FAISS's serialisation from memory without copying it first.
struct SpanReader final : faiss::IOReader {
  std::span<const std::byte> data;
  size_t pos = 0;
  explicit SpanReader(std::span<const std::byte> d) : data(d) { name = "vectors payload"; }
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0) return 0;
    size_t n = std::min(nitems, (data.size() - pos) / size);
    if (n > 0) std::memcpy(ptr, data.data() + pos, n * size);
    pos += n * size;
    return n;
  }
};

// About 4 sqrt(N) lists (FAISS's guidance for 1M vectors is 4-16 sqrt(N)): at 1,000,000 that is
// 4000 lists of ~250 vectors, so probing 31 of them reads ~8,000 vectors (16 MB) per query.
size_t default_nlist(size_t rows) {
  size_t by_sqrt = static_cast<size_t>(std::lround(4 * std::sqrt(static_cast<double>(rows))));
  return std::max<size_t>(1, std::min(by_sqrt, rows / 39));
}

// Every FAISS-backed kind: what append_faiss_index serialises.
class FaissBackedIndex : public VectorIndex {
 public:
  virtual const faiss::Index& faiss_index() const = 0;

 protected:
  using VectorIndex::VectorIndex;
};

// The `nprobe` lists of an IVF index whose centroids score highest against `query` (all lists
// when nprobe >= nlist), with those scores: one cblas_sgemv over the flat quantizer's centroids
// (Debian's FAISS scores them with scalar code, 3-4x slower).
void best_lists(const faiss::IndexIVF& ivf, const float* query, size_t nprobe,
                std::vector<size_t>& lists, std::vector<float>& scores) {
  const auto* quantizer = static_cast<const faiss::IndexFlat*>(ivf.quantizer);
  const int d = static_cast<int>(ivf.d);
  lists.resize(ivf.nlist);
  for (size_t l = 0; l < ivf.nlist; ++l) lists[l] = l;
  scores.resize(ivf.nlist);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(ivf.nlist), d, 1.0f,
              quantizer->get_xb(), d, query, 1, 0.0f, scores.data(), 1);
  if (nprobe >= ivf.nlist) return;
  std::nth_element(lists.begin(), lists.begin() + static_cast<std::ptrdiff_t>(nprobe), lists.end(),
                   [&](size_t a, size_t b) {
                     return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
                   });
  lists.resize(nprobe);
}

class FaissIndex final : public FaissBackedIndex {
 public:
  FaissIndex(IndexKind kind, std::vector<int64_t> ids, size_t dim,
             std::unique_ptr<faiss::Index> index, const VectorIndexOptions& options)
      : FaissBackedIndex(std::move(ids), dim), kind_(kind), index_(std::move(index)) {
    if (kind_ == IndexKind::kHnsw) {
      ef_search_ = std::max(1, options.hnsw.ef_search);
    } else {
      auto* ivf = static_cast<faiss::IndexIVFFlat*>(index_.get());
      size_t nprobe =
          options.ivf.nprobe != 0 ? options.ivf.nprobe : std::max<size_t>(8, ivf->nlist / 128);
      nprobe_ = std::min(nprobe, ivf->nlist);
    }
  }

  IndexKind kind() const override { return kind_; }
  std::string describe() const override {
    if (kind_ == IndexKind::kHnsw) {
      const auto& hnsw = static_cast<const faiss::IndexHNSWFlat&>(*index_);
      return "hnsw M=" + std::to_string(hnsw.hnsw.nb_neighbors(1)) +
             " efConstruction=" + std::to_string(hnsw.hnsw.efConstruction) +
             " efSearch=" + std::to_string(ef_search_);
    }
    return "ivf nlist=" + std::to_string(static_cast<const faiss::IndexIVFFlat&>(*index_).nlist) +
           " nprobe=" + std::to_string(nprobe_);
  }
  const faiss::Index& faiss_index() const override { return *index_; }

 private:
  Status do_search(const float* queries, size_t nq, const VectorSearchOptions& options,
                   std::optional<size_t> exclude_row,
                   std::vector<std::vector<Hit>>& out) const override;
  Status do_copy_vector(size_t row, float* out) const override;
  // The exact answer for one query from the vectors FAISS stores.
  void exact_fallback(const float* query, const VectorSearchOptions& options,
                      std::optional<size_t> exclude_row, std::vector<std::vector<Hit>>& out) const;
  // IVF: the `nprobe` lists whose centroids score highest against `query`.
  std::vector<size_t> nearest_lists(const float* query, size_t nprobe) const;
  // IVF: scores the rows of `lists` with sgemv, one list at a time, into `top`.
  void scan_lists(const float* query, const std::vector<size_t>& lists, const RowFilter& filter,
                  TopK& top) const;
  // IVF search of one query: the allowed rows of the `nprobe` nearest lists.
  void search_ivf(const float* query, size_t nprobe, const VectorSearchOptions& options,
                  std::optional<size_t> exclude_row, size_t allowed,
                  std::vector<std::vector<Hit>>& out) const;

  IndexKind kind_;
  std::unique_ptr<faiss::Index> index_;
  int ef_search_ = 0;
  size_t nprobe_ = 0;
};

Status FaissIndex::do_search(const float* queries, size_t nq, const VectorSearchOptions& options,
                             std::optional<size_t> exclude_row,
                             std::vector<std::vector<Hit>>& out) const {
  const RowFilter filter = make_row_filter(options, exclude_row);
  const bool filtered = options.allow != nullptr || exclude_row.has_value();
  size_t allowed = options.allow != nullptr ? options.allow->count() : size();
  if (exclude_row && (options.allow == nullptr || options.allow->test(*exclude_row))) --allowed;
  const double fraction = static_cast<double>(allowed) / static_cast<double>(size());
  if (allowed == 0) {
    out.resize(out.size() + nq);
    return Status::ok();
  }
  if (filtered && fraction < kMinApproximateFraction) {
    for (size_t q = 0; q < nq; ++q) exact_fallback(queries + q * dim(), options, exclude_row, out);
    return Status::ok();
  }

  if (kind_ == IndexKind::kIvf) {
    const size_t nlist = static_cast<const faiss::IndexIVFFlat&>(*index_).nlist;
    const size_t nprobe = std::max<size_t>(1, options.nprobe.value_or(nprobe_));
    const size_t widened =
        std::min(nlist, static_cast<size_t>(std::ceil(static_cast<double>(nprobe) / fraction)));
    for (size_t q = 0; q < nq; ++q) {
      search_ivf(queries + q * dim(), widened, options, exclude_row, allowed, out);
    }
    return Status::ok();
  }

  const size_t k = std::min(options.k, size());
  RowSelector selector(filter);
  faiss::SearchParametersHNSW hnsw_params;
  const int ef_search = std::max(1, options.ef_search.value_or(ef_search_));
  double ef = std::max<double>(static_cast<double>(k), ef_search / fraction);
  hnsw_params.efSearch = static_cast<int>(std::min<double>(ef, kMaxEfSearch));
  hnsw_params.sel = filtered ? &selector : nullptr;
  faiss::SearchParameters* params = &hnsw_params;
  std::vector<float> scores(nq * k);
  std::vector<faiss_idx_t> labels(nq * k);
  try {
    index_->search(static_cast<faiss_idx_t>(nq), queries, static_cast<faiss_idx_t>(k),
                   scores.data(), labels.data(), params);
  } catch (const std::exception& e) {
    return Status::internal(std::string("FAISS search failed: ") + e.what());
  }
  for (size_t q = 0; q < nq; ++q) {
    std::vector<Hit> hits;
    size_t found = 0;
    for (size_t j = q * k; j < (q + 1) * k; ++j) {
      if (labels[j] < 0) continue;
      ++found;
      if (scores[j] >= options.min_score) hits.push_back({ids()[labels[j]], scores[j]});
    }
    // The approximate search can miss allowed rows (a filtered graph walk, sparse lists); when it
    // returns fewer hits than exist, the exact scan answers instead.
    if (found < std::min(k, allowed)) {
      exact_fallback(queries + q * dim(), options, exclude_row, out);
      continue;
    }
    std::sort(hits.begin(), hits.end(), better);
    out.push_back(std::move(hits));
  }
  return Status::ok();
}

void FaissIndex::exact_fallback(const float* query, const VectorSearchOptions& options,
                                std::optional<size_t> exclude_row,
                                std::vector<std::vector<Hit>>& out) const {
  if (kind_ == IndexKind::kHnsw) {
    const auto& hnsw = static_cast<const faiss::IndexHNSWFlat&>(*index_);
    const float* xb = static_cast<const faiss::IndexFlat*>(hnsw.storage)->get_xb();
    exact_search(xb, size(), dim(), ids().data(), query, 1, options, exclude_row, out);
    return;
  }
  // IVF stores vectors list by list: every list, scored with sgemv, into one top-k.
  const size_t nlist = static_cast<const faiss::IndexIVFFlat&>(*index_).nlist;
  std::vector<size_t> lists(nlist);
  for (size_t l = 0; l < nlist; ++l) lists[l] = l;
  TopK top(options.k, options.min_score);
  scan_lists(query, lists, make_row_filter(options, exclude_row), top);
  out.push_back(top.take_sorted());
}

std::vector<size_t> FaissIndex::nearest_lists(const float* query, size_t nprobe) const {
  std::vector<size_t> lists;
  std::vector<float> scores;
  best_lists(static_cast<const faiss::IndexIVF&>(*index_), query, nprobe, lists, scores);
  return lists;
}

void FaissIndex::scan_lists(const float* query, const std::vector<size_t>& lists,
                            const RowFilter& filter, TopK& top) const {
  const auto& ivf = static_cast<const faiss::IndexIVFFlat&>(*index_);
  const int d = static_cast<int>(dim());
  std::vector<float> scores;
  for (size_t list : lists) {
    const size_t n = ivf.invlists->list_size(list);
    if (n == 0) continue;
    faiss::InvertedLists::ScopedCodes codes(ivf.invlists, list);
    faiss::InvertedLists::ScopedIds rows(ivf.invlists, list);
    scores.resize(n);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), d, 1.0f,
                reinterpret_cast<const float*>(codes.get()), d, query, 1, 0.0f, scores.data(), 1);
    const faiss_idx_t* row_ids = rows.get();
    top.scan(
        scores.data(), n, [row_ids](size_t i) { return static_cast<size_t>(row_ids[i]); },
        ids().data(), filter);
  }
}

void FaissIndex::search_ivf(const float* query, size_t nprobe, const VectorSearchOptions& options,
                            std::optional<size_t> exclude_row, size_t allowed,
                            std::vector<std::vector<Hit>>& out) const {
  // Keep the k best allowed rows whatever their score, to tell "the lists held too few allowed
  // rows" (answered by the exact scan instead) from "too few scored above min_score".
  const size_t k = std::min(options.k, size());
  TopK top(k, -std::numeric_limits<float>::infinity());
  scan_lists(query, nearest_lists(query, nprobe), make_row_filter(options, exclude_row), top);
  std::vector<Hit> hits = top.take_sorted();
  if (hits.size() < std::min(k, allowed)) {
    exact_fallback(query, options, exclude_row, out);
    return;
  }
  std::erase_if(hits, [&](const Hit& h) { return !(h.score >= options.min_score); });
  out.push_back(std::move(hits));
}

Status FaissIndex::do_copy_vector(size_t row, float* out) const {
  try {
    index_->reconstruct(static_cast<faiss_idx_t>(row), out);
  } catch (const std::exception& e) {
    return Status::internal(std::string("FAISS reconstruct failed: ") + e.what());
  }
  return Status::ok();
}

// kIvfPq: FAISS IndexIVFPQ. The engine picks the lists (best_lists, one sgemv over the
// centroids) and FAISS scans their PQ codes (search_preassigned), with the filter as an
// IDSelector over row numbers. Scores are FAISS's estimates from the codes (centroid score plus
// the product-quantized residual's), not exact inner products.
class IvfPqIndex final : public FaissBackedIndex {
 public:
  IvfPqIndex(std::vector<int64_t> ids, size_t dim, std::unique_ptr<faiss::IndexIVFPQ> index,
             const VectorIndexOptions& options)
      : FaissBackedIndex(std::move(ids), dim), index_(std::move(index)) {
    size_t nprobe =
        options.ivf.nprobe != 0 ? options.ivf.nprobe : std::max<size_t>(8, index_->nlist / 128);
    nprobe_ = std::min(nprobe, index_->nlist);
  }

  IndexKind kind() const override { return IndexKind::kIvfPq; }
  std::string describe() const override {
    return "ivf-pq nlist=" + std::to_string(index_->nlist) + " nprobe=" + std::to_string(nprobe_) +
           " m=" + std::to_string(index_->pq.M) + " nbits=" + std::to_string(index_->pq.nbits);
  }
  const faiss::Index& faiss_index() const override { return *index_; }

 private:
  Status do_search(const float* queries, size_t nq, const VectorSearchOptions& options,
                   std::optional<size_t> exclude_row,
                   std::vector<std::vector<Hit>>& out) const override {
    const bool filtered = options.allow != nullptr || exclude_row.has_value();
    size_t allowed = options.allow != nullptr ? options.allow->count() : size();
    if (exclude_row && (options.allow == nullptr || options.allow->test(*exclude_row))) --allowed;
    if (allowed == 0) {
      out.resize(out.size() + nq);
      return Status::ok();
    }
    const double fraction = static_cast<double>(allowed) / static_cast<double>(size());
    const size_t nlist = index_->nlist;
    size_t nprobe = std::max<size_t>(1, options.nprobe.value_or(nprobe_));
    nprobe =
        std::min(nlist, static_cast<size_t>(std::ceil(static_cast<double>(nprobe) / fraction)));
    // Very selective filters scan every list (every code): the ranking of the allowed rows by
    // their PQ scores, as complete as the codes allow.
    if (filtered && fraction < kMinApproximateFraction) nprobe = nlist;
    RowSelector selector(make_row_filter(options, exclude_row));
    const size_t k = std::min(options.k, size());
    for (size_t q = 0; q < nq; ++q) {
      std::vector<Hit> hits;
      XRS_RETURN_IF_ERROR(search_one(queries + q * dim(), k, std::min(k, allowed), nprobe,
                                     filtered ? &selector : nullptr, options.min_score, hits));
      out.push_back(std::move(hits));
    }
    return Status::ok();
  }

  // Lists visited until at least `need` (allowed) rows were seen: from `nprobe`, all lists when
  // the nearest ones held too few.
  Status search_one(const float* query, size_t k, size_t need, size_t nprobe,
                    const RowSelector* selector, float min_score, std::vector<Hit>& hits) const {
    std::vector<size_t> lists;
    std::vector<float> list_scores;
    std::vector<float> scores(k);
    std::vector<faiss_idx_t> labels(k);
    for (;;) {
      best_lists(*index_, query, nprobe, lists, list_scores);
      std::vector<faiss_idx_t> assign(lists.size());
      std::vector<float> coarse(lists.size());
      for (size_t i = 0; i < lists.size(); ++i) {
        assign[i] = static_cast<faiss_idx_t>(lists[i]);
        coarse[i] = list_scores[lists[i]];
      }
      faiss::SearchParametersIVF params;
      params.nprobe = lists.size();
      params.sel = const_cast<RowSelector*>(selector);
      try {
        index_->search_preassigned(1, query, static_cast<faiss_idx_t>(k), assign.data(),
                                   coarse.data(), scores.data(), labels.data(), false, &params);
      } catch (const std::exception& e) {
        return Status::internal(std::string("FAISS search failed: ") + e.what());
      }
      size_t found = 0;
      for (faiss_idx_t l : labels) found += l >= 0;
      if (found >= need || lists.size() >= index_->nlist) break;
      nprobe = index_->nlist;
    }
    for (size_t j = 0; j < k; ++j) {
      if (labels[j] >= 0 && scores[j] >= min_score) {
        hits.push_back({ids()[static_cast<size_t>(labels[j])], scores[j]});
      }
    }
    std::sort(hits.begin(), hits.end(), better);
    return Status::ok();
  }

  Status do_copy_vector(size_t row, float* out) const override {
    try {
      index_->reconstruct(static_cast<faiss_idx_t>(row), out);
    } catch (const std::exception& e) {
      return Status::internal(std::string("FAISS reconstruct failed: ") + e.what());
    }
    return Status::ok();
  }

  std::unique_ptr<faiss::IndexIVFPQ> index_;
  size_t nprobe_ = 0;
};

// kF16: FAISS IndexScalarQuantizer(QT_fp16) holds the codes (dim IEEE halves per row, row
// order) and serialises them; the engine scans them itself (F16C + FMA where the CPU has them,
// kernels/vector_ops.h) into the same top-k pass as exact search, so every query ranks every
// allowed row.
class F16Index final : public FaissBackedIndex {
 public:
  F16Index(std::vector<int64_t> ids, size_t dim, std::unique_ptr<faiss::IndexScalarQuantizer> index)
      : FaissBackedIndex(std::move(ids), dim), index_(std::move(index)) {}

  IndexKind kind() const override { return IndexKind::kF16; }
  std::string describe() const override { return "f16"; }
  const faiss::Index& faiss_index() const override { return *index_; }

 private:
  const uint16_t* row_codes(size_t row) const {
    return reinterpret_cast<const uint16_t*>(index_->codes.data()) + row * dim();
  }

  Status do_search(const float* queries, size_t nq, const VectorSearchOptions& options,
                   std::optional<size_t> exclude_row,
                   std::vector<std::vector<Hit>>& out) const override {
    const RowFilter filter = make_row_filter(options, exclude_row);
    std::vector<TopK> tops(nq, TopK(options.k, options.min_score));
    // Blocks of rows small enough to stay in cache while every query scores them.
    constexpr size_t kBlock = 2048;
    std::vector<float> scores(kBlock);
    const auto dot_f16 = kernels::vector_kernels().dot_f16;  // F16C + FMA where the CPU has them
    for (size_t r0 = 0; r0 < size(); r0 += kBlock) {
      const size_t n = std::min(kBlock, size() - r0);
      for (size_t q = 0; q < nq; ++q) {
        const float* query = queries + q * dim();
        for (size_t i = 0; i < n; ++i) scores[i] = dot_f16(query, row_codes(r0 + i), dim());
        tops[q].scan(
            scores.data(), n, [r0](size_t i) { return r0 + i; }, ids().data(), filter);
      }
    }
    for (TopK& top : tops) out.push_back(top.take_sorted());
    return Status::ok();
  }

  Status do_copy_vector(size_t row, float* out) const override {
    const uint16_t* h = row_codes(row);
    for (size_t i = 0; i < dim(); ++i) out[i] = kernels::from_f16(h[i]);
    return Status::ok();
  }

  std::unique_ptr<faiss::IndexScalarQuantizer> index_;
};

// Checks what read_index returned: the expected class, metric, dimension and row count.
Status check_loaded(IndexKind kind, const faiss::Index& index, size_t rows, size_t dim) {
  bool type_ok = false;
  if (kind == IndexKind::kIvfPq) {
    auto* ivf = typeid(index) == typeid(faiss::IndexIVFPQ)
                    ? static_cast<const faiss::IndexIVFPQ*>(&index)
                    : nullptr;
    auto* quantizer =
        ivf != nullptr ? dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer) : nullptr;
    type_ok = quantizer != nullptr && quantizer->d == index.d &&
              static_cast<size_t>(quantizer->ntotal) == ivf->nlist && ivf->invlists != nullptr &&
              ivf->code_size == ivf->pq.code_size && ivf->pq.d == static_cast<size_t>(index.d);
  } else if (kind == IndexKind::kF16) {
    auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(&index);
    type_ok = sq != nullptr && sq->sq.qtype == faiss::ScalarQuantizer::QT_fp16 &&
              sq->code_size == 2 * static_cast<size_t>(index.d) &&
              sq->codes.size() == sq->code_size * static_cast<size_t>(index.ntotal);
  } else if (kind == IndexKind::kHnsw) {
    auto* hnsw = dynamic_cast<const faiss::IndexHNSWFlat*>(&index);
    type_ok = hnsw != nullptr && dynamic_cast<const faiss::IndexFlat*>(hnsw->storage) != nullptr;
  } else {
    // The search scores the centroids itself: the quantizer must be a flat (stored) index
    // holding one centroid per list.
    auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(&index);
    auto* quantizer =
        ivf != nullptr ? dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer) : nullptr;
    type_ok = quantizer != nullptr && quantizer->d == index.d &&
              static_cast<size_t>(quantizer->ntotal) == ivf->nlist && ivf->invlists != nullptr &&
              ivf->code_size == sizeof(float) * static_cast<size_t>(index.d);
  }
  if (!type_ok) {
    return Status::corruption("vectors payload is not a FAISS " +
                              std::string(index_kind_name(kind)) + " index");
  }
  if (index.metric_type != faiss::METRIC_INNER_PRODUCT || static_cast<size_t>(index.d) != dim ||
      static_cast<size_t>(index.ntotal) != rows) {
    return Status::corruption("vectors payload: FAISS index has dim " + std::to_string(index.d) +
                              " and " + std::to_string(index.ntotal) + " vectors, expected " +
                              std::to_string(dim) + " and " + std::to_string(rows) +
                              " (inner product)");
  }
  return Status::ok();
}

// The Status of an exception thrown while building a `kind` index of `rows` vectors.
Status build_failure(IndexKind kind, size_t rows, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    return Status::resource_exhausted("out of memory building the " +
                                      std::string(index_kind_name(kind)) + " index of " +
                                      std::to_string(rows) + " vectors");
  } catch (const std::exception& x) {
    return Status::internal("FAISS failed to build the " + std::string(index_kind_name(kind)) +
                            " index: " + x.what());
  } catch (...) {
    return Status::internal("FAISS failed to build the " + std::string(index_kind_name(kind)) +
                            " index");
  }
}

// An untrained IVF-PQ index for `rows` vectors of `dim` with the project's training settings.
std::unique_ptr<faiss::IndexIVFPQ> make_ivf_pq(size_t rows, size_t dim,
                                               const VectorIndexOptions& options) {
  const int d = static_cast<int>(dim);
  size_t nlist = options.ivf.nlist != 0 ? std::min(options.ivf.nlist, rows) : default_nlist(rows);
  const size_t m = options.pq.m != 0 ? options.pq.m : std::max<size_t>(1, dim / 8);
  auto quantizer = std::make_unique<faiss::IndexFlatIP>(d);
  auto ivf = std::make_unique<faiss::IndexIVFPQ>(quantizer.get(), d, nlist, m, options.pq.nbits,
                                                 faiss::METRIC_INNER_PRODUCT);
  quantizer.release();  // owned by ivf from here on
  ivf->own_fields = true;
  ivf->cp.spherical = true;
  ivf->cp.niter = kIvfTrainIterations;
  ivf->cp.max_points_per_centroid =
      static_cast<int>(std::clamp<size_t>(kIvfMaxTrainPoints / nlist, 39, kIvfTrainPointsPerList));
  ivf->cp.min_points_per_centroid = 1;
  ivf->cp.seed = kIvfSeed;
  // Codebooks: FAISS's k-means on at most 64 points per code (16,384 for 8 bits), 10
  // iterations, the same seed; their training sample is the IVF one above.
  ivf->pq.cp.niter = kIvfTrainIterations;
  ivf->pq.cp.max_points_per_centroid = 64;
  ivf->pq.cp.min_points_per_centroid = 1;
  ivf->pq.cp.seed = kIvfSeed;
  ivf->do_polysemous_training = false;
  return ivf;
}

}  // namespace

StatusOr<std::unique_ptr<VectorIndex>> build_faiss_index(IndexKind kind, EmbeddingSet set,
                                                         const VectorIndexOptions& options) {
  const size_t rows = set.ids.size();
  const size_t dim = set.vectors.cols();
  const auto n = static_cast<faiss_idx_t>(rows);
  const int d = static_cast<int>(dim);
  try {
    if (kind == IndexKind::kF16) {
      auto sq = std::make_unique<faiss::IndexScalarQuantizer>(d, faiss::ScalarQuantizer::QT_fp16,
                                                              faiss::METRIC_INNER_PRODUCT);
      sq->add(n, set.vectors.data());
      set.vectors = FloatMatrix();
      return std::unique_ptr<VectorIndex>(new F16Index(std::move(set.ids), dim, std::move(sq)));
    }
    if (kind == IndexKind::kIvfPq) {
      std::unique_ptr<faiss::IndexIVFPQ> ivf = make_ivf_pq(rows, dim, options);
      ivf->train(n, set.vectors.data());
      ivf->add(n, set.vectors.data());
      set.vectors = FloatMatrix();
      ivf->make_direct_map(true);  // for copy_vector (reconstruct by row)
      return std::unique_ptr<VectorIndex>(
          new IvfPqIndex(std::move(set.ids), dim, std::move(ivf), options));
    }
    std::unique_ptr<faiss::Index> index;
    if (kind == IndexKind::kHnsw) {
      auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(d, std::max(2, options.hnsw.m),
                                                         faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = std::max(1, options.hnsw.ef_construction);
      hnsw->hnsw.efSearch = std::max(1, options.hnsw.ef_search);
      hnsw->add(n, set.vectors.data());
      index = std::move(hnsw);
    } else {
      size_t nlist =
          options.ivf.nlist != 0 ? std::min(options.ivf.nlist, rows) : default_nlist(rows);
      auto quantizer = std::make_unique<faiss::IndexFlatIP>(d);
      auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), d, nlist,
                                                       faiss::METRIC_INNER_PRODUCT);
      quantizer.release();  // owned by ivf from here on
      ivf->own_fields = true;
      ivf->cp.spherical = true;
      ivf->cp.niter = kIvfTrainIterations;
      ivf->cp.max_points_per_centroid = static_cast<int>(
          std::clamp<size_t>(kIvfMaxTrainPoints / nlist, 39, kIvfTrainPointsPerList));
      ivf->cp.min_points_per_centroid = 1;  // small sets are fine; FAISS would print otherwise
      ivf->cp.seed = kIvfSeed;
      ivf->train(n, set.vectors.data());
      ivf->add(n, set.vectors.data());
      ivf->make_direct_map(true);  // for copy_vector (reconstruct by row)
      index = std::move(ivf);
    }
    set.vectors = FloatMatrix();  // FAISS holds its own copy now
    return std::unique_ptr<VectorIndex>(
        new FaissIndex(kind, std::move(set.ids), dim, std::move(index), options));
  } catch (...) {
    return build_failure(kind, rows, std::current_exception());
  }
}

StatusOr<std::unique_ptr<VectorIndex>> build_faiss_index_batched(IndexKind kind, size_t rows,
                                                                 size_t dim,
                                                                 const RowSource& source,
                                                                 const VectorIndexOptions& options,
                                                                 size_t batch_rows) {
  const int d = static_cast<int>(dim);
  std::vector<int64_t> ids(rows);
  std::vector<float> batch;
  try {
    std::unique_ptr<faiss::IndexScalarQuantizer> sq;
    std::unique_ptr<faiss::IndexIVFPQ> ivf;
    if (kind == IndexKind::kF16) {
      sq = std::make_unique<faiss::IndexScalarQuantizer>(d, faiss::ScalarQuantizer::QT_fp16,
                                                         faiss::METRIC_INNER_PRODUCT);
    } else {
      ivf = make_ivf_pq(rows, dim, options);
      // The training sample: as many rows as the k-means would sample from the whole set, read as
      // 64 runs spread evenly over it (FAISS draws its sample at random from what it is given).
      const size_t want = std::min(rows, size_t(ivf->cp.max_points_per_centroid) * ivf->nlist);
      const size_t runs = std::min<size_t>(64, want);
      std::vector<float> sample(want * dim);
      std::vector<int64_t> scratch;
      size_t taken = 0;
      for (size_t r = 0; r < runs; ++r) {
        const size_t count = want * (r + 1) / runs - want * r / runs;
        const size_t begin = rows * r / runs;
        scratch.resize(count);
        XRS_RETURN_IF_ERROR(
            source(begin, count, sample.data() + taken * dim, scratch.data())
                .with_context("reading the training sample at row " + std::to_string(begin)));
        taken += count;
      }
      ivf->train(static_cast<faiss_idx_t>(taken), sample.data());
    }
    for (size_t begin = 0; begin < rows; begin += batch_rows) {
      const size_t count = std::min(batch_rows, rows - begin);
      batch.resize(count * dim);
      XRS_RETURN_IF_ERROR(source(begin, count, batch.data(), ids.data() + begin)
                              .with_context("reading rows from " + std::to_string(begin)));
      for (size_t i = std::max<size_t>(begin, 1); i < begin + count; ++i) {
        if (ids[i] <= ids[i - 1]) {
          return Status::invalid_argument("embedding ids are not strictly increasing at row " +
                                          std::to_string(i));
        }
      }
      if (sq) {
        sq->add(static_cast<faiss_idx_t>(count), batch.data());
      } else {
        ivf->add(static_cast<faiss_idx_t>(count), batch.data());
      }
    }
    if (sq) return std::unique_ptr<VectorIndex>(new F16Index(std::move(ids), dim, std::move(sq)));
    ivf->make_direct_map(true);
    return std::unique_ptr<VectorIndex>(
        new IvfPqIndex(std::move(ids), dim, std::move(ivf), options));
  } catch (...) {
    return build_failure(kind, rows, std::current_exception());
  }
}

Status append_faiss_index(const VectorIndex& index, std::vector<uint8_t>& out) {
  auto* f = dynamic_cast<const FaissBackedIndex*>(&index);
  if (f == nullptr) return Status::invalid_argument("only FAISS indexes are serialised");
  try {
    faiss::VectorIOWriter writer;
    writer.data = std::move(out);
    faiss::write_index(&f->faiss_index(), &writer);
    out = std::move(writer.data);
  } catch (const std::exception& e) {
    return Status::internal(std::string("FAISS failed to serialise the index: ") + e.what());
  }
  return Status::ok();
}

StatusOr<std::unique_ptr<VectorIndex>> read_faiss_index(IndexKind kind, std::vector<int64_t> ids,
                                                        size_t dim,
                                                        std::span<const std::byte> bytes,
                                                        const VectorIndexOptions& options) {
  if (kind == IndexKind::kExact) return Status::invalid_argument("exact indexes have no payload");
  std::unique_ptr<faiss::Index> index;
  try {
    SpanReader reader(bytes);
    index.reset(faiss::read_index(&reader, 0));
    XRS_RETURN_IF_ERROR(check_loaded(kind, *index, ids.size(), dim));
    if (reader.pos != bytes.size()) {
      return Status::corruption("vectors payload: " + std::to_string(bytes.size() - reader.pos) +
                                " bytes left after the FAISS index");
    }
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index.get()); ivf && ivf->direct_map.no()) {
      ivf->make_direct_map(true);
    }
  } catch (const std::exception& e) {
    return Status::corruption(std::string("vectors payload: FAISS cannot read it: ") + e.what());
  }
  if (kind == IndexKind::kF16) {
    return std::unique_ptr<VectorIndex>(
        new F16Index(std::move(ids), dim,
                     std::unique_ptr<faiss::IndexScalarQuantizer>(
                         static_cast<faiss::IndexScalarQuantizer*>(index.release()))));
  }
  if (kind == IndexKind::kIvfPq) {
    std::unique_ptr<faiss::IndexIVFPQ> ivf(static_cast<faiss::IndexIVFPQ*>(index.release()));
    // Built with other parameters than asked for now: stale, rebuilt by the caller.
    const size_t m = options.pq.m != 0 ? options.pq.m : std::max<size_t>(1, dim / 8);
    if (ivf->pq.M != m || ivf->pq.nbits != options.pq.nbits ||
        (options.ivf.nlist != 0 && ivf->nlist != std::min(options.ivf.nlist, ids.size()))) {
      return Status::failed_precondition(
          "vectors payload: stale: built as ivf-pq nlist=" + std::to_string(ivf->nlist) +
          " m=" + std::to_string(ivf->pq.M) + " nbits=" + std::to_string(ivf->pq.nbits) +
          ", asked for m=" + std::to_string(m) + " nbits=" + std::to_string(options.pq.nbits) +
          (options.ivf.nlist != 0 ? " nlist=" + std::to_string(options.ivf.nlist) : ""));
    }
    return std::unique_ptr<VectorIndex>(
        new IvfPqIndex(std::move(ids), dim, std::move(ivf), options));
  }
  return std::unique_ptr<VectorIndex>(
      new FaissIndex(kind, std::move(ids), dim, std::move(index), options));
}

}  // namespace xrs::index_internal
