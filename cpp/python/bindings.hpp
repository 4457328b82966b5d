// The parts of rowpool._core, one function per concern, each adding its names to the module.
// Called once, from the module's init (main thread, GIL held). Python objects own the C++ objects
// they wrap; every call that may block releases the GIL.
#pragma once

#include <nanobind/nanobind.h>

namespace rowpool::python {

// RowTag, RESULT_AREA_HEADER_BYTES and SEGMENT_FD: the constants the parent and its workers agree
// on.
void bind_protocol(nanobind::module_& m);
// Segment (shared memory) and Arena (the allocator inside it).
void bind_memory(nanobind::module_& m);
// Chunk and Scheduler.
void bind_scheduler(nanobind::module_& m);
// Supervisor (the parent's side of the workers) and arm_parent_death_signal (the worker's side).
void bind_supervisor(nanobind::module_& m);
// MessageQueue: a worker's end of its queue.
void bind_queue(nanobind::module_& m);
// Row, RowBatch, ScalarColumn, ResultWriter, run_rows and parse_log: what a worker runs rows with
// and what the parent reads their results with.
void bind_worker(nanobind::module_& m);

}  // namespace rowpool::python
