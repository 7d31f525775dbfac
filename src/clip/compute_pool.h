// The engine's threads: one process-wide pool that splits a batch or a large product into
// parts. The caller's thread always takes part; set_compute_threads(n) gives n - 1 workers.
//
// Workers wait for work by spinning briefly and then sleeping, so an idle engine costs nothing
// and a loaded machine is not made worse by threads burning time at barriers. The pool serves one
// caller at a time: a call that finds it busy (another request's batch, or a nested call from
// inside a part) runs all its parts on its own thread instead of waiting. Under concurrent
// requests each request therefore runs single-threaded in parallel with the others, which is the
// most efficient use of the cores. BLAS runs single-threaded inside each part.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <functional>

namespace xrs {

// Threads used by the engine, the caller included (default: all cores). set_compute_threads
// also pins BLAS to one thread per call.
void set_compute_threads(int threads);
int compute_threads();
// compute_threads(), or 1 inside a part of parallel_for (where nested work runs inline).
int available_threads();

// Runs part(i) for every i in [0, parts), in parallel where the pool is free; returns when all
// are done. `part` must not throw.
void parallel_for(int parts, const std::function<void(int)>& part);

}  // namespace xrs
