// Scheduler: cuts rows [0, total) into chunks that workers pull one after another. Chunk length
// comes from the measured cost per row (aiming at `target_seconds` of work per chunk), is capped by
// the arena's bytes per chunk, and shrinks near the end so that no worker idles at the tail. Pure
// bookkeeping, parent-only, not thread-safe.
#pragma once

#include <cstddef>
#include <optional>

namespace rowpool {

struct Chunk {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t rows() const noexcept { return end - begin; }
};

struct SchedulerOptions {
  std::size_t workers = 1;
  std::size_t fixed_rows = 0;      // > 0: every chunk has this length (the last may be shorter)
  std::size_t max_rows = 1 << 20;  // upper bound, e.g. from the arena budget and bytes per row
  std::size_t first_rows = 16;     // length of the first chunks, before any cost is measured
  double target_seconds = 0.25;    // work per chunk once costs are known
  std::size_t tail_chunks_per_worker = 3;  // near the end, remaining work is split this finely
};

class Scheduler {
 public:
  Scheduler(std::size_t total_rows, SchedulerOptions options);

  // The next chunk to hand out, or nullopt once all rows are handed out.
  std::optional<Chunk> next();
  // Feeds back how long `rows` rows took (worker-side compute time).
  void record(std::size_t rows, double seconds);

  std::size_t total_rows() const noexcept { return total_; }
  std::size_t dispatched_rows() const noexcept { return cursor_; }
  double seconds_per_row() const noexcept;  // 0 until something was measured

 private:
  std::size_t auto_rows() const;

  std::size_t total_;
  SchedulerOptions options_;
  std::size_t cursor_ = 0;
  std::size_t measured_rows_ = 0;
  double measured_seconds_ = 0.0;
};

}  // namespace rowpool
