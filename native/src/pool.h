// A small persistent thread pool. A job is a number of chunks; the calling thread and up to
// `helpers` workers claim chunks one at a time from a shared counter until none are left, so a
// worker that is slow to wake (or busy elsewhere) only means the others do more of the job.
// Idle workers poll for about 1 ms (yielding their core after the first 50 us) and then sleep
// on a condition variable, so back-to-back GEMMs of a training step find them awake and an idle
// process costs no CPU. One job at a time:
// a caller that finds the pool busy (another Node thread using the addon) runs its job alone.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace descent {

class Pool {
 public:
  using Task = void (*)(void* ctx, int chunk);

  // The process-wide pool (created on first use, never destroyed: its threads live until exit).
  static Pool& instance();

  // Runs task(ctx, c) for every c in [0, chunks) on the calling thread and up to `helpers`
  // workers; returns when all chunks are done.
  void run(int chunks, int helpers, Task task, void* ctx);

  // Idle workers stop spinning and sleep now (another thread pool is about to use the cores);
  // the next run() wakes them as usual.
  void park() { parked_.store(true, std::memory_order_relaxed); }

  static constexpr int kMaxThreads = 256;
  static constexpr int kMaxChunks = 4096;

 private:
  void grow(int workers);
  void work(int id, std::uint64_t seen);
  // Claims the next chunk of job `job`; false when the job has none left (or is over).
  bool claim(std::uint64_t job, int* chunk);
  void finish_chunk();

  std::mutex run_mutex_;  // held for the whole of one run()
  std::mutex mutex_;      // guards sleeping and waking
  std::condition_variable wake_;
  std::condition_variable done_;
  std::uint64_t job_ = 0;
  // (job << 16) | helpers: what sleeping workers wait on.
  std::atomic<std::uint64_t> state_{0};
  // (job << 32) | (chunks << 16) | next chunk: claimed by compare-and-swap, so a worker that
  // wakes after its job ended claims nothing, and task_ / ctx_ (written before this word is
  // published) are read only while the job they belong to is still running.
  alignas(64) std::atomic<std::uint64_t> claim_{0};
  alignas(64) std::atomic<int> finished_{0};
  std::atomic<bool> parked_{false};
  int chunks_ = 0;
  Task task_ = nullptr;
  void* ctx_ = nullptr;
  std::vector<std::thread> threads_;
};

// Runs body(begin, end) over [0, units) on the calling thread and up to parts - 1 workers, in
// two chunks per part (so a thread that starts late takes less), each a multiple of `align`
// units; on the calling thread alone when parts <= 1. The memory-bound kernels' split (SGD, sums
// of squares, copies, col2im); the GEMM splits its own way.
template <class Body>
void run_split(std::ptrdiff_t units, std::ptrdiff_t parts, std::ptrdiff_t align, const Body& body) {
  if (parts <= 1) {
    body(std::ptrdiff_t{0}, units);
    return;
  }
  const std::ptrdiff_t chunks = std::min<std::ptrdiff_t>(2 * parts, Pool::kMaxChunks);
  const std::ptrdiff_t per = ((units + chunks - 1) / chunks + align - 1) / align * align;
  struct Job {
    const Body* body;
    std::ptrdiff_t per, units;
  } job{&body, per, units};
  const Pool::Task task = [](void* ctx, int chunk) {
    const auto* j = static_cast<const Job*>(ctx);
    const std::ptrdiff_t begin = chunk * j->per;
    (*j->body)(begin, std::min(j->units, begin + j->per));
  };
  Pool::instance().run(static_cast<int>((units + per - 1) / per), static_cast<int>(parts - 1), task, &job);
}

}  // namespace descent
