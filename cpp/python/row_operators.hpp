// The Row's operator protocol (row * 2, row == 1, -row, row += 1, bool(row), np.sqrt(row)),
// delegated to the row's own pandas Series. Worker-process code; the GIL must be held.
#pragma once

#include <Python.h>

#include <vector>

namespace rowpool::python {

// Adds the number-protocol, rich-comparison and truth-value slots of the Row type to `slots`.
void append_operator_slots(std::vector<PyType_Slot>& slots);

// Row.__array_ufunc__(ufunc, method, *inputs, **kwargs): numpy functions run on the Series.
PyObject* row_array_ufunc(PyObject* self, PyObject* args, PyObject* kwargs);

}  // namespace rowpool::python
