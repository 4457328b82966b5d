#include "python/scalar_column.hpp"

#include <cstring>

namespace nb = nanobind;

namespace rowpool::python {
namespace {

// `value` as an instance of `type`, a subclass of float adding nothing to its layout (checked by
// ScalarColumn::cells), made as the type makes its own: numpy.float64 values as numpy does.
PyObject* boxed_as(PyTypeObject* type, double value) {
  PyObject* boxed = type->tp_alloc(type, 0);
  if (boxed != nullptr) reinterpret_cast<PyFloatObject*>(boxed)->ob_fval = value;
  return boxed;
}

// Strings longer than this are decoded on every read: they rarely repeat, and comparing them costs
// what decoding them does.
constexpr std::int64_t kMaxRememberedTextBytes = 64;

std::size_t text_hash(const unsigned char* bytes, std::int64_t size) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (std::int64_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 16777619u;
  return hash;
}

}  // namespace

ScalarColumn ScalarColumn::cells(Bytes buffer, std::size_t rows, char kind, std::size_t itemsize,
                                 bool masked, nb::object missing, nb::object table,
                                 nb::object float_type) {
  ScalarColumn column;
  column.cells_.emplace(buffer.data(), buffer.shape(0), rows, static_cast<CellKind>(kind), itemsize,
                        masked);
  if (!table.is_none()) {
    if (!PyList_CheckExact(table.ptr()) || column.cells_->kind() != CellKind::kSigned)
      throw nb::type_error("categorical column: needs signed codes and a list of categories");
    column.table_ = std::move(table);
  }
  if (!float_type.is_none()) {
    // Its instances are written as floats (and reused, see boxed_float): it must add nothing to
    // float's layout, not even a weakref or dict slot.
    auto* type = reinterpret_cast<PyTypeObject*>(float_type.ptr());
    if (!PyType_Check(float_type.ptr()) || !PyType_IsSubtype(type, &PyFloat_Type) ||
        type->tp_basicsize != static_cast<Py_ssize_t>(sizeof(PyFloatObject)) ||
        type->tp_weaklistoffset != 0 || type->tp_dictoffset != 0 ||
        column.cells_->kind() != CellKind::kFloat || itemsize != sizeof(double) ||
        column.table_.is_valid())
      throw nb::type_error(
          "float_type: needs 8-byte floats and a subclass of float laid out as float");
    column.float_type_ = type;
    column.float_type_owner_ = std::move(float_type);
  }
  column.rows_ = rows;
  column.buffer_ = std::move(buffer);
  column.missing_ = std::move(missing);
  return column;
}

ScalarColumn ScalarColumn::utf8(Offsets offsets, Bytes valid, Bytes data, nb::object missing) {
  const std::size_t rows = valid.shape(0);
  if (offsets.shape(0) != rows + 1) throw nb::value_error("need one more offset than rows");
  ScalarColumn column;
  column.rows_ = rows;
  column.offsets_ = std::move(offsets);
  column.valid_ = std::move(valid);
  column.buffer_ = std::move(data);
  column.missing_ = std::move(missing);
  return column;
}

PyObject* ScalarColumn::at(std::size_t row) const { return cells_ ? cell_at(row) : utf8_at(row); }

PyObject* ScalarColumn::cell_at(std::size_t row) const {
  const CellBuffer& cells = *cells_;
  if (cells.missing(row)) return Py_NewRef(missing_.ptr());
  if (table_.is_valid()) {
    const std::int64_t code = cells.signed_at(row);
    const Py_ssize_t size = PyList_GET_SIZE(table_.ptr());
    if (code < -1 || code + 1 >= size) {
      PyErr_Format(PyExc_ValueError, "categorical column: code %lld outside its %zd categories",
                   static_cast<long long>(code), size - 1);
      return nullptr;
    }
    return Py_NewRef(PyList_GET_ITEM(table_.ptr(), static_cast<Py_ssize_t>(code + 1)));
  }
  switch (cells.kind()) {
    case CellKind::kBool:
      return Py_NewRef(cells.bool_at(row) ? Py_True : Py_False);
    case CellKind::kSigned:
      return PyLong_FromLongLong(cells.signed_at(row));
    case CellKind::kUnsigned:
      return PyLong_FromUnsignedLongLong(cells.unsigned_at(row));
    case CellKind::kFloat:
      return float_type_ != nullptr ? boxed_float(cells.float_at(row))
                                    : PyFloat_FromDouble(cells.float_at(row));
  }
  PyErr_SetString(PyExc_ValueError, "cell column of an unknown kind");
  return nullptr;
}

// A float_type_ instance nobody else references cannot be told from a new one (its type has no
// weakref or dict slot: checked by cells), so writing the value into it is boxing it anew.
PyObject* ScalarColumn::boxed_float(double value) const {
  PyObject* spare = spare_.ptr();
  if (spare != nullptr && Py_REFCNT(spare) == 1) {
    reinterpret_cast<PyFloatObject*>(spare)->ob_fval = value;
    return Py_NewRef(spare);
  }
  PyObject* boxed = boxed_as(float_type_, value);
  if (boxed != nullptr) spare_ = nb::borrow(boxed);
  return boxed;
}

PyObject* ScalarColumn::utf8_at(std::size_t row) const {
  if (valid_.data()[row] == 0) return Py_NewRef(missing_.ptr());
  const std::int64_t begin = offsets_.data()[row];
  const std::int64_t end = offsets_.data()[row + 1];
  if (begin < 0 || end < begin || static_cast<std::uint64_t>(end) > buffer_.shape(0)) {
    PyErr_Format(PyExc_ValueError, "string column: offsets %lld..%lld of row %zu out of bounds",
                 static_cast<long long>(begin), static_cast<long long>(end), row);
    return nullptr;
  }
  return decoded_text(reinterpret_cast<const char*>(buffer_.data()), begin, end);
}

// bytes[begin:end] as str: the one decoded last from equal bytes, if still remembered.
PyObject* ScalarColumn::decoded_text(const char* bytes, std::int64_t begin,
                                     std::int64_t end) const {
  const std::int64_t size = end - begin;
  if (size > kMaxRememberedTextBytes) return PyUnicode_DecodeUTF8(bytes + begin, size, "strict");
  const auto* own = reinterpret_cast<const unsigned char*>(bytes + begin);
  DecodedText& slot = decoded_[text_hash(own, size) % decoded_.size()];
  if (slot.text.is_valid() && slot.end - slot.begin == size &&
      std::memcmp(bytes + slot.begin, own, static_cast<std::size_t>(size)) == 0)
    return Py_NewRef(slot.text.ptr());
  PyObject* text = PyUnicode_DecodeUTF8(bytes + begin, size, "strict");
  if (text != nullptr) slot = DecodedText{nb::borrow(text), begin, end};
  return text;
}

nb::list ScalarColumn::values() const {
  nb::list values = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(rows_)));
  if (!values.is_valid()) throw nb::python_error();
  for (std::size_t i = 0; i < rows_; ++i) {
    PyObject* value = at(i);
    if (value == nullptr) throw nb::python_error();
    PyList_SET_ITEM(values.ptr(), static_cast<Py_ssize_t>(i), value);
  }
  return values;
}

}  // namespace rowpool::python
