#include "core/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "core/errors.hpp"
#include "core/queue.hpp"

extern char** environ;

namespace rowpool {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

ExitStatus decode(const siginfo_t& info) {
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.exit_code = info.si_status;
  } else {
    status.signal = info.si_status;
  }
  return status;
}

// RAII for the posix_spawn attribute and file-action objects.
struct SpawnSetup {
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
};

}  // namespace

std::string ExitStatus::describe() const {
  if (signal == 0) return "exit code " + std::to_string(exit_code);
  const char* name = ::sigabbrev_np(signal);
  return "signal " + std::to_string(signal) + (name ? " (SIG" + std::string(name) + ")" : "");
}

Process Process::spawn(const std::vector<std::string>& argv, const std::vector<int>& inherit_fds) {
  if (argv.empty()) throw Error("spawn needs a program");
  SpawnSetup setup;
  // The child gets inherit_fds[i] as fd kFirstInheritedFd + i (3 + i) and nothing else above
  // stderr. Each source is first copied (close-on-exec) to a number >= 3 + n in the parent, so no
  // dup2 onto 3 + i can clobber a source not yet moved; closefrom(3 + n) then closes every other
  // fd in the child, including fds the parent (or a library in it) left inheritable.
  const int first_unlisted = kFirstInheritedFd + static_cast<int>(inherit_fds.size());
  std::vector<UniqueFd> copies;
  copies.reserve(inherit_fds.size());
  for (std::size_t i = 0; i < inherit_fds.size(); ++i) {
    UniqueFd copy(::fcntl(inherit_fds[i], F_DUPFD_CLOEXEC, first_unlisted));
    if (!copy.valid()) throw SystemError("fcntl(F_DUPFD_CLOEXEC)", errno);
    if (int rc = posix_spawn_file_actions_adddup2(&setup.actions, copy.get(),
                                                  kFirstInheritedFd + static_cast<int>(i)))
      throw SystemError("posix_spawn_file_actions_adddup2", rc);
    copies.push_back(std::move(copy));
  }
  if (int rc = posix_spawn_file_actions_addclosefrom_np(&setup.actions, first_unlisted))
    throw SystemError("posix_spawn_file_actions_addclosefrom_np", rc);

  sigset_t empty_mask, defaults;
  sigemptyset(&empty_mask);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&setup.attributes, &empty_mask);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  posix_spawnattr_setpgroup(&setup.attributes, 0);
  posix_spawnattr_setflags(&setup.attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, args[0], &setup.actions, &setup.attributes, args.data(), environ);
  if (rc != 0) throw SystemError("posix_spawn(" + argv[0] + ")", rc);
  UniqueFd pidfd(pidfd_open(pid));
  if (!pidfd.valid()) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw SystemError("pidfd_open", err);
  }
  return Process(pid, std::move(pidfd));
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    spawner_ = other.spawner_;
    pidfd_ = std::move(other.pidfd_);
    status_ = std::move(other.status_);
  }
  return *this;
}

Process::~Process() { kill_and_reap(); }

std::optional<ExitStatus> Process::try_reap() {
  if (status_ || pid_ < 0) return status_;
  siginfo_t info{};
  // WNOWAIT: the exited child stays a zombie, so its pid (and so its process group id) cannot be
  // reused until the group is killed below.
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return std::nullopt;
    throw SystemError("waitid", errno);
  }
  if (info.si_pid == 0) return std::nullopt;  // still running
  kill_and_reap();
  return status_;
}

std::optional<ExitStatus> Process::wait_for(int timeout_ms) {
  if (auto done = try_reap()) return done;
  wait_readable(pidfd_.get(), timeout_ms);
  return try_reap();
}

ExitStatus Process::terminate(int grace_ms) {
  if (auto done = try_reap()) return *done;
  signal_group(SIGTERM);
  if (auto done = wait_for(grace_ms)) return *done;
  kill_and_reap();
  return *status_;
}

void Process::send_signal(int signal) const {
  if (status_ || pid_ < 0) return;
  // pidfd_send_signal cannot hit a recycled pid: the pidfd names this very process.
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) != 0 && errno != ESRCH)
    throw SystemError("pidfd_send_signal", errno);
}

void Process::signal_group(int signal) const noexcept {
  if (status_ || pid_ < 0) return;
  // The group id is the child's pid, which stays ours until it is reaped. The child itself is
  // signalled through its pidfd too, in case it moved to another group.
  ::kill(-pid_, signal);
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0);
}

void Process::kill_and_reap() noexcept {
  if (pid_ < 0 || status_ || ::getpid() != spawner_) return;
  signal_group(SIGKILL);  // before the reap, while the group id still names the child's group
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
  status_ = decode(info);
}

}  // namespace rowpool
