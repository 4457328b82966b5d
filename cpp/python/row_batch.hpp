// RowBatch internals shared by row.cpp and row_batch.cpp (the public interface is row.hpp).
// A RowBatch owns, through nb::object members, its source and what it read from it; the columns
// it materialises stay until the batch goes. Worker-process objects: the GIL must be held.
#pragma once

#include <Python.h>
#include <nanobind/nanobind.h>

#include <array>
#include <cstdint>
#include <vector>

#include "python/scalar_column.hpp"

namespace rowpool::python {

// A str key a row was subscripted with, and its column (as `find` answers): the keys of a row
// function are the same objects row after row (its constants), so they are found by address. The
// reference held keeps the address from being reused by another object.
struct CachedKey {
  nanobind::object key;
  Py_ssize_t column = -1;
};

// Subscript keys seen, placed by a multiplicative hash of the address (the low bits of an address
// say little: small str objects sit 64 bytes apart, so `address % slots` would leave most slots
// unused) and probed linearly over `kKeyProbes` slots; when those are taken, the key replaces the
// one in its first slot.
inline constexpr std::size_t kKeySlotBits = 5;
inline constexpr std::size_t kKeyProbes = 4;
using KeyCache = std::array<CachedKey, std::size_t{1} << kKeySlotBits>;

inline std::size_t key_slot(const PyObject* key) {
  const auto address = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(key));
  return static_cast<std::size_t>((address * 0x9E3779B97F4A7C15ull) >> (64 - kKeySlotBits));
}

// The source is a Python object (rowpool._rows.RowSource) that knows the pandas side: column names,
// the per-row values of a column, the row labels, and how to build a genuine Series for a row.
struct RowBatchData {
  nanobind::object source;
  nanobind::object lookup;       // dict: column label -> position (-1 for duplicated labels)
  nanobind::object attr_lookup;  // dict: column label reachable as an attribute -> position
  nanobind::object labels;       // list: row labels of this chunk, null until a row's name is read
  nanobind::object columns;  // list: per column, None until read, then its per-row values (a list)
                             // or a ScalarColumn boxing them on read
  std::vector<const ScalarColumn*> boxed;  // per column, the ScalarColumn `columns` holds, or null
  Py_ssize_t rows = 0;
  KeyCache keys{};  // subscript keys seen (see KeyCache)
};

struct RowBatch {
  PyObject ob_base;
  RowBatchData
      data;  // constructed by RowBatch.__new__ once the object exists, destroyed by dealloc
};

// Reads column `column` from the source (a list or a ScalarColumn, kept by the batch); false with
// an error set.
bool read_column(RowBatch* batch, Py_ssize_t column);

// The label of row `pos` (new reference), read from the source on first use; null with an error
// set.
PyObject* row_label(RowBatch* batch, Py_ssize_t pos);

// Value of column `column` at row `pos` (new reference), or null with an error set. Inline: the
// row loop reads every field through it.
inline PyObject* cell(RowBatch* batch, Py_ssize_t column, Py_ssize_t pos) {
  RowBatchData& data = batch->data;
  if (PyList_GET_ITEM(data.columns.ptr(), column) == Py_None && !read_column(batch, column))
    return nullptr;
  if (const ScalarColumn* boxed = data.boxed[static_cast<std::size_t>(column)])
    return boxed->at(static_cast<std::size_t>(pos));
  return Py_NewRef(PyList_GET_ITEM(PyList_GET_ITEM(data.columns.ptr(), column), pos));
}

// Position of `key` in `table` (a dict), -1 when absent or not a single column; -2 with an error.
inline Py_ssize_t find(PyObject* table, PyObject* key) {
  PyObject* found = PyDict_GetItemWithError(table, key);
  if (found != nullptr) return PyLong_AsSsize_t(found);
  if (!PyErr_Occurred()) return -1;
  if (!PyErr_ExceptionMatches(PyExc_TypeError)) return -2;
  PyErr_Clear();  // unhashable key (a list of labels): the Series path answers it
  return -1;
}

// Position of subscript `key` in the batch's lookup (see `find`), remembered for str keys.
inline Py_ssize_t find_subscript(RowBatch* batch, PyObject* key) {
  KeyCache& keys = batch->data.keys;
  const std::size_t home = key_slot(key);
  CachedKey* free_slot = nullptr;
  for (std::size_t probe = 0; probe < kKeyProbes; ++probe) {
    CachedKey& slot = keys[(home + probe) % keys.size()];
    if (slot.key.ptr() == key) return slot.column;
    if (!slot.key.is_valid()) {
      free_slot = &slot;
      break;
    }
  }
  const Py_ssize_t column = find(batch->data.lookup.ptr(), key);
  if (column >= -1 && PyUnicode_CheckExact(key))
    *(free_slot != nullptr ? free_slot : &keys[home]) = CachedKey{nanobind::borrow(key), column};
  return column;
}

// The RowBatch type (a new reference), or null with an error set.
PyTypeObject* create_row_batch_type();

}  // namespace rowpool::python
