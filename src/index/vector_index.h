// Vector search over L2-normalised embeddings by inner product (= cosine similarity).
//
// A VectorIndex holds N vectors of dimension dim, row r belonging to image id ids()[r] (ids
// strictly increasing). Five kinds sit behind one interface:
//   kExact  the N x dim matrix (row-major, contiguous, 64-byte aligned); one BLAS sgemv per query
//           (sgemm for batches) and a single top-k pass. Results equal a brute-force loop.
//   kHnsw   FAISS IndexHNSWFlat (graph; fast queries, slow build, approximate).
//   kIvf    FAISS IndexIVFFlat (k-means lists; fast build, approximate).
//   kF16    every vector stored as float16 (FAISS IndexScalarQuantizer QT_fp16, 2 bytes per
//           value: half of kExact's memory); every query scans all rows, so the ranking is the
//           brute-force one over the rounded vectors (scores within 2^-11 of exact ones).
//   kIvfPq  FAISS IndexIVFPQ: k-means lists plus product quantization (m codes of nbits per
//           vector, e.g. 64 bytes for 512-d at m = 64): the compressed kind for tens of millions
//           of vectors; approximate (recall measured in docs/PERFORMANCE.md).
// Without an explicit kind, indexes below VectorIndexOptions::auto_threshold rows are exact and
// larger ones IVF (docs/INDEX_FORMAT.md, "Choosing the vector index", says why).
//
// Results are sorted by score descending, then id ascending (ties are deterministic), hold at most
// k hits, only hits with score >= min_score, and only rows the filter allows. Scores are raw inner
// products of the query as given (callers normalise queries when they want cosines).
//
// Thread-safety: a VectorIndex is immutable after construction; search() and every other const
// method may be called from many threads at once. Exact search calls OpenBLAS and the FAISS
// kinds use OpenMP; each library uses its own thread settings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/matrix.h"
#include "index/topk.h"  // Hit, the result order

namespace xrs {

// One bit per row of an index (bit r set = row r allowed).
class RowBitset {
 public:
  explicit RowBitset(size_t rows, bool value = false);
  size_t size() const { return rows_; }
  bool test(size_t row) const { return (words_[row >> 6] >> (row & 63)) & 1u; }
  void set(size_t row) { words_[row >> 6] |= uint64_t{1} << (row & 63); }
  void reset(size_t row) { words_[row >> 6] &= ~(uint64_t{1} << (row & 63)); }
  size_t count() const;

 private:
  size_t rows_;
  std::vector<uint64_t> words_;
};

struct VectorSearchOptions {
  size_t k = 1;  // >= 1; more than size() returns at most size() hits
  float min_score = -std::numeric_limits<float>::infinity();  // keep hits with score >= this
  const RowBitset* allow = nullptr;   // rows allowed (size() bits); null allows every row
  std::optional<int64_t> exclude_id;  // never return this id (query-by-example excludes itself)
  // Per-query effort of an approximate index, overriding the one it was built with (ignored by
  // exact search): IVF lists probed, HNSW beam width. Both are still raised for filtered queries.
  std::optional<size_t> nprobe;
  std::optional<int> ef_search;
};

enum class IndexKind { kExact, kHnsw, kIvf, kIvfPq, kF16 };
std::string_view index_kind_name(IndexKind kind);  // "exact", "hnsw", "ivf", "ivf-pq", "f16"
StatusOr<IndexKind> parse_index_kind(std::string_view name);

// An exact search streams N * dim * 4 bytes per query: past this many 512-d vectors that is over
// ~40 ms here (memory bandwidth), so the automatic choice switches to IVF.
inline constexpr size_t kAutoApproximateThreshold = 250000;

struct HnswParams {
  int m = 32;                // graph degree
  int ef_construction = 80;  // build-time beam width
  int ef_search = 96;        // query-time beam width (raised to k, and for filtered queries)
};

struct IvfParams {
  size_t nlist = 0;   // inverted lists; 0 = about 4 sqrt(N), at most N / 39 (k-means: 39/list)
  size_t nprobe = 0;  // lists visited per query; 0 = nlist / 128, at least 8 (capped at nlist)
};

// Product quantization of kIvfPq (its lists and probes are IvfParams).
struct PqParams {
  size_t m = 0;      // sub-quantizers (codes per vector); 0 = dim / 8; must divide dim
  size_t nbits = 8;  // bits per code, 4..16; training needs at least 2^nbits vectors
};

struct VectorIndexOptions {
  std::optional<IndexKind> kind;  // nullopt: exact below auto_threshold rows, else IVF
  size_t auto_threshold = kAutoApproximateThreshold;
  HnswParams hnsw;
  IvfParams ivf;  // kIvf and kIvfPq
  PqParams pq;    // kIvfPq
};

// The kind and parameters as one string, "KIND[:NAME=VALUE,...]", e.g. "exact", "f16",
// "ivf:nlist=4000,nprobe=31", "ivf-pq:m=64,nbits=8", "hnsw:m=32,ef_search=96"; "auto" (or "")
// leaves the kind to choose_index_kind. Unknown kinds or names, names that do not belong to the
// kind, and values out of range are refused with a message naming them. `index --vector-index`
// records it as the catalog setting kSettingVectorIndex, which readers (search, serve) follow.
StatusOr<VectorIndexOptions> parse_vector_index_spec(std::string_view spec);
// The spec string of `options` (only the parameters that differ from the defaults).
std::string vector_index_spec(const VectorIndexOptions& options);
// Checks that `options` can build an index of `rows` vectors of dimension `dim` (m divides dim,
// enough vectors to train IVF-PQ's codebooks, ...). kInvalidArgument says what to change.
Status check_vector_index_options(const VectorIndexOptions& options, size_t rows, size_t dim);

// The kind build_vector_index makes for `rows` vectors (an empty set is always exact).
IndexKind choose_index_kind(size_t rows, const VectorIndexOptions& options);

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  virtual IndexKind kind() const = 0;
  // The kind and its effective parameters, e.g. "ivf nlist=1000 nprobe=62".
  virtual std::string describe() const = 0;
  size_t size() const { return ids_.size(); }
  size_t dim() const { return dim_; }
  std::span<const int64_t> ids() const { return ids_; }
  // The row holding `id`, or nullopt.
  std::optional<size_t> row_of(int64_t id) const;

