// Row and RowBatch: the row object handed to the user's function, built straight from a chunk's
// columns. A RowBatch (one per chunk) turns a column into its per-row values the first time any row
// reads it, so reading one field of a 1,000-column row touches one column only. Everything a pandas
// row Series offers beyond field access (methods, operators, item and attribute assignment) is
// answered by a real Series built on demand and kept by the row (slow path).
// Worker-process objects; they own their references through nb::object members (a Row owns its
// RowBatch and its Series), so the GIL must be held to touch them. Functions below follow the
// CPython convention: a new reference, or null with a Python error set.
#pragma once

#include <Python.h>

namespace rowpool::python {

// Creates the Row and RowBatch types and adds them to `module`. Returns false with a Python error
// set.
bool register_row_types(PyObject* module);

// A new Row for position `pos` of `batch` (a RowBatch), or reuses `recycled` (a Row nobody else
// references) when it is not null. Returns a new reference.
PyObject* make_row(PyObject* batch, Py_ssize_t pos, PyObject* recycled);
bool is_row(PyObject* object);
bool is_row_batch(PyObject* object);
Py_ssize_t row_batch_length(PyObject* batch);
// Makes the batch's rows independent of the chunk's memory (a task's arena block, reused once the
// task ends) for rows that outlive their task: columns read so far become lists and the source
// copies what it still reads from (RowSource.detach). False with a Python error set.
bool detach_row_batch(PyObject* batch);
// The genuine pandas Series for position `pos` (new reference), built by the batch's source.
PyObject* row_batch_series(PyObject* batch, Py_ssize_t pos);
// The Row's own Series (new reference): built on first use and kept, so it carries the row's
// mutations (row["a"] = 5; return row).
PyObject* row_to_series(PyObject* row);

}  // namespace rowpool::python
