#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/cell_buffer.hpp"
#include "core/errors.hpp"

namespace rowpool {
namespace {

template <typename T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& values, std::vector<std::uint8_t> mask) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  bytes.insert(bytes.end(), mask.begin(), mask.end());
  return bytes;
}

}  // namespace

TEST(CellBuffer, ReadsSignedValuesOfEveryWidth) {
  auto small = bytes_of<std::int8_t>({-128, 0, 127}, {});
  CellBuffer int8s(small.data(), small.size(), 3, CellKind::kSigned, 1, false);
  EXPECT_EQ(int8s.signed_at(0), -128);
  EXPECT_EQ(int8s.signed_at(2), 127);
  auto big = bytes_of<std::int64_t>({INT64_MIN, INT64_MAX}, {});
  CellBuffer int64s(big.data(), big.size(), 2, CellKind::kSigned, 8, false);
  EXPECT_EQ(int64s.signed_at(0), INT64_MIN);
  EXPECT_EQ(int64s.signed_at(1), INT64_MAX);
  EXPECT_FALSE(int64s.missing(1));
}

TEST(CellBuffer, ReadsUnsignedValuesBeyondTheSignedRange) {
  auto bytes = bytes_of<std::uint64_t>({UINT64_MAX, 1}, {});
  CellBuffer cells(bytes.data(), bytes.size(), 2, CellKind::kUnsigned, 8, false);
  EXPECT_EQ(cells.unsigned_at(0), UINT64_MAX);
  auto shorts = bytes_of<std::uint16_t>({65535}, {});
  CellBuffer uint16s(shorts.data(), shorts.size(), 1, CellKind::kUnsigned, 2, false);
  EXPECT_EQ(uint16s.unsigned_at(0), 65535u);
}

TEST(CellBuffer, WidensFloat32ExactlyAndReadsTheMask) {
  auto bytes = bytes_of<float>({0.1f, 2.5f}, {0, 1});
  CellBuffer cells(bytes.data(), bytes.size(), 2, CellKind::kFloat, 4, true);
  EXPECT_EQ(cells.float_at(0), static_cast<double>(0.1f));
  EXPECT_FALSE(cells.missing(0));
  EXPECT_TRUE(cells.missing(1));
}

TEST(CellBuffer, ReadsUnalignedValues) {
  std::vector<std::uint8_t> bytes(1 + 2 * sizeof(double));
  const double values[] = {1.5, -3.25};
  std::memcpy(bytes.data() + 1, values, sizeof(values));
  CellBuffer cells(bytes.data() + 1, 2 * sizeof(double), 2, CellKind::kFloat, 8, false);
  EXPECT_EQ(cells.float_at(1), -3.25);
}

TEST(CellBuffer, ReadsBooleans) {
  std::vector<std::uint8_t> bytes = {1, 0, 0, 1};
  CellBuffer cells(bytes.data(), bytes.size(), 2, CellKind::kBool, 1, true);
  EXPECT_TRUE(cells.bool_at(0));
  EXPECT_FALSE(cells.bool_at(1));
  EXPECT_TRUE(cells.missing(1));
}

TEST(CellBuffer, RejectsSizesThatDoNotMatchTheRows) {
  std::vector<std::uint8_t> bytes(17);
  EXPECT_THROW(CellBuffer(bytes.data(), bytes.size(), 2, CellKind::kSigned, 8, false),
               ProtocolError);
  EXPECT_THROW(CellBuffer(bytes.data(), 16, 2, CellKind::kSigned, 8, true), ProtocolError);
  EXPECT_NO_THROW(CellBuffer(bytes.data(), 16, 2, CellKind::kSigned, 8, false));
}

TEST(CellBuffer, RejectsUnsupportedTypes) {
  std::vector<std::uint8_t> bytes(8);
  EXPECT_THROW(CellBuffer(bytes.data(), 4, 2, CellKind::kFloat, 2, false), ProtocolError);
  EXPECT_THROW(CellBuffer(bytes.data(), 6, 2, CellKind::kSigned, 3, false), ProtocolError);
  EXPECT_THROW(CellBuffer(bytes.data(), 4, 2, CellKind::kBool, 2, false), ProtocolError);
  EXPECT_THROW(CellBuffer(bytes.data(), 2, 2, static_cast<CellKind>('x'), 1, false), ProtocolError);
}

}  // namespace rowpool
