// Python str values of a string column laid out as Arrow lays it out (int64 offsets, one validity
// byte per row, UTF-8 bytes), so a worker reads pandas' Arrow-backed str columns without pandas or
// pyarrow. Borrowed buffers (views into the arena), read once with the GIL held.
#pragma once

#include <nanobind/nanobind.h>

#include <cstddef>
#include <cstdint>

namespace rowpool::python {

// A new list of `rows` values: str decoded from data[offsets[i]:offsets[i+1]] where valid[i], else
// `missing`. Raises (nb::python_error / nb::value_error) when an offset is out of bounds or the
// bytes are not UTF-8.
nanobind::list utf8_values(const std::int64_t* offsets, const std::uint8_t* valid, const char* data,
                           std::size_t data_bytes, std::size_t rows, nanobind::handle missing);

}  // namespace rowpool::python
