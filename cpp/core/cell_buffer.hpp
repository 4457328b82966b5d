// CellBuffer: one column of one chunk travelling as fixed-width values, optionally followed by one
// byte per row that is non-zero where the value is missing (the "cells" parts of a chunk: nullable
// and Arrow-backed numbers and booleans, categorical codes). A borrowed view: the caller owns the
// memory (a view into the arena) and keeps it alive while the CellBuffer is used. Sizes are checked
// once, on construction; values are read with memcpy, so the buffer needs no alignment. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rowpool {

enum class CellKind : char { kBool = 'b', kSigned = 'i', kUnsigned = 'u', kFloat = 'f' };

class CellBuffer {
 public:
  // Throws ProtocolError when `kind` and `itemsize` name no supported type or `bytes` is not
  // exactly rows * itemsize (+ rows when `masked`).
  CellBuffer(const std::uint8_t* data, std::size_t bytes, std::size_t rows, CellKind kind,
             std::size_t itemsize, bool masked);

  std::size_t rows() const noexcept { return rows_; }
  CellKind kind() const noexcept { return kind_; }
  bool missing(std::size_t row) const noexcept { return mask_ != nullptr && mask_[row] != 0; }

  // The value of `row` (< rows()) as the widest type of its kind; the kind decides which applies.
  std::int64_t signed_at(std::size_t row) const noexcept;
  std::uint64_t unsigned_at(std::size_t row) const noexcept;
  double float_at(std::size_t row) const noexcept;
  bool bool_at(std::size_t row) const noexcept { return values_[row] != 0; }

 private:
  template <typename T>
  T load(std::size_t row) const noexcept {
    T value;
    std::memcpy(&value, values_ + row * sizeof(T), sizeof(T));
    return value;
  }

  const std::uint8_t* values_;
  const std::uint8_t* mask_;  // null when no value is missing
  std::size_t rows_;
  CellKind kind_;
  std::size_t itemsize_;
};

}  // namespace rowpool
