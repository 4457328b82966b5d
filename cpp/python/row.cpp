#include "python/row.hpp"

#include <structmember.h>

#include <vector>

#include "python/row_operators.hpp"

namespace rowpool::python {
namespace {

PyTypeObject* row_type = nullptr;
PyTypeObject* batch_type = nullptr;

// The source is a Python object (rowpool._rows.RowSource) that knows the pandas side: column names,
// the per-row values of a column, the row labels, and how to build a genuine Series for a row.
struct RowBatch {
  PyObject_HEAD PyObject* source;
  PyObject* lookup;       // dict: column label -> position (-1 for duplicated labels)
  PyObject* attr_lookup;  // dict: column label reachable as an attribute -> position
  PyObject* labels;       // list: row labels of this chunk
  PyObject* columns;      // list: per column, its per-row values (a list) or None until read
  Py_ssize_t rows;
};

// A row reads its fields from the batch (fast path) until it first needs its genuine Series (a
// Series method or property, an operator, a mutation such as `row["a"] = 5`, `row.a = 5`,
// `row.loc["a"] = 5`, `row += 1`): from then on the row keeps that Series and every read and
// write goes to it, so reads after writes see the new values, as when the row is a pandas Series.
// The Series is a copy: mutating a row never changes other rows or the shared chunk.
struct Row {
  PyObject_HEAD RowBatch* batch;
  Py_ssize_t pos;
  PyObject* series;  // the row's own Series once needed, else null
};

// Value of column `column` at row `pos` (new reference); materialises the column on first use.
PyObject* cell(RowBatch* batch, Py_ssize_t column, Py_ssize_t pos) {
  PyObject* values = PyList_GET_ITEM(batch->columns, column);
  if (values == Py_None) {
    values = PyObject_CallMethod(batch->source, "column", "n", column);
    if (values == nullptr) return nullptr;
    if (!PyList_CheckExact(values) || PyList_GET_SIZE(values) != batch->rows) {
      Py_DECREF(values);
      PyErr_SetString(PyExc_RuntimeError, "RowSource.column must return a list, one value a row");
      return nullptr;
    }
    PyList_SetItem(batch->columns, column, values);  // steals the reference
  }
  PyObject* value = PyList_GET_ITEM(values, pos);
  Py_INCREF(value);
  return value;
}

// Position of `key` in `table`, -1 when absent or not a single column; -2 with an error set.
Py_ssize_t find(PyObject* table, PyObject* key) {
  PyObject* found = PyDict_GetItemWithError(table, key);
  if (found == nullptr) {
    if (!PyErr_Occurred()) return -1;
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) return -2;
    PyErr_Clear();  // unhashable key (a list of labels): the Series path answers it
    return -1;
  }
  return PyLong_AsSsize_t(found);
}

// The row's own Series (new reference), built on first use; every later access of the row uses it.
PyObject* series_of(Row* row) {
  if (row->series == nullptr) {
    row->series = row_batch_series(reinterpret_cast<PyObject*>(row->batch), row->pos);
    if (row->series == nullptr) return nullptr;
  }
  Py_INCREF(row->series);
  return row->series;
}

// Column position of `key` in `table` for the fast path; -1 (slow path) once the row has its
// Series, since the Series may have been changed.
Py_ssize_t fast_column(PyObject* self, PyObject* table, PyObject* key) {
  return reinterpret_cast<Row*>(self)->series != nullptr ? -1 : find(table, key);
}

// The slow path for everything but field access: `use(series)` on the genuine Series of this row.
template <typename Use>
PyObject* with_series(PyObject* self, Use use) {
  PyObject* series = series_of(reinterpret_cast<Row*>(self));
  if (series == nullptr) return nullptr;
  PyObject* result = use(series);
  Py_DECREF(series);
  return result;
}

// Calls method `name` of the row's genuine Series with `args` and `kwargs`.
PyObject* delegate(PyObject* self, const char* name, PyObject* args, PyObject* kwargs) {
  PyObject* method =
      with_series(self, [&](PyObject* s) { return PyObject_GetAttrString(s, name); });
  if (method == nullptr) return nullptr;
  PyObject* result = PyObject_Call(method, args, kwargs);
  Py_DECREF(method);
  return result;
}

PyObject* row_subscript(PyObject* self, PyObject* key) {
  Row* row = reinterpret_cast<Row*>(self);
  const Py_ssize_t column = fast_column(self, row->batch->lookup, key);
  if (column >= 0) return cell(row->batch, column, row->pos);
  if (column == -2) return nullptr;
  // pandas' own KeyError, list selection, slicing
  return with_series(self, [&](PyObject* s) { return PyObject_GetItem(s, key); });
}

PyObject* row_getattro(PyObject* self, PyObject* name) {
  Row* row = reinterpret_cast<Row*>(self);
  const Py_ssize_t column = find(row->batch->attr_lookup, name);
  if (column >= 0) {
    if (row->series != nullptr) return PyObject_GetAttr(row->series, name);
    return cell(row->batch, column, row->pos);
  }
  if (column == -2) return nullptr;
  PyObject* own = PyObject_GenericGetAttr(self, name);
  if (own != nullptr || !PyErr_ExceptionMatches(PyExc_AttributeError)) return own;
  PyErr_Clear();
  // Series methods and properties: row.sum(), row.dtype, row.isna() ...
  return with_series(self, [&](PyObject* s) { return PyObject_GetAttr(s, name); });
}

// row.a = 5, row.name = "x", del row.a: like pandas, on the row's own Series.
int row_setattro(PyObject* self, PyObject* name, PyObject* value) {
  PyObject* series = series_of(reinterpret_cast<Row*>(self));
  if (series == nullptr) return -1;
  const int status = PyObject_SetAttr(series, name, value);
  Py_DECREF(series);
  return status;
}

// row["a"] = 5, del row["a"]: like pandas, on the row's own Series. The extra reference held here
// (as a Python caller's local would) keeps pandas' chained-assignment check, which counts
// references, from mistaking the row's Series for a temporary and warning.
int row_ass_subscript(PyObject* self, PyObject* key, PyObject* value) {
  PyObject* series = series_of(reinterpret_cast<Row*>(self));
  if (series == nullptr) return -1;
  const int status =
      value != nullptr ? PyObject_SetItem(series, key, value) : PyObject_DelItem(series, key);
  Py_DECREF(series);
  return status;
}

Py_ssize_t row_length(PyObject* self) {
  Row* row = reinterpret_cast<Row*>(self);
  if (row->series != nullptr) return PyObject_Size(row->series);
  return PyList_GET_SIZE(row->batch->columns);
}

int row_contains(PyObject* self, PyObject* key) {
  if (reinterpret_cast<Row*>(self)->series != nullptr)
    return PySequence_Contains(reinterpret_cast<Row*>(self)->series, key);
  const Py_ssize_t column = find(reinterpret_cast<Row*>(self)->batch->lookup, key);
  if (column == -2) return -1;
  if (column >= 0) return 1;
  return PyDict_Contains(reinterpret_cast<Row*>(self)->batch->lookup, key) == 1 ? 1 : 0;
}

PyObject* row_iter(PyObject* self) {
  return with_series(self, [](PyObject* s) { return PyObject_GetIter(s); });  // Python scalars
}

PyObject* row_repr(PyObject* self) {
  return with_series(self, [](PyObject* s) { return PyObject_Repr(s); });
}

int row_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(reinterpret_cast<Row*>(self)->series);  // may hold the row itself (row.me = row)
  return 0;
}

