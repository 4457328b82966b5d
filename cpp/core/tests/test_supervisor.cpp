#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/supervisor.hpp"

namespace rowpool {
namespace {

// A worker written in sh: the queue fd number arrives as the last argument ("--queue-fd N").
std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script, "sh"}; }

// True once `pid` is gone or a zombie (its new parent, init, reaps it when it likes).
bool ended(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    FILE* stat = fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (stat == nullptr) return true;
    char state = 0;
    const int read = fscanf(stat, "%*d (%*[^)]) %c", &state);
    fclose(stat);
    if (read == 1 && state == 'Z') return true;
    usleep(20 * 1000);
  }
  return false;
}

// Spawns a worker that starts `sleep 30` in the background (in the worker's process group), then
// runs `then`; returns the worker's id and the sleep's pid.
std::pair<std::uint64_t, pid_t> spawn_with_subprocess(Supervisor& s, const std::string& then) {
  int report[2];
  EXPECT_EQ(pipe2(report, O_CLOEXEC), 0);
  auto id = s.spawn(sh("sleep 30 & echo $! >&3; exec 3>&-; " + then), {report[1]});
  close(report[1]);
  char digits[32] = {};
  EXPECT_GT(read(report[0], digits, sizeof digits - 1), 0);
  close(report[0]);
  return {id, static_cast<pid_t>(std::stol(digits))};
}

}  // namespace

TEST(Supervisor, ReportsExitCode) {
  Supervisor s;
  auto id = s.spawn(sh("exit 3"), {});
  auto event = s.wait(5000);
  ASSERT_EQ(event.kind, Supervisor::Event::Kind::kExited);
  EXPECT_EQ(event.worker, id);
  EXPECT_EQ(event.status.exit_code, 3);
  EXPECT_EQ(s.size(), 0u);
}

