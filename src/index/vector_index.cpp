// The VectorIndex front: argument validation, kind selection and construction.
#include "index/vector_index.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "index/exact_scan.h"
#include "index/faiss_index.h"

namespace xrs {

RowBitset::RowBitset(size_t rows, bool value)
    : rows_(rows), words_((rows + 63) / 64, value ? ~uint64_t{0} : 0) {
  // Bits past `rows` stay clear so that count() needs no mask.
  if (value && rows % 64 != 0) words_.back() = (uint64_t{1} << (rows % 64)) - 1;
}

size_t RowBitset::count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(std::popcount(w));
  return n;
}

std::string_view index_kind_name(IndexKind kind) {
  switch (kind) {
    case IndexKind::kExact:
      return "exact";
    case IndexKind::kHnsw:
      return "hnsw";
    case IndexKind::kIvf:
      return "ivf";
    case IndexKind::kIvfPq:
      return "ivf-pq";
    case IndexKind::kF16:
      return "f16";
  }
  return "unknown";
}

StatusOr<IndexKind> parse_index_kind(std::string_view name) {
  for (IndexKind k :
       {IndexKind::kExact, IndexKind::kHnsw, IndexKind::kIvf, IndexKind::kIvfPq, IndexKind::kF16}) {
    if (name == index_kind_name(k)) return k;
  }
  return Status::invalid_argument("unknown vector index kind '" + std::string(name) +
                                  "' (expected exact, f16, ivf, ivf-pq or hnsw)");
}

namespace {

// The parameters each kind accepts in a spec string.
std::vector<std::string_view> spec_params(IndexKind kind) {
  switch (kind) {
    case IndexKind::kHnsw:
      return {"m", "ef_construction", "ef_search"};
    case IndexKind::kIvf:
      return {"nlist", "nprobe"};
    case IndexKind::kIvfPq:
      return {"nlist", "nprobe", "m", "nbits"};
    case IndexKind::kExact:
    case IndexKind::kF16:
      break;
  }
  return {};
}

}  // namespace

StatusOr<VectorIndexOptions> parse_vector_index_spec(std::string_view spec) {
  VectorIndexOptions o;
  const size_t colon = spec.find(':');
  const std::string_view kind_name = spec.substr(0, colon);
  if (kind_name.empty() || kind_name == "auto") {
    if (colon != std::string_view::npos) {
      return Status::invalid_argument("vector index '" + std::string(spec) +
                                      "': 'auto' takes no parameters");
    }
    return o;
  }
  XRS_ASSIGN_OR_RETURN(IndexKind kind, parse_index_kind(kind_name));
  o.kind = kind;
  if (colon == std::string_view::npos) return o;
  const std::vector<std::string_view> allowed = spec_params(kind);
  std::string_view rest = spec.substr(colon + 1);
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("vector index '" + std::string(spec) + "': " + why);
  };
  if (allowed.empty()) return bad(std::string(kind_name) + " takes no parameters");
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad("'" + std::string(item) + "' is not NAME=VALUE");
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      return bad(std::string(kind_name) + " has no parameter '" + std::string(name) + "' (it has " +
                 names + ")");
    }
    size_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
        v > static_cast<size_t>(INT_MAX)) {
      return bad(std::string(name) + "='" + std::string(value) + "' is not a whole number up to " +
                 std::to_string(INT_MAX));
    }
    if (kind == IndexKind::kHnsw) {
      if (v == 0) return bad(std::string(name) + " must be at least 1");
      int iv = static_cast<int>(v);
      (name == "m"                 ? o.hnsw.m
       : name == "ef_construction" ? o.hnsw.ef_construction
                                   : o.hnsw.ef_search) = iv;
    } else if (name == "nlist") {
      o.ivf.nlist = v;
    } else if (name == "nprobe") {
      o.ivf.nprobe = v;
    } else if (name == "m") {
      o.pq.m = v;
    } else {
      o.pq.nbits = v;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  XRS_RETURN_IF_ERROR(
      check_vector_index_options(o, 0, 0).with_context("vector index '" + std::string(spec) + "'"));
  return o;
}

