#include "python/result_builder.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace rowpool::python {
namespace {

// numpy's scalar types that pandas infers like their Python counterparts (np.float64 already is a
// float subclass). Looked up once; null when numpy is absent.
struct NumpyScalars {
  PyObject* int64 = nullptr;
  PyObject* bool_ = nullptr;
  NumpyScalars() {
    PyObject* numpy = PyImport_ImportModule("numpy");
    if (numpy == nullptr) {
      PyErr_Clear();
      return;
    }
    int64 = PyObject_GetAttrString(numpy, "int64");
    bool_ = PyObject_GetAttrString(numpy, "bool_");
    Py_DECREF(numpy);
    PyErr_Clear();
  }
};

const NumpyScalars& numpy_scalars() {
  static const NumpyScalars scalars;  // never freed: lives as long as the interpreter
  return scalars;
}

bool is_int_like(PyObject* value) {
  return PyLong_CheckExact(value) ||
         reinterpret_cast<PyObject*>(Py_TYPE(value)) == numpy_scalars().int64;
}

bool is_bool_like(PyObject* value) {
  return PyBool_Check(value) ||
         reinterpret_cast<PyObject*>(Py_TYPE(value)) == numpy_scalars().bool_;
}

}  // namespace

ResultBuilder::~ResultBuilder() {
  for (PyObject* v : values_) Py_DECREF(v);
}

ResultKind ResultBuilder::classify(PyObject* value) const {
  if (PyFloat_Check(value)) return ResultKind::kFloat;
  if (is_bool_like(value)) return ResultKind::kBool;
  if (is_int_like(value)) return ResultKind::kInt;
  if (PyUnicode_CheckExact(value)) return ResultKind::kStr;
  return ResultKind::kObject;
}

void ResultBuilder::append(PyObject* value) {
  Py_INCREF(value);
  values_.push_back(value);
  if (value == Py_None) {  // pandas decides what None becomes (NaN, None, NaT) from all values
    kind_ = ResultKind::kObject;
    return;
  }
  const ResultKind kind = classify(value);
  // numpy scalars (np.float64, np.int64, np.bool_) and Python ones stay apart: in an object result
  // pandas keeps each value's own type.
  const bool numpy_scalar = Py_TYPE(value) != &PyFloat_Type && Py_TYPE(value) != &PyLong_Type &&
                            Py_TYPE(value) != &PyBool_Type;
  if (kind != ResultKind::kStr && kind != ResultKind::kObject) {
    if (values_.size() == 1)
      numpy_scalars_ = numpy_scalar;
    else if (numpy_scalars_ != numpy_scalar)
      kind_ = ResultKind::kObject;
  }
  if (kind_ == kind || kind_ == ResultKind::kObject) return;
  if (kind_ == ResultKind::kEmpty) {
    kind_ = kind;
  } else {
    // Mixed kinds (even ints with floats, which an object result keeps apart) go as objects.
    kind_ = ResultKind::kObject;
  }
}

PyObject* ResultBuilder::pack_numeric() {
  const std::size_t n = values_.size();
  const std::size_t width = kind_ == ResultKind::kBool ? 1 : 8;
  PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n * width));
  if (bytes == nullptr) return nullptr;
  char* out = PyBytes_AS_STRING(bytes);
  for (std::size_t i = 0; i < n; ++i) {
    PyObject* v = values_[i];
    if (kind_ == ResultKind::kFloat) {
      const double d = v == Py_None       ? std::numeric_limits<double>::quiet_NaN()
                       : PyFloat_Check(v) ? PyFloat_AS_DOUBLE(v)
                                          : PyLong_AsDouble(v);
      std::memcpy(out + i * 8, &d, 8);
    } else if (kind_ == ResultKind::kInt) {
      int overflow = 0;
      const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (overflow != 0) {  // beyond int64: pandas keeps such ints as objects
        Py_DECREF(bytes);
        kind_ = ResultKind::kObject;
        return nullptr;
      }
      const std::int64_t value = x;
      std::memcpy(out + i * 8, &value, 8);
    } else {
      out[i] = static_cast<char>(PyObject_IsTrue(v) == 1);
    }
    if (PyErr_Occurred()) {
      Py_DECREF(bytes);
      return nullptr;
    }
  }
  return bytes;
}

PyObject* ResultBuilder::finish() {
  PyObject* payload = nullptr;
  if (kind_ == ResultKind::kFloat || kind_ == ResultKind::kInt || kind_ == ResultKind::kBool) {
    payload = pack_numeric();
    if (payload == nullptr && PyErr_Occurred()) return nullptr;
  }
  if (payload == nullptr) {
    if (kind_ == ResultKind::kInt) kind_ = ResultKind::kObject;  // pack_numeric hit an overflow
    payload = PyList_New(static_cast<Py_ssize_t>(values_.size()));
    if (payload == nullptr) return nullptr;
    for (std::size_t i = 0; i < values_.size(); ++i) {
      Py_INCREF(values_[i]);
      PyList_SET_ITEM(payload, static_cast<Py_ssize_t>(i), values_[i]);
    }
  }
  return Py_BuildValue("(iNO)", static_cast<int>(kind_), payload,
                       numpy_scalars_ ? Py_True : Py_False);
}

}  // namespace rowpool::python
