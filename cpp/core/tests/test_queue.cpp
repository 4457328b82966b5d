#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "core/errors.hpp"
#include "core/queue.hpp"

namespace rowpool {

TEST(MessageQueue, CarriesHeaderAndLargePayload) {
  auto [a, b] = MessageQueue::create_pair();
  std::vector<std::uint32_t> payload(1 << 20);  // 4 MB: larger than the socket buffer
  std::iota(payload.begin(), payload.end(), 0u);
  std::thread sender([&, &a = a] {
    MessageHeader h;
    h.kind = 7;
    h.tag = 42;
    a.send(h, payload.data(), payload.size() * sizeof(std::uint32_t));
  });
  auto header = b.receive_header(5000);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->kind, 7u);
  EXPECT_EQ(header->tag, 42u);
  ASSERT_EQ(header->payload_bytes, payload.size() * sizeof(std::uint32_t));
  std::vector<std::uint32_t> received(payload.size());
  b.receive_payload(received.data(), header->payload_bytes);
  sender.join();
  EXPECT_EQ(received, payload);
}

TEST(MessageQueue, TimesOutWithoutSpinning) {
  auto [a, b] = MessageQueue::create_pair();
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  EXPECT_FALSE(b.receive_header(200).has_value());
  const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_LT(cpu, 0.05);  // a spinning wait would burn ~0.2 s of CPU
}

TEST(MessageQueue, PeerExitReadsAsClosed) {
  auto [a, b] = MessageQueue::create_pair();
  const pid_t child = fork();
  if (child == 0) {
    MessageQueue own(dup(a.fd()));  // as a worker does: its own queue over the inherited fd
    MessageHeader h;
    h.kind = 1;
    own.send(h, nullptr, 0);
    _exit(0);  // dies holding its end: the parent must see EOF, not hang
  }
  a.close();
  auto first = b.receive_header(5000);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, 1u);
  EXPECT_THROW(b.receive_header(5000), QueueClosed);
  waitpid(child, nullptr, 0);
}

TEST(MessageQueue, AForkedChildCannotSpeakOnItsParentsQueue) {
  auto [a, b] = MessageQueue::create_pair();
  const pid_t child = fork();
  if (child == 0) {
    int refused = 0;
    try {
      a.send(MessageHeader{}, nullptr, 0);
    } catch (const QueueClosed&) {
      ++refused;
    }
    try {
      a.receive_header(0);
    } catch (const QueueClosed&) {
      ++refused;
    }
    _exit(refused == 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(b.receive_header(0).has_value());  // nothing reached the peer
  MessageHeader h;
  h.kind = 5;
  a.send(h, nullptr, 0);  // the owner still can
  EXPECT_EQ(b.receive_header(1000)->kind, 5u);
}

TEST(MessageQueue, SendToClosedPeerThrowsInsteadOfSigpipe) {
  auto [a, b] = MessageQueue::create_pair();
  b.close();
  std::vector<char> big(1 << 20);
  EXPECT_THROW(a.send(MessageHeader{}, big.data(), big.size()), QueueClosed);
}

TEST(MessageQueue, TruncatedPayloadIsAProtocolError) {
  auto [a, b] = MessageQueue::create_pair();
  MessageHeader h;
  a.send(h, "abc", 3);
  a.close();
  auto header = b.receive_header(1000);
  ASSERT_TRUE(header.has_value());
  char buffer[10];
  EXPECT_THROW(b.receive_payload(buffer, 10), ProtocolError);
}

}  // namespace rowpool
