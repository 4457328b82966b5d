#include "python/utf8_column.hpp"

#include <string>

namespace nb = nanobind;

namespace rowpool::python {

nb::list utf8_values(const std::int64_t* offsets, const std::uint8_t* valid, const char* data,
                     std::size_t data_bytes, std::size_t rows, nb::handle missing) {
  nb::list values = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(rows)));
  if (!values.is_valid()) throw nb::python_error();
  for (std::size_t i = 0; i < rows; ++i) {
    nb::object value;
    if (valid[i] == 0) {
      value = nb::borrow(missing);
    } else {
      const std::int64_t begin = offsets[i];
      const std::int64_t end = offsets[i + 1];
      if (begin < 0 || end < begin || static_cast<std::uint64_t>(end) > data_bytes)
        throw nb::value_error(("string column: offsets " + std::to_string(begin) + ".." +
                               std::to_string(end) + " of row " + std::to_string(i) +
                               " out of bounds")
                                  .c_str());
      value = nb::steal(PyUnicode_DecodeUTF8(data + begin, end - begin, "strict"));
      if (!value.is_valid()) throw nb::python_error();
    }
    PyList_SET_ITEM(values.ptr(), static_cast<Py_ssize_t>(i), value.release().ptr());
  }
  return values;
}

}  // namespace rowpool::python
