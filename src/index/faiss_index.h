// Internal to the index module: the FAISS-backed approximate indexes (HNSW, IVF) and their
// (de)serialisation. Only this module includes FAISS; every FAISS exception is caught here and
// returned as a Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "index/vector_index.h"

namespace xrs::index_internal {

// `kind` is kHnsw or kIvf; `set` is non-empty with validated ids.
StatusOr<std::unique_ptr<VectorIndex>> build_faiss_index(IndexKind kind, EmbeddingSet set,
                                                         const VectorIndexOptions& options);

// `kind` is kF16 or kIvfPq; rows >= 1, options checked (build_vector_index_batched).
StatusOr<std::unique_ptr<VectorIndex>> build_faiss_index_batched(IndexKind kind, size_t rows,
                                                                 size_t dim,
                                                                 const RowSource& source,
                                                                 const VectorIndexOptions& options,
                                                                 size_t batch_rows);

// Appends FAISS's serialisation of `index` (an HNSW or IVF index) to `out`.
// kInvalidArgument for an exact index.
Status append_faiss_index(const VectorIndex& index, std::vector<uint8_t>& out);

// Rebuilds an index of `kind` from bytes written by append_faiss_index. kCorruption when FAISS
// rejects the bytes or they hold another kind, dimension or row count than expected.
StatusOr<std::unique_ptr<VectorIndex>> read_faiss_index(IndexKind kind, std::vector<int64_t> ids,
                                                        size_t dim,
                                                        std::span<const std::byte> bytes,
                                                        const VectorIndexOptions& options);

}  // namespace xrs::index_internal
