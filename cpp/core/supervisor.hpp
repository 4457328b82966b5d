// Supervisor: owns the worker processes and the parent's end of each worker's MessageQueue, and
// waits on all of them at once (queues and pidfds in one poll), so a dead worker is noticed the
// moment it dies. Used by one parent thread. Destroying it kills and reaps every worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/process.hpp"
#include "core/queue.hpp"
#include "core/worker_fds.hpp"

namespace rowpool {

class Supervisor {
 public:
  struct Event {
    enum class Kind { kMessage, kExited, kTimeout };
    Kind kind = Kind::kTimeout;
    std::uint64_t worker = 0;
    MessageHeader header;  // kMessage: the header; read its payload with receive_payload()
    ExitStatus status;     // kExited: how the worker ended (it is already reaped and removed)
  };

  Supervisor() = default;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Spawns `argv` + ["--queue-fd", N] where N is the worker's end of a new queue. The worker
  // inherits `shared_fds[i]` (e.g. the arena segment, kSegmentFd) as fd kFirstInheritedFd + i and
  // its queue as N = kFirstInheritedFd + shared_fds.size(); no other fd above stderr. Returns the
  // new worker's id (never reused).
  std::uint64_t spawn(const std::vector<std::string>& argv, const std::vector<int>& shared_fds);

  void send(std::uint64_t worker, const MessageHeader& header, const void* payload,
            std::size_t payload_bytes);
  // Waits up to `timeout_ms` (-1: forever) for a message from any worker or a worker's death.
  // Messages come before deaths, so a result sent just before exiting is never lost.
  // Returns kTimeout also when a signal interrupted the wait.
  Event wait(int timeout_ms);
  void receive_payload(std::uint64_t worker, void* destination, std::size_t bytes);

  // Ends one worker: SIGTERM, SIGKILL after `grace_ms`; reaps it and forgets it.
  ExitStatus terminate(std::uint64_t worker, int grace_ms);
  // Closes every queue (workers exit on EOF), waits up to `grace_ms`, then kills the rest.
  void shutdown(int grace_ms);
  // Ends every worker at once (a job was interrupted): SIGTERM to all, one shared `grace_ms` for
  // all of them, then SIGKILL to the rest; reaps everything.
  void stop_all(int grace_ms);
  // Closes every queue, so idle workers start exiting; shutdown() then only waits and reaps.
  void close_queues() noexcept;

  std::vector<std::uint64_t> workers() const;
  pid_t pid(std::uint64_t worker) const;
  std::size_t size() const noexcept { return workers_.size(); }

 private:
  struct Worker {
    Process process;
    MessageQueue queue;
  };
  Worker& at(std::uint64_t worker);
  const Worker& at(std::uint64_t worker) const;
  Event reap(std::uint64_t worker);
  // Waits until `grace_ms` passed for all workers to exit, SIGKILLs the rest, reaps and forgets
  // all.
  void reap_all(int grace_ms);

  std::map<std::uint64_t, Worker> workers_;
  std::uint64_t next_id_ = 0;
};

}  // namespace rowpool
