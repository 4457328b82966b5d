#include "python/result_area.hpp"

#include <cstring>

namespace nb = nanobind;

namespace rowpool::python {
namespace {

// numpy's scalar types whose values travel in a slot (np.float64 is a float subclass, the others
// are not ints or bools to Python). Looked up once; null when numpy is absent.
struct NumpyScalars {
  PyObject* float64 = nullptr;
  PyObject* int64 = nullptr;
  PyObject* bool_ = nullptr;
  NumpyScalars() {
    PyObject* numpy = PyImport_ImportModule("numpy");
    if (numpy == nullptr) {
      PyErr_Clear();
      return;
    }
    float64 = PyObject_GetAttrString(numpy, "float64");
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

constexpr std::size_t align_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::uint64_t double_bits(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return bits;
}

// The current exception with its traceback attached; clears the error indicator.
nb::object take_exception() {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  nb::object owned_type = nb::steal(type), exception = nb::steal(value);
  nb::object owned_traceback = nb::steal(traceback);
  if (traceback != nullptr && value != nullptr) PyException_SetTraceback(value, traceback);
  return exception;
}

void write_entry(char* out, Py_ssize_t pos, RowTag tag, const char* data, std::size_t length) {
  const std::uint32_t header[2] = {static_cast<std::uint32_t>(pos),
                                   static_cast<std::uint32_t>(tag)};
  const std::uint64_t size = length;
  std::memcpy(out, header, 8);
  std::memcpy(out + 8, &size, 8);
  std::memcpy(out + kLogEntryHeaderBytes, data, length);
}

}  // namespace

ResultWriter::ResultWriter(nb::handle area, Py_ssize_t rows, nb::object encode, nb::object describe,
                           nb::object spill)
    : rows_(rows),
      encode_(std::move(encode)),
      describe_(std::move(describe)),
      spill_(std::move(spill)) {
  if (PyObject_GetBuffer(area.ptr(), &view_, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0)
    throw nb::python_error();
  const std::size_t n = static_cast<std::size_t>(rows);
  const std::size_t log_start = align_up(kAreaHeaderBytes + 9 * n, 64);
  const std::size_t size = static_cast<std::size_t>(view_.len);
  if (rows < 0 || size < log_start || reinterpret_cast<std::uintptr_t>(view_.buf) % 8 != 0) {
    PyBuffer_Release(&view_);  // a constructor that throws runs no destructor
    throw nb::value_error("the result area is too small for its rows, or misaligned");
  }
  char* base = static_cast<char*>(view_.buf);
  log_bytes_ = reinterpret_cast<std::int64_t*>(base);
  slots_ = base + kAreaHeaderBytes;
  tags_ = reinterpret_cast<std::uint8_t*>(slots_ + 8 * n);
  log_ = base + log_start;
  log_capacity_ = size - log_start;
}

ResultWriter::~ResultWriter() { PyBuffer_Release(&view_); }

void ResultWriter::finish_scalar(Py_ssize_t pos, RowTag tag, std::uint64_t bits) {
  std::memcpy(slots_ + 8 * pos, &bits, 8);
  __atomic_store_n(&tags_[pos], static_cast<std::uint8_t>(tag), __ATOMIC_RELEASE);
}

bool ResultWriter::put(Py_ssize_t pos, nb::handle value) {
  PyTypeObject* type = Py_TYPE(value.ptr());
  const auto* type_object = reinterpret_cast<PyObject*>(type);
  const NumpyScalars& numpy = numpy_scalars();
  if (type == &PyFloat_Type || type_object == numpy.float64) {
    const RowTag tag = type == &PyFloat_Type ? RowTag::kFloat : RowTag::kNumpyFloat;
    finish_scalar(pos, tag, double_bits(PyFloat_AS_DOUBLE(value.ptr())));
    return true;
  }
  if (type == &PyBool_Type || type_object == numpy.bool_) {
    const int truth = PyObject_IsTrue(value.ptr());
    if (truth < 0) {
      fail_with_current(pos);
      return false;
    }
    const RowTag tag = type == &PyBool_Type ? RowTag::kBool : RowTag::kNumpyBool;
    finish_scalar(pos, tag, static_cast<std::uint64_t>(truth));
    return true;
  }
  if (type == &PyLong_Type || type_object == numpy.int64) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow == 0 && !(x == -1 && PyErr_Occurred())) {
      const RowTag tag = type == &PyLong_Type ? RowTag::kInt : RowTag::kNumpyInt;
      finish_scalar(pos, tag, static_cast<std::uint64_t>(x));
      return true;
    }
    PyErr_Clear();  // beyond int64: pandas keeps such ints as objects, so pickle it
  } else if (value.is_none()) {
    finish_scalar(pos, RowTag::kNone, 0);
    return true;
  } else if (type == &PyUnicode_Type) {
    Py_ssize_t length = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(value.ptr(), &length);
    if (utf8 != nullptr) {
      append(pos, RowTag::kStr, utf8, static_cast<std::size_t>(length));
      return true;
    }
    PyErr_Clear();  // lone surrogates have no UTF-8: pickle the str instead
  }
  nb::object pickled = nb::steal(PyObject_CallOneArg(encode_.ptr(), value.ptr()));
  if (!pickled.is_valid()) {
    fail_with_current(pos);
    return false;
  }
  append_bytes(pos, RowTag::kObject, pickled);
  return true;
}

void ResultWriter::fail_with_current(Py_ssize_t pos) { fail(pos, take_exception()); }

void ResultWriter::fail(Py_ssize_t pos, nb::handle exception) {
  nb::object description = nb::steal(PyObject_CallOneArg(describe_.ptr(), exception.ptr()));
  if (!description.is_valid()) throw nb::python_error();
  append_bytes(pos, RowTag::kFailed, description);
}

void ResultWriter::append_bytes(Py_ssize_t pos, RowTag tag, nb::handle bytes) {
  char* data = nullptr;
  Py_ssize_t length = 0;
  if (PyBytes_AsStringAndSize(bytes.ptr(), &data, &length) != 0) throw nb::python_error();
  append(pos, tag, data, static_cast<std::size_t>(length));
}

void ResultWriter::append(Py_ssize_t pos, RowTag tag, const char* data, std::size_t length) {
  const std::size_t entry = kLogEntryHeaderBytes + align_up(length, 8);
  std::size_t used = static_cast<std::size_t>(*log_bytes_);
  if (used + entry > log_capacity_ && used > 0) {
    // Spilled entries reach the parent before this process's death could: only then the log may
    // start over (a death in between leaves them in both places; the parent dedups by row).
    spill_(nb::bytes(log_, used));
    __atomic_store_n(log_bytes_, std::int64_t{0}, __ATOMIC_RELEASE);
    used = 0;
  }
  if (entry > log_capacity_) {  // larger than the whole log: spilled on its own
    nb::object alone =
        nb::steal(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(entry)));
    if (!alone.is_valid()) throw nb::python_error();
    char* out = PyBytes_AS_STRING(alone.ptr());
    std::memset(out, 0, entry);
    write_entry(out, pos, tag, data, length);
    spill_(alone);
  } else {
    write_entry(log_ + used, pos, tag, data, length);
    __atomic_store_n(log_bytes_, static_cast<std::int64_t>(used + entry), __ATOMIC_RELEASE);
  }
  __atomic_store_n(&tags_[pos], static_cast<std::uint8_t>(tag), __ATOMIC_RELEASE);
}

nb::list parse_log(nb::handle log, nb::dict strings) {
  Py_buffer view;
  if (PyObject_GetBuffer(log.ptr(), &view, PyBUF_C_CONTIGUOUS) != 0) throw nb::python_error();
  struct Release {
    Py_buffer* view;
    ~Release() { PyBuffer_Release(view); }
  } release{&view};
  const char* data = static_cast<const char*>(view.buf);
  const std::size_t size = static_cast<std::size_t>(view.len);
  nb::list others;
  for (std::size_t at = 0; at + kLogEntryHeaderBytes <= size;) {
    std::uint32_t header[2];
    std::uint64_t length;
    std::memcpy(header, data + at, 8);
    std::memcpy(&length, data + at + 8, 8);
    if (length > size - at - kLogEntryHeaderBytes)
      throw nb::value_error("corrupt result log: an entry runs past its end");
    const char* payload = data + at + kLogEntryHeaderBytes;
    const auto n = static_cast<Py_ssize_t>(length);
    nb::int_ pos(header[0]);
    if (header[1] == static_cast<std::uint32_t>(RowTag::kStr)) {
      nb::object text = nb::steal(PyUnicode_DecodeUTF8(payload, n, "strict"));
      if (!text.is_valid()) throw nb::python_error();
      strings[pos] = text;
    } else {
      others.append(nb::make_tuple(pos, header[1], nb::bytes(payload, length)));
    }
    at += kLogEntryHeaderBytes + align_up(length, 8);
  }
  return others;
}

}  // namespace rowpool::python
