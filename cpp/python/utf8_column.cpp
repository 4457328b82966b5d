#include "python/utf8_column.hpp"

namespace rowpool::python {

PyObject* utf8_values(const std::int64_t* offsets, const std::uint8_t* valid, const char* data,
                      std::size_t data_bytes, std::size_t rows, PyObject* missing) {
  PyObject* values = PyList_New(static_cast<Py_ssize_t>(rows));
  if (values == nullptr) return nullptr;
  for (std::size_t i = 0; i < rows; ++i) {
    PyObject* value;
    if (valid[i] == 0) {
      Py_INCREF(missing);
      value = missing;
    } else {
      const std::int64_t begin = offsets[i];
      const std::int64_t end = offsets[i + 1];
      if (begin < 0 || end < begin || static_cast<std::uint64_t>(end) > data_bytes) {
        Py_DECREF(values);
        PyErr_Format(PyExc_ValueError, "string column: offsets %lld..%lld of row %zu out of bounds",
                     static_cast<long long>(begin), static_cast<long long>(end), i);
        return nullptr;
      }
      value = PyUnicode_DecodeUTF8(data + begin, end - begin, "strict");
      if (value == nullptr) {
        Py_DECREF(values);
        return nullptr;
      }
    }
    PyList_SET_ITEM(values, static_cast<Py_ssize_t>(i), value);
  }
  return values;
}

}  // namespace rowpool::python