TEST(Supervisor, NoticesSigkillAtOnce) {
  Supervisor s;
  auto id = s.spawn(sh("exec sleep 30"), {});
  const auto start = std::chrono::steady_clock::now();
  kill(s.pid(id), SIGKILL);
  auto event = s.wait(5000);
  ASSERT_EQ(event.kind, Supervisor::Event::Kind::kExited);
  EXPECT_EQ(event.status.signal, SIGKILL);
  EXPECT_EQ(event.status.describe(), "signal 9 (SIGKILL)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(Supervisor, ChildReceivesQueueFdAndSharedFd) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  Supervisor s;
  // Writes through the inherited pipe (fd 3 in the child) and the queue fd ("$2", which is 4).
  auto id = s.spawn(sh("[ \"$2\" = 4 ] || exit 9; printf x >&3"
                       "; printf 0123456789012345678901234567890123456789 >&$2; exec sleep 30"),
                    {pipe_fds[1]});
  close(pipe_fds[1]);
  char c = 0;
  ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
  close(pipe_fds[0]);
  auto event = s.wait(5000);
  ASSERT_EQ(event.kind, Supervisor::Event::Kind::kMessage);  // 40 bytes = one header
  EXPECT_EQ(event.worker, id);
  auto status = s.terminate(id, 1000);
  EXPECT_EQ(status.signal, SIGTERM);
}

TEST(Supervisor, ChildInheritsOnlyListedFds) {
  // Fds left inheritable by the parent (no close-on-exec) must not reach the child; the listed
  // one arrives as 3 and the queue as 4.
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  int leaked[2];
  for (int i = 0; i < 2; ++i) {
    leaked[i] = fcntl(pipe_fds[i], F_DUPFD, 30 + i);  // inheritable on purpose
    ASSERT_GE(leaked[i], 30);
    close(pipe_fds[i]);
  }
  const int high_leak = fcntl(leaked[1], F_DUPFD, 50);  // inheritable too
  ASSERT_GE(high_leak, 50);
  int report[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  const int listed = fcntl(report[1], F_DUPFD_CLOEXEC, 40);
  ASSERT_GE(listed, 40);
  close(report[1]);
  Supervisor s;
  // The child lists its open fds (from /proc/self/fd, as seen by `ls` run via exec) into fd 3.
  auto id = s.spawn(sh("exec ls /proc/self/fd >&3"), {listed});
  close(listed);
  std::string fds;
  char buffer[256];
  ssize_t n = 0;
  while ((n = read(report[0], buffer, sizeof buffer)) > 0)
    fds.append(buffer, static_cast<std::size_t>(n));
  close(report[0]);
  auto event = s.wait(5000);
  ASSERT_EQ(event.kind, Supervisor::Event::Kind::kExited);
  EXPECT_EQ(event.worker, id);
  EXPECT_EQ(event.status.exit_code, 0);
  std::vector<int> open_fds;
  std::size_t start = 0;
  while (start < fds.size()) {
    std::size_t end = fds.find('\n', start);
    if (end == std::string::npos) end = fds.size();
    if (end > start) open_fds.push_back(std::stoi(fds.substr(start, end - start)));
    start = end + 1;
  }
  // stdio, fd 3 (the listed pipe), fd 4 (the queue), and the fd `ls` opened on /proc/self/fd.
  for (int fd : open_fds) {
    EXPECT_NE(fd, leaked[0]);
    EXPECT_NE(fd, leaked[1]);
    EXPECT_NE(fd, high_leak);
    EXPECT_NE(fd, listed);
    EXPECT_LE(fd, 5) << fds;
  }
  EXPECT_NE(std::find(open_fds.begin(), open_fds.end(), 3), open_fds.end()) << fds;
  EXPECT_NE(std::find(open_fds.begin(), open_fds.end(), 4), open_fds.end()) << fds;
  close(leaked[0]);
  close(leaked[1]);
  close(high_leak);
}

namespace {
// A close-on-exec copy of `fd` numbered >= 100; closes `fd`.
int move_high(int fd) {
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  close(fd);
  return high;
}
}  // namespace

TEST(Supervisor, SharedFdsMayOverlapTheirTargetNumbers) {
  // Sources sitting exactly on each other's target slots: fd 4 must become 3 and fd 3 become 4.
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(b, O_CLOEXEC), 0);
  for (int* fd : {&a[0], &a[1], &b[0], &b[1]}) ASSERT_GE(*fd = move_high(*fd), 100);
  // Whatever this process has on 3 and 4 (maybe nothing) is parked high and put back afterwards.
  const int saved3 = fcntl(3, F_DUPFD_CLOEXEC, 100);
  const int saved4 = fcntl(4, F_DUPFD_CLOEXEC, 100);
  ASSERT_EQ(dup3(a[1], 4, O_CLOEXEC), 4);  // "first" write end on fd 4
  ASSERT_EQ(dup3(b[1], 3, O_CLOEXEC), 3);  // "second" write end on fd 3
  close(a[1]);
  close(b[1]);
  std::uint64_t id = 0;
  {
    Supervisor s;
    id = s.spawn(sh("printf first >&3; printf second >&4"), {4, 3});
    for (auto [saved, target] : {std::pair{saved3, 3}, std::pair{saved4, 4}}) {
      if (saved >= 0) {
        dup3(saved, target, O_CLOEXEC);
        close(saved);
      } else {
        close(target);
      }
    }
    auto event = s.wait(5000);
    ASSERT_EQ(event.kind, Supervisor::Event::Kind::kExited);
    EXPECT_EQ(event.worker, id);
    EXPECT_EQ(event.status.exit_code, 0);
  }
  char buffer[16] = {};
  ASSERT_EQ(read(a[0], buffer, sizeof buffer), 5);
  EXPECT_EQ(std::string(buffer, 5), "first");
  ASSERT_EQ(read(b[0], buffer, sizeof buffer), 6);
  EXPECT_EQ(std::string(buffer, 6), "second");
  close(a[0]);
  close(b[0]);
}

TEST(Supervisor, TerminateEscalatesToSigkill) {
  Supervisor s;
  auto id = s.spawn(sh("trap '' TERM; while :; do sleep 0.05; done"), {});
  usleep(200 * 1000);  // let the shell install its trap
  auto status = s.terminate(id, 200);
  EXPECT_EQ(status.signal, SIGKILL);
}

TEST(Supervisor, TerminateEndsWhatTheWorkerStarted) {
  Supervisor s;
  auto [id, sleeper] = spawn_with_subprocess(s, "wait");
  s.terminate(id, 1000);
  EXPECT_TRUE(ended(sleeper));
}

TEST(Supervisor, AWorkerThatExitsTakesWhatItStartedAlong) {
  Supervisor s;
  auto [id, sleeper] = spawn_with_subprocess(s, "exit 0");
  auto event = s.wait(5000);
  ASSERT_EQ(event.kind, Supervisor::Event::Kind::kExited);
  EXPECT_EQ(event.worker, id);
  EXPECT_TRUE(ended(sleeper));
}

TEST(Supervisor, StopAllGivesAllWorkersOneGracePeriod) {
  Supervisor s;
  std::vector<pid_t> pids;
  for (int i = 0; i < 5; ++i)
    pids.push_back(s.pid(s.spawn(sh("trap '' TERM; while :; do sleep 0.05; done"), {})));
  usleep(300 * 1000);  // let the shells install their traps
  const auto start = std::chrono::steady_clock::now();
  s.stop_all(400);
  // One after the other, the five would take 2 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.size(), 0u);
  for (pid_t pid : pids) EXPECT_NE(kill(pid, 0), 0);
}

TEST(Supervisor, ShutdownLeavesNoChild) {
  pid_t pid = 0;
  {
    Supervisor s;
    auto id = s.spawn(sh("exec sleep 30"), {});
    pid = s.pid(id);
    s.shutdown(100);
    EXPECT_EQ(s.size(), 0u);
  }
  EXPECT_NE(kill(pid, 0), 0);  // reaped: the pid no longer exists
}

TEST(Supervisor, DestructorKillsWorkers) {
  pid_t pid = 0;
  {
    Supervisor s;
    pid = s.pid(s.spawn(sh("exec sleep 30"), {}));
  }
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(Supervisor, AForkedCopyLeavesTheWorkersAlone) {
  // A forked child holding a copy of the Supervisor (a Python Pool surviving os.fork) destroys it
  // without killing the parent's workers.
  auto s = std::make_unique<Supervisor>();
  const pid_t worker = s->pid(s->spawn(sh("exec sleep 30"), {}));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    s.reset();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(kill(worker, 0), 0);
  s.reset();
  EXPECT_NE(kill(worker, 0), 0);
}

TEST(Supervisor, WaitTimesOut) {
  Supervisor s;
  s.spawn(sh("exec sleep 30"), {});
  EXPECT_EQ(s.wait(100).kind, Supervisor::Event::Kind::kTimeout);
}

}  // namespace rowpool
