#include "python/row.hpp"

#include <new>
#include <vector>

#include "python/row_batch.hpp"
#include "python/row_operators.hpp"

namespace nb = nanobind;

namespace rowpool::python {
namespace {

PyTypeObject* row_type = nullptr;  // set once by register_row_types, never freed

// A row reads its fields from the batch (fast path) until it first needs its genuine Series (a
// Series method or property, an operator, a mutation such as `row["a"] = 5`, `row.a = 5`,
// `row.loc["a"] = 5`, `row += 1`): from then on the row keeps that Series and every read and
// write goes to it, so reads after writes see the new values, as when the row is a pandas Series.
// The Series is a copy: mutating a row never changes other rows or the shared chunk.
struct RowData {
  nanobind::object batch;  // a RowBatch
  Py_ssize_t pos = 0;
  nanobind::object series;  // the row's own Series once needed, else null
};

struct Row {
  PyObject ob_base;
  RowData data;  // constructed by make_row once the object exists, destroyed by dealloc
};

RowData& data_of(PyObject* row) { return reinterpret_cast<Row*>(row)->data; }
RowBatch* batch_of(const RowData& row) { return reinterpret_cast<RowBatch*>(row.batch.ptr()); }

// The row's own Series (new reference), built on first use; every later access of the row uses it.
PyObject* series_of(RowData& row) {
  if (!row.series.is_valid()) {
    row.series = nb::steal(row_batch_series(row.batch.ptr(), row.pos));
    if (!row.series.is_valid()) return nullptr;
  }
  return row.series.inc_ref().ptr();
}

// Column position of subscript `key` for the fast path; -1 (slow path) once the row has its
// Series, since the Series may have been changed.
Py_ssize_t fast_column(const RowData& row, PyObject* key) {
  return row.series.is_valid() ? -1 : find_subscript(batch_of(row), key);
}

// The slow path for everything but field access: `use(series)` on the genuine Series of this row.
// The reference held across `use` (as a Python caller's local would) keeps the Series alive even
// if `use` replaces the row's own.
template <typename Use>
PyObject* with_series(PyObject* self, Use use) {
  nb::object series = nb::steal(series_of(data_of(self)));
  if (!series.is_valid()) return nullptr;
  return use(series.ptr());
}

// Calls method `name` of the row's genuine Series with `args` and `kwargs`.
PyObject* delegate(PyObject* self, const char* name, PyObject* args, PyObject* kwargs) {
  nb::object method =
      nb::steal(with_series(self, [&](PyObject* s) { return PyObject_GetAttrString(s, name); }));
  if (!method.is_valid()) return nullptr;
  return PyObject_Call(method.ptr(), args, kwargs);
}

PyObject* row_subscript(PyObject* self, PyObject* key) {
  RowData& row = data_of(self);
  const Py_ssize_t column = fast_column(row, key);
  if (column >= 0) return cell(batch_of(row), column, row.pos);
  if (column == -2) return nullptr;
  // pandas' own KeyError, list selection, slicing
  return with_series(self, [&](PyObject* s) { return PyObject_GetItem(s, key); });
}

PyObject* row_getattro(PyObject* self, PyObject* name) {
  RowData& row = data_of(self);
  const Py_ssize_t column = find(batch_of(row)->data.attr_lookup.ptr(), name);
  if (column >= 0) {
    if (row.series.is_valid()) return PyObject_GetAttr(row.series.ptr(), name);
    return cell(batch_of(row), column, row.pos);
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
  nb::object series = nb::steal(series_of(data_of(self)));
  if (!series.is_valid()) return -1;
  return PyObject_SetAttr(series.ptr(), name, value);
}

// row["a"] = 5, del row["a"]: like pandas, on the row's own Series. The extra reference held here
// (as a Python caller's local would) keeps pandas' chained-assignment check, which counts
// references, from mistaking the row's Series for a temporary and warning.
int row_ass_subscript(PyObject* self, PyObject* key, PyObject* value) {
  nb::object series = nb::steal(series_of(data_of(self)));
  if (!series.is_valid()) return -1;
  return value != nullptr ? PyObject_SetItem(series.ptr(), key, value)
                          : PyObject_DelItem(series.ptr(), key);
}

Py_ssize_t row_length(PyObject* self) {
  const RowData& row = data_of(self);
  if (row.series.is_valid()) return PyObject_Size(row.series.ptr());
  return PyList_GET_SIZE(batch_of(row)->data.columns.ptr());
}

int row_contains(PyObject* self, PyObject* key) {
  const RowData& row = data_of(self);
  if (row.series.is_valid()) return PySequence_Contains(row.series.ptr(), key);
  PyObject* lookup = batch_of(row)->data.lookup.ptr();
  const Py_ssize_t column = find(lookup, key);
  if (column == -2) return -1;
  if (column >= 0) return 1;
  return PyDict_Contains(lookup, key) == 1 ? 1 : 0;
}

PyObject* row_iter(PyObject* self) {
  return with_series(self, [](PyObject* s) { return PyObject_GetIter(s); });  // Python scalars
}

PyObject* row_repr(PyObject* self) {
  return with_series(self, [](PyObject* s) { return PyObject_Repr(s); });
}

int row_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(data_of(self).series.ptr());  // may hold the row itself (row.me = row)
  return 0;
}

int row_clear(PyObject* self) {
  data_of(self).series = nb::object();  // nulled before the release, as Py_CLEAR does
  return 0;
}

void row_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  data_of(self).~RowData();
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

PyObject* row_name(PyObject* self, void*) {
  const RowData& row = data_of(self);
  if (row.series.is_valid()) return PyObject_GetAttrString(row.series.ptr(), "name");
  return row_label(batch_of(row), row.pos);
}

PyObject* row_index(PyObject* self, void*) {
  const RowData& row = data_of(self);
  if (row.series.is_valid()) return PyObject_GetAttrString(row.series.ptr(), "index");
  return PyObject_GetAttrString(batch_of(row)->data.source.ptr(), "columns");
}

PyObject* row_values(PyObject* self, void*) {
  return with_series(self, [](PyObject* s) { return PyObject_GetAttrString(s, "values"); });
}

PyObject* row_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "get(key, default=None)");
    return nullptr;
  }
  RowData& row = data_of(self);
  const Py_ssize_t column = fast_column(row, args[0]);
  if (column >= 0) return cell(batch_of(row), column, row.pos);
  if (column == -2) return nullptr;
  nb::object tuple = nb::steal(PyTuple_New(nargs));
  if (!tuple.is_valid()) return nullptr;
  for (Py_ssize_t i = 0; i < nargs; ++i) PyTuple_SET_ITEM(tuple.ptr(), i, Py_NewRef(args[i]));
  return delegate(self, "get", tuple.ptr(), nullptr);
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

}  // namespace

