// Scheduler: cuts rows [0, total) into chunks that workers pull one after another. Chunk length
// comes from a cost model fitted to the measured chunks, seconds = fixed + rows * per_row: a chunk
// gets `target_seconds` of per-row work, and never so few rows that its fixed cost (setting the
// chunk up in the worker) outweighs the work of its rows. It is capped by the arena's bytes per
// chunk, and shrinks near the end so that no worker idles at the tail. Pure bookkeeping,
// parent-only, not thread-safe.
#pragma once

#include <algorithm>
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
  double target_seconds = 0.25;    // per-row work per chunk once costs are known
  std::size_t tail_chunks_per_worker = 3;  // near the end, remaining work is split this finely
  // Weight of a recorded chunk in the cost fit, relative to the next one recorded: the fit follows
  // rows whose cost changes along the input (about the last 1 / (1 - decay) chunks count).
  double cost_decay = 0.9;
};

// What a chunk costs: `fixed` seconds whatever its length, plus `per_row` seconds for each row.
struct ChunkCost {
  double fixed = 0.0;
  double per_row = 0.0;
};

class Scheduler {
 public:
  Scheduler(std::size_t total_rows, SchedulerOptions options);

  // The next chunk to hand out, or nullopt once all rows are handed out.
  std::optional<Chunk> next();
  // Feeds back how long a chunk of `rows` rows took (worker-side compute time).
  void record(std::size_t rows, double seconds);
  // Changes the bound on a chunk's rows (at least 1) for the chunks handed out from now on: a row's
  // bytes can change during a job (chunks that carry only the columns rows read).
  void set_max_rows(std::size_t max_rows) noexcept {
    options_.max_rows = std::max<std::size_t>(max_rows, 1);
  }
  std::size_t max_rows() const noexcept { return options_.max_rows; }

  std::size_t total_rows() const noexcept { return total_; }
  std::size_t dispatched_rows() const noexcept { return cursor_; }
  // The cost model fitted to the recorded chunks (least squares, see scheduler.cpp); zero until
  // something was measured.
  ChunkCost cost() const noexcept;
  double seconds_per_row() const noexcept { return cost().per_row; }

 private:
  std::size_t auto_rows() const;

  std::size_t total_;
  SchedulerOptions options_;
  std::size_t cursor_ = 0;
  // Sums over the recorded chunks (n rows, t seconds), weighted by cost_decay, for the fit.
  double chunks_ = 0.0;
  double sum_rows_ = 0.0;
  double sum_seconds_ = 0.0;
  double sum_rows_squared_ = 0.0;
  double sum_rows_seconds_ = 0.0;
  double min_seconds_ = 0.0;  // the fastest chunk: no chunk's fixed cost is more than that
};

}  // namespace rowpool