  // One query of dim() floats. kInvalidArgument when query.size() != dim(), k == 0, min_score
  // is NaN, or options.allow has the wrong size; kInternal if FAISS throws.
  StatusOr<std::vector<Hit>> search(std::span<const float> query,
                                    const VectorSearchOptions& options) const;
  // nq queries, row-major nq x dim (queries.size() == nq * dim(), nq >= 1); result i answers
  // query i. Same errors as search().
  StatusOr<std::vector<std::vector<Hit>>> search_batch(std::span<const float> queries,
                                                       const VectorSearchOptions& options) const;
  // Copies the stored vector of `id` into out (dim() floats). kNotFound for an unknown id.
  Status copy_vector(int64_t id, std::span<float> out) const;

 protected:
  VectorIndex(std::vector<int64_t> ids, size_t dim) : ids_(std::move(ids)), dim_(dim) {}

 private:
  // Called with validated arguments; `exclude_row` is the row of options.exclude_id, if present.
  virtual Status do_search(const float* queries, size_t nq, const VectorSearchOptions& options,
                           std::optional<size_t> exclude_row,
                           std::vector<std::vector<Hit>>& out) const = 0;
  virtual Status do_copy_vector(size_t row, float* out) const = 0;

  std::vector<int64_t> ids_;
  size_t dim_;
};

// Builds an index over `set` (ids strictly increasing, rows L2-normalised); `set` is consumed.
// kInvalidArgument for unsorted or duplicate ids; kResourceExhausted when memory runs out;
// kInternal if FAISS throws.
StatusOr<std::unique_ptr<VectorIndex>> build_vector_index(EmbeddingSet set,
                                                          const VectorIndexOptions& options);

// Writes rows begin .. begin + count of a set: count x dim floats to `vectors`, count ids to `ids`.
using RowSource = std::function<Status(size_t begin, size_t count, float* vectors, int64_t* ids)>;

// build_vector_index for a set too large to hold as float32 at once. The compressed kinds (f16,
// ivf-pq) read the `rows` rows from `source` in batches of at most `batch_rows`, so memory holds
// the index plus one batch: IVF-PQ first trains on as many rows as its k-means would sample (at
// most 262,144), read as 64 runs spread evenly over the set (build_vector_index samples them at
// random instead, so the two builds differ slightly), then encodes batch after batch; f16 encodes
// each row as build_vector_index does (the same index). The other kinds keep float32 vectors:
// every row is read first, then build_vector_index. The kind is chosen as build_vector_index
// chooses it; the same errors, and `source`'s errors with the row they were at.
StatusOr<std::unique_ptr<VectorIndex>> build_vector_index_batched(size_t rows, size_t dim,
                                                                  const RowSource& source,
                                                                  const VectorIndexOptions& options,
                                                                  size_t batch_rows = 65536);

}  // namespace xrs
