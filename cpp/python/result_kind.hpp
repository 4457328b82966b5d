// How a chunk's results travel from a worker to the parent; the single definition, exported to
// Python as rowpool._core.ResultKind (an IntEnum).
#pragma once

namespace rowpool::python {

enum class ResultKind : int { kEmpty = 0, kFloat = 1, kInt = 2, kBool = 3, kStr = 4, kObject = 5 };

}  // namespace rowpool::python
