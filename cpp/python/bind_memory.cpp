// Segment and Arena bindings. A Segment's numpy view keeps the Segment (and so the mapping) alive.
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "core/arena.hpp"
#include "core/segment.hpp"
#include "python/bindings.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace rowpool::python {
namespace {

using Bytes1D = nb::ndarray<nb::numpy, std::uint8_t, nb::ndim<1>>;

Bytes1D segment_view(nb::handle self) {
  auto& segment = nb::cast<Segment&>(self);
  std::size_t shape[1] = {segment.size()};
  return Bytes1D(segment.data(), 1, shape, self);  // the array owns a reference to `self`
}

}  // namespace

void bind_memory(nb::module_& m) {
  nb::class_<Segment>(m, "Segment", "Shared memory behind an anonymous memfd (never in /dev/shm).")
      .def_static("create", &Segment::create, "size"_a, "debug_name"_a = "rowpool-arena",
                  "A new sealed segment of `size` bytes.")
      .def_static("attach", &Segment::attach, "fd"_a,
                  "Maps the segment behind `fd` (takes the fd).")
      .def_prop_ro("fd", &Segment::fd, "The memfd (inherited by workers).")
      .def_prop_ro("size", &Segment::size, "Size in bytes.")
      .def("view", &segment_view, "The whole segment as a writable numpy uint8 array.");

  nb::class_<Arena>(m, "Arena",
                    "Bounded allocator of 64-byte aligned blocks (offsets into a Segment).")
      .def(nb::init<std::size_t>(), "capacity"_a)
      .def("allocate", &Arena::allocate, "bytes"_a,
           "Offset of a new block, or None when the arena is full (wait for a release).")
      .def("release", &Arena::release, "offset"_a, "Frees the block at `offset`.")
      .def_prop_ro("capacity", &Arena::capacity, "Capacity in bytes.")
      .def_prop_ro("used", &Arena::used, "Bytes in use.")
      .def_prop_ro("blocks", &Arena::blocks, "Number of live blocks.");
}

}  // namespace rowpool::python
