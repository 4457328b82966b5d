#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "core/supervisor.hpp"

namespace rowpool {
namespace {

// A worker written in sh: the queue fd number arrives as the last argument ("--queue-fd N").
std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script, "sh"}; }

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
  // Writes through the inherited pipe and the queue fd; "$2" is the queue fd number.
  auto id = s.spawn(sh("printf x >&" + std::to_string(pipe_fds[1]) +
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

TEST(Supervisor, TerminateEscalatesToSigkill) {
  Supervisor s;
  auto id = s.spawn(sh("trap '' TERM; while :; do sleep 0.05; done"), {});
  usleep(200 * 1000);  // let the shell install its trap
  auto status = s.terminate(id, 200);
  EXPECT_EQ(status.signal, SIGKILL);
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

TEST(Supervisor, WaitTimesOut) {
  Supervisor s;
  s.spawn(sh("exec sleep 30"), {});
  EXPECT_EQ(s.wait(100).kind, Supervisor::Event::Kind::kTimeout);
}

}  // namespace rowpool
