#include "core/cell_buffer.hpp"

#include <string>

#include "core/errors.hpp"

namespace rowpool {
namespace {

bool supported(CellKind kind, std::size_t itemsize) {
  switch (kind) {
    case CellKind::kBool:
      return itemsize == 1;
    case CellKind::kSigned:
    case CellKind::kUnsigned:
      return itemsize == 1 || itemsize == 2 || itemsize == 4 || itemsize == 8;
    case CellKind::kFloat:
      return itemsize == 4 || itemsize == 8;
  }
  return false;
}

}  // namespace

CellBuffer::CellBuffer(const std::uint8_t* data, std::size_t bytes, std::size_t rows, CellKind kind,
                       std::size_t itemsize, bool masked)
    : values_(data), mask_(nullptr), rows_(rows), kind_(kind), itemsize_(itemsize) {
  if (!supported(kind, itemsize))
    throw ProtocolError("cell column: no type of kind '" + std::string(1, static_cast<char>(kind)) +
                        "' with " + std::to_string(itemsize) + " bytes");
  const std::size_t expected = rows * itemsize + (masked ? rows : 0);
  if (bytes != expected)
    throw ProtocolError("cell column: " + std::to_string(bytes) + " bytes for " +
                        std::to_string(rows) + " rows, expected " + std::to_string(expected));
  if (masked) mask_ = data + rows * itemsize;
}

std::int64_t CellBuffer::signed_at(std::size_t row) const noexcept {
  switch (itemsize_) {
    case 1:
      return load<std::int8_t>(row);
    case 2:
      return load<std::int16_t>(row);
    case 4:
      return load<std::int32_t>(row);
    default:
      return load<std::int64_t>(row);
  }
}

std::uint64_t CellBuffer::unsigned_at(std::size_t row) const noexcept {
  switch (itemsize_) {
    case 1:
      return load<std::uint8_t>(row);
    case 2:
      return load<std::uint16_t>(row);
    case 4:
      return load<std::uint32_t>(row);
    default:
      return load<std::uint64_t>(row);
  }
}

double CellBuffer::float_at(std::size_t row) const noexcept {
  return itemsize_ == 4 ? static_cast<double>(load<float>(row)) : load<double>(row);
}

}  // namespace rowpool
