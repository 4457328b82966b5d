// The descriptor numbers under which a spawned worker finds what it inherits, defined once for the
// spawner (Process), the Supervisor and, through rowpool._core, the Python side.
#pragma once

namespace rowpool {

// A child gets inherit_fds[i] as fd kFirstInheritedFd + i (the first fd after stderr).
inline constexpr int kFirstInheritedFd = 3;
// The arena segment: the Pool hands it to Supervisor::spawn as the first shared fd.
inline constexpr int kSegmentFd = kFirstInheritedFd;

}  // namespace rowpool