bool register_row_types(PyObject* module) {
  std::vector<PyType_Slot> slots;
  for (const PyType_Slot* slot = row_slots; slot->slot != 0; ++slot) slots.push_back(*slot);
  append_operator_slots(slots);
  slots.push_back({0, nullptr});
  PyType_Spec row_spec = {"rowpool._core.Row", sizeof(Row), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots.data()};
  row_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&row_spec));
  if (row_type == nullptr) return false;
  nb::object batch_type = nb::steal(reinterpret_cast<PyObject*>(create_row_batch_type()));
  if (!batch_type.is_valid()) return false;
  // PyModule_AddObjectRef leaves the caller's reference alone, success or not.
  return PyModule_AddObjectRef(module, "Row", reinterpret_cast<PyObject*>(row_type)) == 0 &&
         PyModule_AddObjectRef(module, "RowBatch", batch_type.ptr()) == 0;
}

PyObject* make_row(PyObject* batch, Py_ssize_t pos, PyObject* recycled) {
  if (recycled != nullptr && Py_REFCNT(recycled) == 1 && data_of(recycled).batch.is(batch)) {
    RowData& row = data_of(recycled);
    row.pos = pos;
    row.series = nb::object();  // the previous row's mutations
    return Py_NewRef(recycled);
  }
  Row* row = PyObject_GC_New(Row, row_type);
  if (row == nullptr) return nullptr;
  new (&row->data) RowData{nb::borrow(batch), pos, nb::object()};
  PyObject_GC_Track(row);
  return reinterpret_cast<PyObject*>(row);
}

bool is_row(PyObject* object) { return Py_TYPE(object) == row_type; }

PyObject* row_to_series(PyObject* row) { return series_of(data_of(row)); }

}  // namespace rowpool::python