std::string vector_index_spec(const VectorIndexOptions& o) {
  if (!o.kind) return "auto";
  std::string out(index_kind_name(*o.kind));
  std::vector<std::string> params;
  const VectorIndexOptions d;
  auto add = [&](const char* name, size_t v, size_t def) {
    if (v != def) params.push_back(std::string(name) + "=" + std::to_string(v));
  };
  if (*o.kind == IndexKind::kHnsw) {
    add("m", static_cast<size_t>(o.hnsw.m), static_cast<size_t>(d.hnsw.m));
    add("ef_construction", static_cast<size_t>(o.hnsw.ef_construction),
        static_cast<size_t>(d.hnsw.ef_construction));
    add("ef_search", static_cast<size_t>(o.hnsw.ef_search), static_cast<size_t>(d.hnsw.ef_search));
  } else if (*o.kind == IndexKind::kIvf || *o.kind == IndexKind::kIvfPq) {
    add("nlist", o.ivf.nlist, d.ivf.nlist);
    add("nprobe", o.ivf.nprobe, d.ivf.nprobe);
    if (*o.kind == IndexKind::kIvfPq) {
      add("m", o.pq.m, d.pq.m);
      add("nbits", o.pq.nbits, d.pq.nbits);
    }
  }
  for (size_t i = 0; i < params.size(); ++i) out += (i == 0 ? ":" : ",") + params[i];
  return out;
}

Status check_vector_index_options(const VectorIndexOptions& o, size_t rows, size_t dim) {
  if (!o.kind || *o.kind != IndexKind::kIvfPq) return Status::ok();
  if (o.pq.nbits < 4 || o.pq.nbits > 16) {
    return Status::invalid_argument("ivf-pq nbits=" + std::to_string(o.pq.nbits) +
                                    " is out of range (4 to 16 bits per code)");
  }
  if (dim == 0) return Status::ok();  // the rest depends on the data (rows 0: not known yet)
  const size_t m = o.pq.m != 0 ? o.pq.m : std::max<size_t>(1, dim / 8);
  if (dim % m != 0) {
    return Status::invalid_argument("ivf-pq m=" + std::to_string(m) +
                                    " does not divide the dimension " + std::to_string(dim) +
                                    " (each of the m sub-quantizers codes dim/m values)");
  }
  const size_t codebook = size_t{1} << o.pq.nbits;
  if (rows != 0 && rows < codebook) {
    return Status::invalid_argument("ivf-pq with nbits=" + std::to_string(o.pq.nbits) +
                                    " needs at least " + std::to_string(codebook) +
                                    " vectors to train its codebooks, the index has " +
                                    std::to_string(rows) + " (use exact or f16, or fewer nbits)");
  }
  return Status::ok();
}

IndexKind choose_index_kind(size_t rows, const VectorIndexOptions& options) {
  if (rows == 0) return IndexKind::kExact;
  if (options.kind) return *options.kind;
  return rows >= options.auto_threshold ? IndexKind::kIvf : IndexKind::kExact;
}

std::optional<size_t> VectorIndex::row_of(int64_t id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return std::nullopt;
  return static_cast<size_t>(it - ids_.begin());
}

StatusOr<std::vector<Hit>> VectorIndex::search(std::span<const float> query,
                                               const VectorSearchOptions& options) const {
  if (query.size() != dim_) {
    return Status::invalid_argument("query has " + std::to_string(query.size()) +
                                    " values, the index has dim " + std::to_string(dim_));
  }
  XRS_ASSIGN_OR_RETURN(auto results, search_batch(query, options));
  return std::move(results.front());
}

StatusOr<std::vector<std::vector<Hit>>> VectorIndex::search_batch(
    std::span<const float> queries, const VectorSearchOptions& options) const {
  if (queries.empty() || queries.size() % dim_ != 0) {
    return Status::invalid_argument("queries hold " + std::to_string(queries.size()) +
                                    " values, not a positive multiple of dim " +
                                    std::to_string(dim_));
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!std::isfinite(queries[i])) {
      return Status::invalid_argument("query value " + std::to_string(i % dim_) + " is not finite");
    }
  }
  if (options.k == 0) return Status::invalid_argument("k must be at least 1");
  if (std::isnan(options.min_score)) return Status::invalid_argument("min_score is NaN");
  if (options.allow != nullptr && options.allow->size() != size()) {
    return Status::invalid_argument("filter has " + std::to_string(options.allow->size()) +
                                    " rows, the index has " + std::to_string(size()));
  }
  std::optional<size_t> exclude_row;
  if (options.exclude_id) exclude_row = row_of(*options.exclude_id);
  const size_t nq = queries.size() / dim_;
  std::vector<std::vector<Hit>> out;
  out.reserve(nq);
  XRS_RETURN_IF_ERROR(do_search(queries.data(), nq, options, exclude_row, out));
  return out;
}

