// ScalarColumn: one column of one chunk whose rows' Python values are boxed when a row reads them,
// instead of a list holding every row's value: fixed-width cells (core/cell_buffer.hpp: numpy
// numbers, nullable and Arrow-backed numbers and booleans, categorical codes) or a str column laid
// out as Arrow lays it out (int64 offsets, one validity byte per row, UTF-8 bytes). Values are
// boxed as pandas hands them out in a row of object dtype: tolist()'s Python int, float and bool,
// `missing` where masked or invalid, the category of a code.
// It owns references to the arrays holding its buffers (in a worker, views into the arena: a
// RowBatch whose rows outlive their task trades it for values() first). Worker process, GIL held.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/cell_buffer.hpp"

namespace rowpool::python {

class ScalarColumn {
 public:
  using Bytes = nanobind::ndarray<const std::uint8_t, nanobind::ndim<1>, nanobind::c_contig>;
  using Offsets = nanobind::ndarray<const std::int64_t, nanobind::ndim<1>, nanobind::c_contig>;

  // `rows` values of numpy kind `kind` ('b', 'i', 'u', 'f') and `itemsize` bytes, then when
  // `masked` one byte per row, non-zero where missing; with a `table` (a list, not None) each value
  // is a code c standing for table[c + 1]; with a `float_type` (not None: a subclass of float laid
  // out as float, e.g. numpy.float64, for 8-byte floats) each value is boxed as that type. Throws
  // ProtocolError / nb::type_error for a bad layout.
  static ScalarColumn cells(Bytes buffer, std::size_t rows, char kind, std::size_t itemsize,
                            bool masked, nanobind::object missing, nanobind::object table,
                            nanobind::object float_type);
  // data[offsets[i]:offsets[i+1]] decoded as UTF-8 where valid[i], else `missing`.
  static ScalarColumn utf8(Offsets offsets, Bytes valid, Bytes data, nanobind::object missing);

  std::size_t rows() const noexcept { return rows_; }
  // The value of `row` (< rows()): a new reference, or null with a Python error set (an offset out
  // of bounds, bytes that are not UTF-8, a code outside the table).
  PyObject* at(std::size_t row) const;
  // Every row's value, in a new list.
  nanobind::list values() const;

 private:
  ScalarColumn() = default;
  PyObject* cell_at(std::size_t row) const;
  PyObject* utf8_at(std::size_t row) const;
  PyObject* boxed_float(double value) const;
  PyObject* decoded_text(const char* bytes, std::int64_t begin, std::int64_t end) const;

  std::size_t rows_ = 0;
  nanobind::object missing_;
  nanobind::object float_type_owner_;  // holds float_type_
  Bytes buffer_;                       // cells: values (+ mask); utf8: the UTF-8 bytes
  std::optional<CellBuffer> cells_;
  nanobind::object table_;      // cells: a list of categories, or null
  PyTypeObject* float_type_{};  // cells: the float subclass values are boxed as, or null
  // The last float_type_ instance boxed: once nothing but this holds it (its row's reader let it
  // go), the next value is written into it instead of allocating one.
  mutable nanobind::object spare_;
  Offsets offsets_;  // utf8 only
  Bytes valid_;      // utf8 only
  // utf8: short strings decoded lately, placed by a hash of their bytes, with where those bytes
  // are: a column of few distinct values (labels, codes, flags stored as str) hands out the same
  // str objects (immutable) instead of decoding and allocating one per read.
  struct DecodedText {
    nanobind::object text;
    std::int64_t begin = 0;
    std::int64_t end = 0;
  };
  mutable std::array<DecodedText, 16> decoded_{};
};

}  // namespace rowpool::python
