// Process: the single owner of one spawned child (its pid and pidfd). The destructor SIGKILLs and
// reaps a child that is still running, so no code path leaks a process. Parent thread only.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "core/worker_fds.hpp"

namespace rowpool {

struct ExitStatus {
  int exit_code = -1;            // valid when signal == 0
  int signal = 0;                // the signal that killed the process, 0 when it exited normally
  std::string describe() const;  // "exit code 3" / "signal 9 (SIGKILL)"
};

class Process {
 public:
  // posix_spawn of argv[0] (a path) with the parent's environment. The child sees
  // `inherit_fds[i]` as fd kFirstInheritedFd + i; apart from stdin/stdout/stderr no other fd is
  // open in it, even one the parent left inheritable. The child gets its own process group, so a
  // terminal's Ctrl-C reaches only the parent, which then ends its workers itself.
  static Process spawn(const std::vector<std::string>& argv, const std::vector<int>& inherit_fds);

  Process(Process&&) noexcept = default;
  Process& operator=(Process&&) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const noexcept { return pid_; }
  // Readable once the child has exited (poll it alongside other fds).
  int pidfd() const noexcept { return pidfd_.get(); }

  // Reaps the child if it has exited; never blocks.
  std::optional<ExitStatus> try_reap();
  // Waits up to `timeout_ms` for the child to exit and reaps it.
  std::optional<ExitStatus> wait_for(int timeout_ms);
  // SIGTERM, then SIGKILL once `grace_ms` passed; always reaps.
  ExitStatus terminate(int grace_ms);
  void send_signal(int signal) const;

 private:
  Process(pid_t pid, UniqueFd pidfd) noexcept : pid_(pid), pidfd_(std::move(pidfd)) {}
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

}  // namespace rowpool
