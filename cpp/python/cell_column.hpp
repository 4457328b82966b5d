// Python values of a "cells" column (core/cell_buffer.hpp) as pandas hands them out in a row of
// object dtype: Python int, float and bool, `missing` (pandas.NA) where the mask says so, and for
// categorical codes the category at each code. Worker process, GIL held; the buffer is borrowed.
#pragma once

#include <nanobind/nanobind.h>

#include "core/cell_buffer.hpp"

namespace rowpool::python {

// A new list of cells.rows() values. With a `table` (a list, not None) every value is a code c and
// becomes table[c + 1] (table[0] stands for code -1, a missing category); else each value is boxed
// by its kind. Raises nb::value_error for a code outside the table.
nanobind::list cell_values(const CellBuffer& cells, nanobind::handle missing,
                           nanobind::handle table);

}  // namespace rowpool::python
