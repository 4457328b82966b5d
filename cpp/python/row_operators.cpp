// The Row's operator protocol: arithmetic, comparison, truth value and numpy ufuncs. Every Row
// operand becomes the row's own Series first, so results and errors are exactly pandas'.
// Worker-process code; the GIL must be held.
#include "python/row_operators.hpp"

#include <nanobind/nanobind.h>

#include "python/row.hpp"

namespace nb = nanobind;

namespace rowpool::python {
namespace {

// Operators: every Row operand becomes its Series, so results (and errors) are exactly pandas'.
// Null with an error set.
nb::object operand(PyObject* object) {
  if (is_row(object)) return nb::steal(row_to_series(object));
  return nb::borrow(object);
}

template <typename Op>
PyObject* on_series(PyObject* a, PyObject* b, Op op) {
  nb::object left = operand(a);
  if (!left.is_valid()) return nullptr;
  nb::object right = operand(b);
  if (!right.is_valid()) return nullptr;
  return op(left.ptr(), right.ptr());
}

using Unary = PyObject* (*)(PyObject*);
using Binary = PyObject* (*)(PyObject*, PyObject*);
using Ternary = PyObject* (*)(PyObject*, PyObject*, PyObject*);

template <Unary op>
PyObject* unary(PyObject* self) {
  nb::object series = nb::steal(row_to_series(self));
  if (!series.is_valid()) return nullptr;
  return op(series.ptr());
}

template <Binary op>
PyObject* binary(PyObject* a, PyObject* b) {
  return on_series(a, b, op);
}

template <Ternary op>
PyObject* ternary(PyObject* a, PyObject* b, PyObject* modulo) {
  return on_series(a, b, [&](PyObject* x, PyObject* y) { return op(x, y, modulo); });
}

// row += x: pandas updates the row Series in place and `row` stays that object (still the Row);
// an operation that returns something else (e.g. @=) rebinds `row` to that result, as in pandas.
template <typename Op>
PyObject* in_place(PyObject* self, PyObject* other, Op op) {
  nb::object series = nb::steal(row_to_series(self));
  if (!series.is_valid()) return nullptr;
  nb::object result = nb::steal(on_series(series.ptr(), other, op));
  if (result.is(series)) return Py_NewRef(self);
  return result.release().ptr();
}

template <Binary op>
PyObject* in_place_binary(PyObject* self, PyObject* other) {
  return in_place(self, other, op);
}

template <Ternary op>
PyObject* in_place_ternary(PyObject* self, PyObject* other, PyObject* modulo) {
  return in_place(self, other, [&](PyObject* x, PyObject* y) { return op(x, y, modulo); });
}

// Each Row in `items` (a tuple) from `start` on replaced by its Series; null with an error set.
nb::object operands(PyObject* items, Py_ssize_t start) {
  const Py_ssize_t size = PyTuple_GET_SIZE(items) - start;
  nb::object converted = nb::steal(PyTuple_New(size));
  if (!converted.is_valid()) return converted;
  for (Py_ssize_t i = 0; i < size; ++i) {
    nb::object item = operand(PyTuple_GET_ITEM(items, start + i));
    if (!item.is_valid()) return item;
    PyTuple_SET_ITEM(converted.ptr(), i, item.release().ptr());
  }
  return converted;
}

PyObject* row_richcompare(PyObject* self, PyObject* other, int op) {
  return on_series(self, other,
                   [op](PyObject* x, PyObject* y) { return PyObject_RichCompare(x, y, op); });
}

// bool(row) raises pandas' error (truth value ambiguous). Like a Series, a Row is unhashable: with
// tp_richcompare and no tp_hash, the type gets __hash__ = None.
int row_bool(PyObject* self) {
  nb::object series = nb::steal(row_to_series(self));
  if (!series.is_valid()) return -1;
  return PyObject_IsTrue(series.ptr());
}

}  // namespace

// __array_ufunc__(ufunc, method, *inputs, **kwargs): numpy functions on a row (np.sqrt(row),
// np.add(array, row)) run on its Series, so they return pandas' result, not a bare ndarray.
PyObject* row_array_ufunc(PyObject*, PyObject* args, PyObject* kwargs) {
  if (PyTuple_GET_SIZE(args) < 2) {
    PyErr_SetString(PyExc_TypeError, "__array_ufunc__(ufunc, method, *inputs, **kwargs)");
    return nullptr;
  }
  nb::object call =
      nb::steal(PyObject_GetAttr(PyTuple_GET_ITEM(args, 0), PyTuple_GET_ITEM(args, 1)));
  if (!call.is_valid()) return nullptr;
  nb::object inputs = operands(args, 2);
  if (!inputs.is_valid()) return nullptr;
  if (kwargs == nullptr) return PyObject_Call(call.ptr(), inputs.ptr(), nullptr);
  nb::object options = nb::steal(PyDict_Copy(kwargs));
  if (!options.is_valid()) return nullptr;
  PyObject* out = PyDict_GetItemString(options.ptr(), "out");  // borrowed
  if (out != nullptr && PyTuple_Check(out)) {
    nb::object outputs = operands(out, 0);
    if (!outputs.is_valid() || PyDict_SetItemString(options.ptr(), "out", outputs.ptr()) != 0)
      return nullptr;
  }
  return PyObject_Call(call.ptr(), inputs.ptr(), options.ptr());
}

void append_operator_slots(std::vector<PyType_Slot>& slots) {
  const PyType_Slot operators[] = {
      {Py_tp_richcompare, reinterpret_cast<void*>(row_richcompare)},
      {Py_nb_bool, reinterpret_cast<void*>(row_bool)},
      {Py_nb_negative, reinterpret_cast<void*>(unary<PyNumber_Negative>)},
      {Py_nb_positive, reinterpret_cast<void*>(unary<PyNumber_Positive>)},
      {Py_nb_absolute, reinterpret_cast<void*>(unary<PyNumber_Absolute>)},
      {Py_nb_invert, reinterpret_cast<void*>(unary<PyNumber_Invert>)},
      {Py_nb_add, reinterpret_cast<void*>(binary<PyNumber_Add>)},
      {Py_nb_subtract, reinterpret_cast<void*>(binary<PyNumber_Subtract>)},
      {Py_nb_multiply, reinterpret_cast<void*>(binary<PyNumber_Multiply>)},
      {Py_nb_true_divide, reinterpret_cast<void*>(binary<PyNumber_TrueDivide>)},
      {Py_nb_floor_divide, reinterpret_cast<void*>(binary<PyNumber_FloorDivide>)},
      {Py_nb_remainder, reinterpret_cast<void*>(binary<PyNumber_Remainder>)},
      {Py_nb_divmod, reinterpret_cast<void*>(binary<PyNumber_Divmod>)},
      {Py_nb_power, reinterpret_cast<void*>(ternary<PyNumber_Power>)},
      {Py_nb_matrix_multiply, reinterpret_cast<void*>(binary<PyNumber_MatrixMultiply>)},
      {Py_nb_and, reinterpret_cast<void*>(binary<PyNumber_And>)},
      {Py_nb_or, reinterpret_cast<void*>(binary<PyNumber_Or>)},
      {Py_nb_xor, reinterpret_cast<void*>(binary<PyNumber_Xor>)},
      {Py_nb_inplace_add, reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceAdd>)},
      {Py_nb_inplace_subtract, reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceSubtract>)},
      {Py_nb_inplace_multiply, reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceMultiply>)},
      {Py_nb_inplace_true_divide,
       reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceTrueDivide>)},
      {Py_nb_inplace_floor_divide,
       reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceFloorDivide>)},
      {Py_nb_inplace_remainder,
       reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceRemainder>)},
      {Py_nb_inplace_power, reinterpret_cast<void*>(in_place_ternary<PyNumber_InPlacePower>)},
      {Py_nb_inplace_matrix_multiply,
       reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceMatrixMultiply>)},
      {Py_nb_inplace_and, reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceAnd>)},
      {Py_nb_inplace_or, reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceOr>)},
      {Py_nb_inplace_xor, reinterpret_cast<void*>(in_place_binary<PyNumber_InPlaceXor>)},
  };
  slots.insert(slots.end(), std::begin(operators), std::end(operators));
}

}  // namespace rowpool::python