int row_clear(PyObject* self) {
  Py_CLEAR(reinterpret_cast<Row*>(self)->series);
  return 0;
}

void row_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  Py_XDECREF(reinterpret_cast<Row*>(self)->batch);
  Py_XDECREF(reinterpret_cast<Row*>(self)->series);
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

PyObject* row_name(PyObject* self, void*) {
  Row* row = reinterpret_cast<Row*>(self);
  if (row->series != nullptr) return PyObject_GetAttrString(row->series, "name");
  PyObject* label = PyList_GET_ITEM(row->batch->labels, row->pos);
  Py_INCREF(label);
  return label;
}

PyObject* row_index(PyObject* self, void*) {
  Row* row = reinterpret_cast<Row*>(self);
  if (row->series != nullptr) return PyObject_GetAttrString(row->series, "index");
  return PyObject_GetAttrString(reinterpret_cast<Row*>(self)->batch->source, "columns");
}

PyObject* row_values(PyObject* self, void*) {
  return with_series(self, [](PyObject* s) { return PyObject_GetAttrString(s, "values"); });
}

PyObject* row_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "get(key, default=None)");
    return nullptr;
  }
  Row* row = reinterpret_cast<Row*>(self);
  const Py_ssize_t column = fast_column(self, row->batch->lookup, args[0]);
  if (column >= 0) return cell(row->batch, column, row->pos);
  if (column == -2) return nullptr;
  PyObject* tuple = PyTuple_New(nargs);
  for (Py_ssize_t i = 0; i < nargs; ++i) {
    Py_INCREF(args[i]);
    PyTuple_SET_ITEM(tuple, i, args[i]);
  }
  PyObject* result = delegate(self, "get", tuple, nullptr);
  Py_DECREF(tuple);
  return result;
}

