// rowpool._core: the nanobind module. Each concern binds its own names (bindings.hpp); engine
// errors become Python exceptions in errors.cpp.
#include <nanobind/nanobind.h>

#include "python/bindings.hpp"
#include "python/errors.hpp"

NB_MODULE(_core, m) {
  using namespace rowpool::python;
  m.doc() = "rowpool's C++ engine (see rowpool/_core.pyi).";
  register_error_translator();
  bind_protocol(m);
  bind_memory(m);
  bind_scheduler(m);
  bind_supervisor(m);
  bind_queue(m);
  bind_worker(m);
}
