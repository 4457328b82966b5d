// The single place where engine (rowpool::Error) exceptions become Python exceptions. The
// translator runs wherever nanobind catches one: any thread, with the GIL held.
#pragma once

#include <nanobind/nanobind.h>

namespace rowpool::python {

// Registers the translator: SystemError -> OSError(errno), QueueClosed ->
// rowpool.errors.QueueClosed, CapacityError -> rowpool.errors.BudgetExceeded, any other
// rowpool::Error -> rowpool.errors.EngineError.
void register_error_translator();

}  // namespace rowpool::python