#define ROWPOOL_DELEGATE(method)                                             \
  PyObject* row_##method(PyObject* self, PyObject* args, PyObject* kwargs) { \
    return delegate(self, #method, args, kwargs);                            \
  }
ROWPOOL_DELEGATE(to_dict)
ROWPOOL_DELEGATE(items)
ROWPOOL_DELEGATE(keys)
ROWPOOL_DELEGATE(__array__)
ROWPOOL_DELEGATE(__round__)
#undef ROWPOOL_DELEGATE

// The row's own Series: later reads and writes of either are shared.
PyObject* row_to_series_method(PyObject* self, PyObject*) { return row_to_series(self); }

// Pickling a row (e.g. returned as a result) pickles the equivalent pandas Series.
PyObject* row_reduce(PyObject* self, PyObject*) {
  return with_series(self,
                     [](PyObject* s) { return PyObject_CallMethod(s, "__reduce__", nullptr); });
}

PyMethodDef row_methods[] = {
    {"get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row_get)), METH_FASTCALL,
     "get(key, default=None): the value of column `key`, or `default` when there is none."},
    {"to_dict", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row_to_dict)),
     METH_VARARGS | METH_KEYWORDS, "Like pandas.Series.to_dict()."},
    {"items", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row_items)),
     METH_VARARGS | METH_KEYWORDS, "Like pandas.Series.items(): (column, value) pairs."},
    {"keys", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row_keys)),
     METH_VARARGS | METH_KEYWORDS, "The column labels, like pandas.Series.keys()."},
    {"__array__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row___array__)),
     METH_VARARGS | METH_KEYWORDS, "numpy conversion, like pandas.Series.__array__."},
    {"__array_ufunc__",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row_array_ufunc)),
     METH_VARARGS | METH_KEYWORDS, "numpy ufuncs run on the row's Series, as pandas'."},
    {"__round__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(row___round__)),
     METH_VARARGS | METH_KEYWORDS, "round(row, n), like pandas.Series.__round__."},
    {"to_series", row_to_series_method, METH_NOARGS,
     "The row as a genuine pandas.Series; the row reads and writes that Series from then on."},
    {"__reduce__", row_reduce, METH_NOARGS, "Pickles as the equivalent pandas.Series."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef row_getset[] = {
    {"name", row_name, nullptr, "The row's index label (a tuple for a MultiIndex).", nullptr},
    {"index", row_index, nullptr, "The column labels (a pandas.Index).", nullptr},
    {"values", row_values, nullptr, "The row's values, like pandas.Series.values.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot row_slots[] = {
    {Py_tp_doc, const_cast<char*>(
                    "One row of the frame, as handed to the applied function. Behaves like the "
                    "pandas row Series for everyday use; other Series attributes are answered by a "
                    "genuine Series built on demand.")},
    {Py_tp_dealloc, reinterpret_cast<void*>(row_dealloc)},
    {Py_tp_getattro, reinterpret_cast<void*>(row_getattro)},
    {Py_tp_repr, reinterpret_cast<void*>(row_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(row_iter)},
    {Py_tp_methods, row_methods},
    {Py_tp_getset, row_getset},
    {Py_tp_setattro, reinterpret_cast<void*>(row_setattro)},
    {Py_tp_traverse, reinterpret_cast<void*>(row_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(row_clear)},
    {Py_mp_subscript, reinterpret_cast<void*>(row_subscript)},
    {Py_mp_ass_subscript, reinterpret_cast<void*>(row_ass_subscript)},
    {Py_mp_length, reinterpret_cast<void*>(row_length)},
    {Py_sq_contains, reinterpret_cast<void*>(row_contains)},
    {0, nullptr}};

// RowBatch(source): `source` provides lookup, attr_lookup, labels, columns (Index), column(j)
// and series(pos).
PyObject* batch_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"source", nullptr};
  PyObject* source = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O", const_cast<char**>(keywords), &source))
    return nullptr;
  PyObject* lookup = PyObject_GetAttrString(source, "lookup");
  PyObject* attr_lookup = PyObject_GetAttrString(source, "attr_lookup");
  PyObject* labels = PyObject_GetAttrString(source, "labels");
  PyObject* width = PyObject_GetAttrString(source, "width");
  auto fail = [&]() -> PyObject* {
    Py_XDECREF(lookup);
    Py_XDECREF(attr_lookup);
    Py_XDECREF(labels);
    Py_XDECREF(width);
    return nullptr;
  };
  if (!lookup || !attr_lookup || !labels || !width) return fail();
  if (!PyDict_CheckExact(lookup) || !PyDict_CheckExact(attr_lookup) || !PyList_CheckExact(labels)) {
    PyErr_SetString(PyExc_TypeError, "RowSource needs dict lookups and a list of labels");
    return fail();
  }
  const Py_ssize_t columns = PyLong_AsSsize_t(width);
  if (columns < 0) return fail();
  Py_DECREF(width);
  width = nullptr;
  auto* batch = reinterpret_cast<RowBatch*>(type->tp_alloc(type, 0));
  if (batch == nullptr) return fail();
  batch->columns = PyList_New(columns);
  for (Py_ssize_t i = 0; i < columns; ++i) {
    Py_INCREF(Py_None);
    PyList_SET_ITEM(batch->columns, i, Py_None);
  }
  Py_INCREF(source);
  batch->source = source;
  batch->lookup = lookup;
  batch->attr_lookup = attr_lookup;
  batch->labels = labels;
  batch->rows = PyList_GET_SIZE(labels);
  return reinterpret_cast<PyObject*>(batch);
}

void batch_dealloc(PyObject* self) {
  auto* batch = reinterpret_cast<RowBatch*>(self);
  Py_XDECREF(batch->source);
  Py_XDECREF(batch->lookup);
  Py_XDECREF(batch->attr_lookup);
  Py_XDECREF(batch->labels);
  Py_XDECREF(batch->columns);
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

Py_ssize_t batch_length(PyObject* self) { return reinterpret_cast<RowBatch*>(self)->rows; }

PyObject* batch_item(PyObject* self, Py_ssize_t pos) {
  if (pos < 0 || pos >= reinterpret_cast<RowBatch*>(self)->rows) {
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

bool register_row_types(PyObject* module) {
  std::vector<PyType_Slot> slots;
  for (const PyType_Slot* slot = row_slots; slot->slot != 0; ++slot) slots.push_back(*slot);
  append_operator_slots(slots);
  slots.push_back({0, nullptr});
  PyType_Spec row_spec = {"rowpool._core.Row", sizeof(Row), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots.data()};
  row_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&row_spec));
  batch_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&batch_spec));
  if (row_type == nullptr || batch_type == nullptr) return false;
  Py_INCREF(row_type);
  Py_INCREF(batch_type);
  return PyModule_AddObject(module, "Row", reinterpret_cast<PyObject*>(row_type)) == 0 &&
         PyModule_AddObject(module, "RowBatch", reinterpret_cast<PyObject*>(batch_type)) == 0;
}

PyObject* make_row(PyObject* batch, Py_ssize_t pos, PyObject* recycled) {
  Row* row = reinterpret_cast<Row*>(recycled);
  if (row != nullptr && Py_REFCNT(recycled) == 1 &&
      row->batch == reinterpret_cast<RowBatch*>(batch)) {
    Py_INCREF(recycled);
    row->pos = pos;
    Py_CLEAR(row->series);  // the previous row's mutations
    return recycled;
  }
  row = PyObject_GC_New(Row, row_type);
  if (row == nullptr) return nullptr;
  Py_INCREF(batch);
  row->batch = reinterpret_cast<RowBatch*>(batch);
  row->pos = pos;
  row->series = nullptr;
  PyObject_GC_Track(row);
  return reinterpret_cast<PyObject*>(row);
}

bool is_row(PyObject* object) { return Py_TYPE(object) == row_type; }
bool is_row_batch(PyObject* object) { return Py_TYPE(object) == batch_type; }
Py_ssize_t row_batch_length(PyObject* batch) { return reinterpret_cast<RowBatch*>(batch)->rows; }

PyObject* row_batch_series(PyObject* batch, Py_ssize_t pos) {
  return PyObject_CallMethod(reinterpret_cast<RowBatch*>(batch)->source, "series", "n", pos);
}

PyObject* row_to_series(PyObject* row) { return series_of(reinterpret_cast<Row*>(row)); }

}  // namespace rowpool::python
