// Process: the single owner of one spawned child (its pid and pidfd) and of its process group:
// whatever the child starts (a user's subprocesses) lives in that group and ends with the child:
// the group is SIGKILLed whenever the child is reaped, however it ended. The destructor SIGKILLs
// and reaps a child that is still running, so no code path leaks a process. Parent thread only.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <utility>
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

  Process(Process&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        spawner_(other.spawner_),
        pidfd_(std::move(other.pidfd_)),
        status_(std::move(other.status_)) {}
  Process& operator=(Process&&) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const noexcept { return pid_; }
  // Readable once the child has exited (poll it alongside other fds).
  int pidfd() const noexcept { return pidfd_.get(); }

  // Reaps the child (and kills what is left of its group) if it has exited; never blocks.
  std::optional<ExitStatus> try_reap();
  // Waits up to `timeout_ms` for the child to exit and reaps it.
  std::optional<ExitStatus> wait_for(int timeout_ms);
  // SIGTERM to the group, then SIGKILL once `grace_ms` passed; always reaps.
  ExitStatus terminate(int grace_ms);
  void send_signal(int signal) const;
  // Signals the child's whole process group (nothing once it is reaped).
  void signal_group(int signal) const noexcept;

 private:
  Process(pid_t pid, UniqueFd pidfd) noexcept
      : pid_(pid), spawner_(::getpid()), pidfd_(std::move(pidfd)) {}
  // SIGKILLs the child and its group and reaps it (at once: a SIGKILLed child exits promptly).
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  // The process that spawned the child. A copy of this object in a forked child of it (e.g. a
  // Python object surviving os.fork) neither signals nor reaps: the worker is not its own.
  pid_t spawner_ = -1;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

}  // namespace rowpool
