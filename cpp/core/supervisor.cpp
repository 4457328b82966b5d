#include "core/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "core/errors.hpp"

namespace rowpool {

std::uint64_t Supervisor::spawn(const std::vector<std::string>& argv,
                                const std::vector<int>& shared_fds) {
  auto [parent_end, worker_end] = MessageQueue::create_pair();
  std::vector<std::string> full_argv = argv;
  full_argv.push_back("--queue-fd");
  // The child sees shared_fds[i] as fd kFirstInheritedFd + i and its end of the queue right after.
  full_argv.push_back(std::to_string(kFirstInheritedFd + shared_fds.size()));
  std::vector<int> inherit = shared_fds;
  inherit.push_back(worker_end.fd());
  Process process = Process::spawn(full_argv, inherit);
  // worker_end closes here: only the child holds it now, so the child's death reads as EOF.
  const std::uint64_t id = next_id_++;
  workers_.emplace(id, Worker{std::move(process), std::move(parent_end)});
  return id;
}

void Supervisor::send(std::uint64_t worker, const MessageHeader& header, const void* payload,
                      std::size_t payload_bytes) {
  at(worker).queue.send(header, payload, payload_bytes);
}

Supervisor::Event Supervisor::wait(int timeout_ms) {
  if (workers_.empty()) throw Error("no workers to wait for");
  std::vector<pollfd> entries;
  std::vector<std::uint64_t> ids;
  for (auto& [id, w] : workers_) {
    entries.push_back({w.queue.fd(), POLLIN, 0});
    ids.push_back(id);
  }
  for (auto& [id, w] : workers_) entries.push_back({w.process.pidfd(), POLLIN, 0});
  const int ready = ::poll(entries.data(), entries.size(), timeout_ms);
  if (ready < 0 && errno != EINTR) throw SystemError("poll", errno);
  if (ready <= 0) return {};

  const std::size_t n = ids.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (entries[i].revents == 0) continue;
    const std::uint64_t id = ids[i];
    try {
      if (auto header = at(id).queue.receive_header(0)) {
        Event event;
        event.kind = Event::Kind::kMessage;
        event.worker = id;
        event.header = *header;
        return event;
      }
    } catch (const QueueClosed&) {
      return reap(id);  // EOF: the worker is exiting or gone
    } catch (const ProtocolError&) {
      return reap(id);
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (entries[n + i].revents != 0) return reap(ids[i]);
  }
  return {};
}

Supervisor::Event Supervisor::reap(std::uint64_t worker) {
  Worker& w = at(worker);
  w.queue.close();
  // A worker whose queue hit EOF is on its way out; give it a moment before forcing it.
  auto status = w.process.wait_for(1000);
  Event event;
  event.kind = Event::Kind::kExited;
  event.worker = worker;
  event.status = status ? *status : w.process.terminate(0);
  workers_.erase(worker);
  return event;
}

void Supervisor::receive_payload(std::uint64_t worker, void* destination, std::size_t bytes) {
  at(worker).queue.receive_payload(destination, bytes);
}

ExitStatus Supervisor::terminate(std::uint64_t worker, int grace_ms) {
  Worker& w = at(worker);
  w.queue.close();
  ExitStatus status = w.process.terminate(grace_ms);
  workers_.erase(worker);
  return status;
}

void Supervisor::close_queues() noexcept {
  for (auto& [id, w] : workers_) w.queue.close();
}

void Supervisor::shutdown(int grace_ms) {
  close_queues();
  reap_all(grace_ms);
}

void Supervisor::stop_all(int grace_ms) {
  close_queues();
  for (auto& [id, w] : workers_) w.process.signal_group(SIGTERM);
  reap_all(grace_ms);
}

void Supervisor::reap_all(int grace_ms) {
  // One deadline for all: N workers that ignore the request take grace_ms, not N times it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (auto& [id, w] : workers_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    w.process.wait_for(left.count() > 0 ? static_cast<int>(left.count()) : 0);
  }
  for (auto& [id, w] : workers_) w.process.signal_group(SIGKILL);
  workers_.clear();  // reaps each, already SIGKILLed
}

std::vector<std::uint64_t> Supervisor::workers() const {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, w] : workers_) ids.push_back(id);
  return ids;
}

pid_t Supervisor::pid(std::uint64_t worker) const { return at(worker).process.pid(); }

Supervisor::Worker& Supervisor::at(std::uint64_t worker) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) throw Error("unknown worker " + std::to_string(worker));
  return it->second;
}

const Supervisor::Worker& Supervisor::at(std::uint64_t worker) const {
  auto it = workers_.find(worker);
  if (it == workers_.end()) throw Error("unknown worker " + std::to_string(worker));
  return it->second;
}

}  // namespace rowpool
