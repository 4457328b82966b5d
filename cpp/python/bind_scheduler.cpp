// Chunk and Scheduler bindings (parent process; the Scheduler is used from one thread).
#include <nanobind/stl/optional.h>

#include "core/scheduler.hpp"
#include "python/bindings.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {

void bind_scheduler(nb::module_& m) {
  nb::class_<Chunk>(m, "Chunk", "Rows [begin, end) of the input.")
      .def_ro("begin", &Chunk::begin, "First row.")
      .def_ro("end", &Chunk::end, "One past the last row.")
      .def_prop_ro("rows", &Chunk::rows, "Number of rows.");

  nb::class_<Scheduler>(m, "Scheduler",
                        "Cuts the input into chunks sized from the measured row cost.")
      .def(
          "__init__",
          [](Scheduler* self, std::size_t total_rows, std::size_t workers, std::size_t fixed_rows,
             std::size_t max_rows, double target_seconds) {
            SchedulerOptions options;
            options.workers = workers;
            options.fixed_rows = fixed_rows;
            options.max_rows = max_rows;
            options.target_seconds = target_seconds;
            new (self) Scheduler(total_rows, options);
          },
          "total_rows"_a, "workers"_a, "fixed_rows"_a = 0, "max_rows"_a = 1 << 20,
          "target_seconds"_a = 0.25)
      .def("next", &Scheduler::next, "The next chunk, or None when every row is handed out.")
      .def("record", &Scheduler::record, "rows"_a, "seconds"_a,
           "Feeds back a chunk's compute time.")
      .def_prop_ro("dispatched_rows", &Scheduler::dispatched_rows, "Rows handed out so far.")
      .def_prop_rw("max_rows", &Scheduler::max_rows, &Scheduler::set_max_rows,
                   "The most rows a chunk handed out from now on gets (at least 1).")
      .def_prop_ro("seconds_per_row", &Scheduler::seconds_per_row,
                   "Measured cost of a row, beyond its chunk's fixed cost.")
      .def_prop_ro(
          "fixed_seconds", [](const Scheduler& s) { return s.cost().fixed; },
          "Measured fixed cost of a chunk, whatever its length.");
}

}  // namespace rowpool::python