Status VectorIndex::copy_vector(int64_t id, std::span<float> out) const {
  std::optional<size_t> row = row_of(id);
  if (!row) return Status::not_found("no vector with id " + std::to_string(id));
  if (out.size() != dim_) {
    return Status::invalid_argument("output has room for " + std::to_string(out.size()) +
                                    " values, dim is " + std::to_string(dim_));
  }
  return do_copy_vector(*row, out.data());
}

StatusOr<std::unique_ptr<VectorIndex>> build_vector_index(EmbeddingSet set,
                                                          const VectorIndexOptions& options) {
  if (set.ids.size() != set.vectors.rows()) {
    return Status::invalid_argument("embedding set has " + std::to_string(set.ids.size()) +
                                    " ids for " + std::to_string(set.vectors.rows()) + " rows");
  }
  if (set.vectors.cols() == 0 || set.vectors.cols() > INT_MAX) {
    return Status::invalid_argument("embedding dimension " + std::to_string(set.vectors.cols()) +
                                    " is unusable");
  }
  if (set.ids.size() > INT_MAX) {  // BLAS and FAISS's HNSW count rows in int
    return Status::resource_exhausted("too many vectors: " + std::to_string(set.ids.size()));
  }
  for (size_t i = 1; i < set.ids.size(); ++i) {
    if (set.ids[i] <= set.ids[i - 1]) {
      return Status::invalid_argument("embedding ids are not strictly increasing at row " +
                                      std::to_string(i));
    }
  }
  IndexKind kind = choose_index_kind(set.ids.size(), options);
  if (kind == IndexKind::kIvfPq) {
    VectorIndexOptions checked = options;
    checked.kind = kind;
    XRS_RETURN_IF_ERROR(check_vector_index_options(checked, set.ids.size(), set.vectors.cols()));
  }
  if (kind == IndexKind::kExact) {
    return index_internal::make_exact_index(std::move(set.ids), std::move(set.vectors));
  }
  return index_internal::build_faiss_index(kind, std::move(set), options);
}

StatusOr<std::unique_ptr<VectorIndex>> build_vector_index_batched(size_t rows, size_t dim,
                                                                  const RowSource& source,
                                                                  const VectorIndexOptions& options,
                                                                  size_t batch_rows) {
  if (dim == 0 || dim > INT_MAX) {
    return Status::invalid_argument("embedding dimension " + std::to_string(dim) + " is unusable");
  }
  if (rows > INT_MAX)
    return Status::resource_exhausted("too many vectors: " + std::to_string(rows));
  if (batch_rows == 0) return Status::invalid_argument("the batch size must be at least 1");
  const IndexKind kind = choose_index_kind(rows, options);
  if (rows == 0 || (kind != IndexKind::kF16 && kind != IndexKind::kIvfPq)) {
    EmbeddingSet set;
    XRS_ASSIGN_OR_RETURN(set.vectors, FloatMatrix::allocate(rows, dim));
    set.ids.resize(rows);
    for (size_t begin = 0; begin < rows; begin += batch_rows) {
      const size_t count = std::min(batch_rows, rows - begin);
      XRS_RETURN_IF_ERROR(
          source(begin, count, set.vectors.data() + begin * dim, set.ids.data() + begin)
              .with_context("reading rows from " + std::to_string(begin)));
    }
    return build_vector_index(std::move(set), options);
  }
  if (kind == IndexKind::kIvfPq) {
    VectorIndexOptions checked = options;
    checked.kind = kind;
    XRS_RETURN_IF_ERROR(check_vector_index_options(checked, rows, dim));
  }
  return index_internal::build_faiss_index_batched(kind, rows, dim, source, options, batch_rows);
}

}  // namespace xrs
