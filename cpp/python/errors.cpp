#include "python/errors.hpp"

#include "core/errors.hpp"

namespace nb = nanobind;

namespace rowpool::python {
namespace {

void raise_as(const char* name, const char* message) {
  // rowpool.errors is pure Python and always importable when this module is.
  nb::object type = nb::module_::import_("rowpool.errors").attr(name);
  PyErr_SetString(type.ptr(), message);
}

}  // namespace

void register_error_translator() {
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const SystemError& e) {
      PyErr_SetObject(PyExc_OSError, nb::make_tuple(e.code(), e.what()).ptr());
    } catch (const QueueClosed& e) {
      raise_as("QueueClosed", e.what());
    } catch (const CapacityError& e) {
      raise_as("BudgetExceeded", e.what());
    } catch (const Error& e) {
      raise_as("EngineError", e.what());
    }
  });
}

}  // namespace rowpool::python
