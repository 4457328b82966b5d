#include "python/cell_column.hpp"

#include <string>

namespace nb = nanobind;

namespace rowpool::python {
namespace {

// table[code + 1] (a new reference); raises for a code outside the table.
PyObject* category(PyObject* table, std::int64_t code) {
  const Py_ssize_t size = PyList_GET_SIZE(table);
  if (code < -1 || code + 1 >= size)
    throw nb::value_error(("categorical column: code " + std::to_string(code) + " outside its " +
                           std::to_string(size - 1) + " categories")
                              .c_str());
  return Py_NewRef(PyList_GET_ITEM(table, static_cast<Py_ssize_t>(code + 1)));
}

// The value of `row` boxed as the Python scalar of its kind (a new reference, null with an error).
PyObject* boxed(const CellBuffer& cells, std::size_t row) {
  switch (cells.kind()) {
    case CellKind::kBool:
      return Py_NewRef(cells.bool_at(row) ? Py_True : Py_False);
    case CellKind::kSigned:
      return PyLong_FromLongLong(cells.signed_at(row));
    case CellKind::kUnsigned:
      return PyLong_FromUnsignedLongLong(cells.unsigned_at(row));
    case CellKind::kFloat:
      return PyFloat_FromDouble(cells.float_at(row));
  }
  PyErr_SetString(PyExc_ValueError, "cell column of an unknown kind");
  return nullptr;
}

}  // namespace

nb::list cell_values(const CellBuffer& cells, nb::handle missing, nb::handle table) {
  const bool coded = !table.is_none();
  if (coded && (!PyList_CheckExact(table.ptr()) || cells.kind() != CellKind::kSigned))
    throw nb::type_error("categorical column: needs signed codes and a list of categories");
  const std::size_t rows = cells.rows();
  nb::list values = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(rows)));
  if (!values.is_valid()) throw nb::python_error();
  for (std::size_t i = 0; i < rows; ++i) {
    PyObject* value = nullptr;
    if (cells.missing(i))
      value = Py_NewRef(missing.ptr());
    else if (coded)
      value = category(table.ptr(), cells.signed_at(i));
    else if ((value = boxed(cells, i)) == nullptr)
      throw nb::python_error();
    PyList_SET_ITEM(values.ptr(), static_cast<Py_ssize_t>(i), value);
  }
  return values;
}

}  // namespace rowpool::python
