#include "python/row_batch.hpp"

#include <new>

#include "python/row.hpp"

namespace nb = nanobind;

namespace rowpool::python {
namespace {

PyTypeObject* batch_type = nullptr;  // set once by create_row_batch_type, never freed

// Reads attribute `name` of `source`; null with an error set.
nb::object attribute(PyObject* source, const char* name) {
  return nb::steal(PyObject_GetAttrString(source, name));
}

// RowBatch(source): `source` provides lookup, attr_lookup, rows, width, labels, columns (Index),
// column(j), series(pos) and detach().
PyObject* batch_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"source", nullptr};
  PyObject* source = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O", const_cast<char**>(keywords), &source))
    return nullptr;
  nb::object lookup = attribute(source, "lookup");
  if (!lookup.is_valid()) return nullptr;
  nb::object attr_lookup = attribute(source, "attr_lookup");
  if (!attr_lookup.is_valid()) return nullptr;
  nb::object length = attribute(source, "rows");
  if (!length.is_valid()) return nullptr;
  nb::object width = attribute(source, "width");
  if (!width.is_valid()) return nullptr;
  if (!PyDict_CheckExact(lookup.ptr()) || !PyDict_CheckExact(attr_lookup.ptr())) {
    PyErr_SetString(PyExc_TypeError, "RowSource needs dict lookups");
    return nullptr;
  }
  const Py_ssize_t rows = PyLong_AsSsize_t(length.ptr());
  if (rows < 0) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "RowSource.rows must be >= 0");
    return nullptr;
  }
  const Py_ssize_t columns = PyLong_AsSsize_t(width.ptr());
  if (columns < 0) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "RowSource.width must be >= 0");
    return nullptr;
  }
  nb::object values = nb::steal(PyList_New(columns));
  if (!values.is_valid()) return nullptr;
  for (Py_ssize_t i = 0; i < columns; ++i) PyList_SET_ITEM(values.ptr(), i, Py_NewRef(Py_None));

  PyObject* self = type->tp_alloc(type, 0);
  if (self == nullptr) return nullptr;
  new (&reinterpret_cast<RowBatch*>(self)->data)
      RowBatchData{nb::borrow(source),
                   std::move(lookup),
                   std::move(attr_lookup),
                   nb::object(),
                   std::move(values),
                   std::vector<const ScalarColumn*>(static_cast<std::size_t>(columns), nullptr),
                   rows};
  return self;
}

void batch_dealloc(PyObject* self) {
  reinterpret_cast<RowBatch*>(self)->data.~RowBatchData();
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

Py_ssize_t batch_length(PyObject* self) { return reinterpret_cast<RowBatch*>(self)->data.rows; }

PyObject* batch_item(PyObject* self, Py_ssize_t pos) {
  if (pos < 0 || pos >= reinterpret_cast<RowBatch*>(self)->data.rows) {
    PyErr_SetString(PyExc_IndexError, "row position out of range");
    return nullptr;
  }
  return make_row(self, pos, nullptr);
}

PyType_Slot batch_slots[] = {
    {Py_tp_doc, const_cast<char*>("The rows of one chunk; batch[i] is a Row.")},
    {Py_tp_new, reinterpret_cast<void*>(batch_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(batch_dealloc)},
    {Py_sq_length, reinterpret_cast<void*>(batch_length)},
    {Py_sq_item, reinterpret_cast<void*>(batch_item)},
    {0, nullptr}};

PyType_Spec batch_spec = {"rowpool._core.RowBatch", sizeof(RowBatch), 0, Py_TPFLAGS_DEFAULT,
                          batch_slots};

}  // namespace

bool read_column(RowBatch* batch, Py_ssize_t column) {
  RowBatchData& data = batch->data;
  nb::object read = nb::steal(PyObject_CallMethod(data.source.ptr(), "column", "n", column));
  if (!read.is_valid()) return false;
  const ScalarColumn* boxed = nullptr;
  Py_ssize_t rows = -1;
  if (PyList_CheckExact(read.ptr())) {
    rows = PyList_GET_SIZE(read.ptr());
  } else if (nb::isinstance<ScalarColumn>(read)) {
    boxed = nb::inst_ptr<ScalarColumn>(read);
    rows = static_cast<Py_ssize_t>(boxed->rows());
  }
  if (rows != data.rows) {
    PyErr_SetString(PyExc_RuntimeError,
                    "RowSource.column must return a list or a ScalarColumn, one value a row");
    return false;
  }
  data.boxed[static_cast<std::size_t>(column)] = boxed;
  PyList_SetItem(data.columns.ptr(), column, read.release().ptr());  // the list owns it now
  return true;
}

PyObject* row_label(RowBatch* batch, Py_ssize_t pos) {
  RowBatchData& data = batch->data;
  if (!data.labels.is_valid()) {
    nb::object labels = attribute(data.source.ptr(), "labels");
    if (!labels.is_valid()) return nullptr;
    if (!PyList_CheckExact(labels.ptr()) || PyList_GET_SIZE(labels.ptr()) != data.rows) {
      PyErr_SetString(PyExc_RuntimeError, "RowSource.labels must be a list, one label a row");
      return nullptr;
    }
    data.labels = std::move(labels);
  }
  return Py_NewRef(PyList_GET_ITEM(data.labels.ptr(), pos));
}

bool detach_row_batch(PyObject* batch) {
  RowBatchData& data = reinterpret_cast<RowBatch*>(batch)->data;
  for (std::size_t column = 0; column < data.boxed.size(); ++column) {
    if (data.boxed[column] == nullptr) continue;
    PyObject* values = nullptr;
    try {
      values = data.boxed[column]->values().release().ptr();
    } catch (nb::python_error& error) {
      error.restore();
      return false;
    }
    data.boxed[column] = nullptr;  // before the ScalarColumn goes with the list's old item
    PyList_SetItem(data.columns.ptr(), static_cast<Py_ssize_t>(column), values);
  }
  return nb::steal(PyObject_CallMethod(data.source.ptr(), "detach", nullptr)).is_valid();
}

PyTypeObject* create_row_batch_type() {
  batch_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&batch_spec));
  return reinterpret_cast<PyTypeObject*>(Py_XNewRef(batch_type));
}

bool is_row_batch(PyObject* object) { return Py_TYPE(object) == batch_type; }

Py_ssize_t row_batch_length(PyObject* batch) {
  return reinterpret_cast<RowBatch*>(batch)->data.rows;
}

PyObject* row_batch_series(PyObject* batch, Py_ssize_t pos) {
  return PyObject_CallMethod(reinterpret_cast<RowBatch*>(batch)->data.source.ptr(), "series", "n",
                             pos);
}

}  // namespace rowpool::python
