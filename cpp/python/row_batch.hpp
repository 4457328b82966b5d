// RowBatch internals shared by row.cpp and row_batch.cpp (the public interface is row.hpp).
// A RowBatch owns, through nb::object members, its source and what it read from it; the columns
// it materialises stay until the batch goes. Worker-process objects: the GIL must be held.
#pragma once

#include <Python.h>
#include <nanobind/nanobind.h>

namespace rowpool::python {

// The source is a Python object (rowpool._rows.RowSource) that knows the pandas side: column names,
// the per-row values of a column, the row labels, and how to build a genuine Series for a row.
struct RowBatchData {
  nanobind::object source;
  nanobind::object lookup;       // dict: column label -> position (-1 for duplicated labels)
  nanobind::object attr_lookup;  // dict: column label reachable as an attribute -> position
  nanobind::object labels;       // list: row labels of this chunk
  nanobind::object columns;      // list: per column, its per-row values (a list) or None until read
  Py_ssize_t rows = 0;
};

struct RowBatch {
  PyObject ob_base;
  RowBatchData
      data;  // constructed by RowBatch.__new__ once the object exists, destroyed by dealloc
};

// The per-row values of column `column` (borrowed from the batch), read from the source on first
// use; null with an error set.
PyObject* read_column(RowBatch* batch, Py_ssize_t column);

// Value of column `column` at row `pos` (new reference), or null with an error set. Inline: the
// row loop reads every field through it.
inline PyObject* cell(RowBatch* batch, Py_ssize_t column, Py_ssize_t pos) {
  PyObject* values = PyList_GET_ITEM(batch->data.columns.ptr(), column);
  if (values == Py_None) values = read_column(batch, column);
  return values != nullptr ? Py_NewRef(PyList_GET_ITEM(values, pos)) : nullptr;
}

// Position of `key` in `table` (a dict), -1 when absent or not a single column; -2 with an error.
inline Py_ssize_t find(PyObject* table, PyObject* key) {
  PyObject* found = PyDict_GetItemWithError(table, key);
  if (found != nullptr) return PyLong_AsSsize_t(found);
  if (!PyErr_Occurred()) return -1;
  if (!PyErr_ExceptionMatches(PyExc_TypeError)) return -2;
  PyErr_Clear();  // unhashable key (a list of labels): the Series path answers it
  return -1;
}

// The RowBatch type (a new reference), or null with an error set.
PyTypeObject* create_row_batch_type();

}  // namespace rowpool::python
