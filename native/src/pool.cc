#include "pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DESCENT_PAUSE() _mm_pause()
#else
#define DESCENT_PAUSE() std::this_thread::yield()
#endif

namespace descent {

namespace {
using Clock = std::chrono::steady_clock;

// A spinning thread pauses this long, then yields its core between polls.
constexpr std::chrono::microseconds kIdleSpin{50};
// An idle worker polls (pausing, then yielding) this long before it sleeps. A training step
// calls the pool every 30-150 us with JS and wasm work between the calls; a worker that slept
// after 50 us had to be woken by a futex for most products (20-80 us late on a 2-core VM): the
// MLP's products then ran 20% slower in the step than alone. Yielding lets any other thread that
// wants the core (wasm workers, GC) take it; park() still puts the worker to sleep at once.
constexpr std::chrono::microseconds kWorkerSpin{1000};
// The caller waits only for chunks already running; it waits longer before it sleeps (yielding
// its core after the first kIdleSpin), since a sleeping caller wakes late, and while it sleeps
// its workers may go to sleep too.
constexpr std::chrono::microseconds kCallerSpin{2000};

// Spins until done() or `limit` has passed (pausing, then yielding the core after kIdleSpin);
// returns done().
template <class Done>
bool spin_until(Done done, std::chrono::microseconds limit) {
  const auto start = Clock::now();
  bool yield = false;
  for (int i = 0;; ++i) {
    if (done()) return true;
    if (yield) {
      std::this_thread::yield();
    } else {
      DESCENT_PAUSE();
    }
    if ((i & 15) == 15) {
      const auto spent = Clock::now() - start;
      if (spent > limit) return done();
      yield = spent > kIdleSpin;
    }
  }
}
}  // namespace

Pool& Pool::instance() {
  static Pool* pool = new Pool();  // leaked on purpose: no destructor joins threads at exit
  return *pool;
}

void Pool::grow(int workers) {
  while (static_cast<int>(threads_.size()) < workers) {
    // The worker starts from the state before the job about to be published, so it cannot miss it.
    const int id = static_cast<int>(threads_.size()) + 1;
    const std::uint64_t seen = state_.load(std::memory_order_relaxed);
    threads_.emplace_back([this, id, seen] { work(id, seen); });
  }
}

bool Pool::claim(std::uint64_t job, int* chunk) {
  std::uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint64_t next = word & 0xFFFF, chunks = (word >> 16) & 0xFFFF;
    if ((word >> 32) != (job & 0xFFFFFFFFu) || next >= chunks) return false;
    if (claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *chunk = static_cast<int>(next);
      return true;
    }
  }
}

void Pool::finish_chunk() {
  const int chunks = chunks_;  // read before the job can end (it cannot while this chunk is unfinished)
  if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
    std::lock_guard<std::mutex> lock(mutex_);
    done_.notify_one();
  }
}

void Pool::work(int id, std::uint64_t seen) {
  for (;;) {
    const auto woken = [&] { return state_.load(std::memory_order_acquire) != seen; };
    // spin for the next job unless parked (then sleep at once: another pool wants the core)
    spin_until([&] { return woken() || parked_.load(std::memory_order_relaxed); }, kWorkerSpin);
    if (!woken()) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return state_.load(std::memory_order_acquire) != seen; });
    }
    seen = state_.load(std::memory_order_acquire);
    if (id > static_cast<int>(seen & 0xFFFF)) continue;
    int chunk;
    while (claim(seen >> 16, &chunk)) {
      task_(ctx_, chunk);
      finish_chunk();
    }
  }
}

void Pool::run(int chunks, int helpers, Task task, void* ctx) {
  std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
  if (chunks <= 1 || helpers <= 0 || !busy.owns_lock() || chunks > kMaxChunks) {
    for (int c = 0; c < chunks; ++c) task(ctx, c);
    return;
  }
  if (helpers > kMaxThreads - 1) helpers = kMaxThreads - 1;
  grow(helpers);
  parked_.store(false, std::memory_order_relaxed);
  const std::uint64_t job = ++job_;
  task_ = task;
  ctx_ = ctx;
  chunks_ = chunks;
  finished_.store(0, std::memory_order_relaxed);
  claim_.store(((job & 0xFFFFFFFFu) << 32) | (static_cast<std::uint64_t>(chunks) << 16), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_.store((job << 16) | static_cast<std::uint64_t>(helpers), std::memory_order_release);
  }
  wake_.notify_all();
  int chunk;
  while (claim(job, &chunk)) {
    task(ctx, chunk);
    finish_chunk();
  }
  const auto all_done = [&] { return finished_.load(std::memory_order_acquire) == chunks; };
  if (!spin_until(all_done, kCallerSpin)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, all_done);
  }
}

}  // namespace descent
