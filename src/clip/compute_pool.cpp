#include "clip/compute_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern "C" {
// OpenBLAS's thread control (declared in its cblas.h on Debian).
void openblas_set_num_threads(int num_threads);
}

namespace xrs {

namespace {

// How long an idle worker spins before it sleeps: long enough to catch the next product of a
// forward pass (tens of microseconds apart), short enough to cost nothing when idle.
constexpr auto kSpin = std::chrono::microseconds(200);

void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

thread_local bool t_inside_part = false;

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // False when another caller holds the pool.
  bool try_run(int parts, const std::function<void(int)>& part) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      task_ = &part;
      parts_ = parts;
      next_.store(0);
      done_.store(0);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    run_parts(part, parts);
    {
      // No worker joins after this; those that joined are counted in active_.
      std::lock_guard<std::mutex> lock(mu_);
      task_ = nullptr;
    }
    while (done_.load(std::memory_order_acquire) < parts ||
           active_.load(std::memory_order_acquire) > 0) {
      cpu_relax();
    }
    return true;
  }

 private:
  void run_parts(const std::function<void(int)>& part, int parts) {
    t_inside_part = true;
    for (int i; (i = next_.fetch_add(1)) < parts;) {
      part(i);
      done_.fetch_add(1, std::memory_order_release);
    }
    t_inside_part = false;
  }

  void work() {
    uint64_t seen = 0;
    while (true) {
      // Spin for a moment, then sleep until the generation changes.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (generation_.load() == seen && std::chrono::steady_clock::now() < until) cpu_relax();
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stop_) return;
      if (task_ == nullptr) continue;  // that call is already finished
      const std::function<void(int)>& part = *task_;
      const int parts = parts_;
      active_.fetch_add(1);
      lock.unlock();
      run_parts(part, parts);
      active_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;  // held by the caller whose parts the pool is running
  std::mutex mu_;    // guards task_, parts_, stop_ and generation_ changes
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  const std::function<void(int)>* task_ = nullptr;  // the running call's parts, or nullptr
  int parts_ = 0;
  std::atomic<int> next_{0};    // next part to take
  std::atomic<int> done_{0};    // parts finished
  std::atomic<int> active_{0};  // workers inside run_parts
  bool stop_ = false;
};

std::mutex g_pool_mu;  // guards g_pool replacement
std::shared_ptr<Pool> g_pool;
std::atomic<int> g_threads{0};  // g_pool's thread count; 0 until the pool exists

std::shared_ptr<Pool> pool() {
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (!g_pool) {
    openblas_set_num_threads(1);
    unsigned n = std::thread::hardware_concurrency();
    g_pool = std::make_shared<Pool>(n == 0 ? 1 : static_cast<int>(n));
    g_threads.store(g_pool->threads());
  }
  return g_pool;
}

}  // namespace

void set_compute_threads(int threads) {
  if (threads < 1) threads = 1;
  std::lock_guard<std::mutex> lock(g_pool_mu);
  openblas_set_num_threads(1);
  if (!g_pool || g_pool->threads() != threads) g_pool = std::make_shared<Pool>(threads);
  g_threads.store(threads);
}

int compute_threads() {
  int n = g_threads.load();
  return n != 0 ? n : pool()->threads();
}

int available_threads() {
  return t_inside_part ? 1 : compute_threads();
}

void parallel_for(int parts, const std::function<void(int)>& part) {
  if (parts <= 0) return;
  if (parts > 1 && !t_inside_part) {
    std::shared_ptr<Pool> p = pool();
    if (p->threads() > 1 && p->try_run(parts, part)) return;
  }
  for (int i = 0; i < parts; ++i) part(i);
}

}  // namespace xrs
