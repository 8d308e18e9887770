#pragma once

// What the engine suite's files share: an engine running on a thread for a test, the
// variants every behaviour runs against, and the helpers the cases use. The suite is one
// behaviour, run against every engine: the engines differ only in how they wait.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine_base.hpp"
#include "session.hpp"
#include "sockkit/client/load_generator.hpp"
#include "sockkit/net/framing.hpp"
#include "sockkit/net/stream_socket.hpp"
#include "sockkit/server/engine.hpp"
#include "sockkit/sys/resources.hpp"
#include "sockkit/sys/socket.hpp"
#include "sockkit/sys/socket_options.hpp"
#include "support/allocation_counter.hpp"
#include "support/loopback.hpp"

namespace sockkit::server::engine_suite {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using proto::CloseReason;

/// What the suite runs against: an engine, and for io_uring either receive mode (single
/// receives are what a kernel before 6.17 gets). Stands in for its EngineKind.
struct Variant {
  EngineKind kind;
  bool single_receives = false;
  // Implicit both ways: a test written for an EngineKind takes a Variant, and back.
  Variant(EngineKind k, bool single = false)  // NOLINT(google-explicit-constructor)
      : kind(k), single_receives(single) {}
  operator EngineKind() const { return kind; }  // NOLINT(google-explicit-constructor)
  [[nodiscard]] std::string name() const {
    return std::string(to_string(kind)) + (single_receives ? "_single_receives" : "");
  }
};

/// An engine running on its own thread for the length of a test.
class RunningServer {
 public:
  RunningServer(Variant variant, ServerConfig config) {
    if (variant.single_receives) config.uring.multishot_receive = false;
    config.listen = config.listen.family() == net::Address::Family::unspecified
                        ? net::Address::ipv4_loopback()
                        : config.listen;
    engine_ = make_engine(variant.kind, std::move(config));
    thread_ = std::jthread([this] {
      engine_->run();
      returned_ = Clock::now();
      done_ = true;
    });
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  ~RunningServer() {
    engine_->stop();
    thread_.join();
  }

  Engine& engine() { return *engine_; }
  const net::Address& address() const { return engine_->local_address(); }
  net::StreamSocket connect() const { return net::StreamSocket::connect(address(), 2s); }
  bool done() const { return done_; }
  Clock::time_point returned() const { return returned_; }
  /// Waits up to `limit` for `condition` on the stats.
  template <class Condition>
  bool wait_for_stats(Condition condition, std::chrono::milliseconds limit = 3s) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
      if (condition(engine_->stats())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return condition(engine_->stats());
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::atomic<bool> done_{false};
  Clock::time_point returned_;
  std::jthread thread_;
};

inline ServerConfig base_config() {
  ServerConfig config;
  config.listen = net::Address();  // RunningServer picks 127.0.0.1:0
  return config;
}

// What a server logs, kept for the test to read (an engine logs from its own threads).
// Declared before the server, so it outlives it.
class CapturedLog {
 public:
  explicit CapturedLog(ServerConfig& config) {
    config.log = [this](std::string_view line) {
      const std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  [[nodiscard]] std::vector<std::string> lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Clients that will never read: a 4 KiB receive buffer, non-blocking, so a test can send
// as much as the kernel takes and then leave them sitting.
template <class Server>
std::vector<net::StreamSocket> non_reading_clients(Server& server, std::size_t count) {
  std::vector<net::StreamSocket> clients;
  for (std::size_t i = 0; i < count; ++i) {
    clients.push_back(server.connect());
    sys::set_option(clients.back().native_handle(), sys::ReceiveBufferSize{4096});
    std::error_code ec;
    sys::set_nonblocking(clients.back().native_handle(), true, ec);
  }
  return clients;
}

inline std::vector<std::byte> echo_round_trip(net::StreamSocket& stream,
                                              const std::vector<std::byte>& data) {
  std::vector<std::byte> back(data.size());
  std::thread writer([&] { stream.send_all(data); });
  stream.recv_exact(back);
  writer.join();
  return back;
}

// Reads until the peer closes or `limit` passes; true if it closed.
inline bool closes_within(net::StreamSocket& stream, std::chrono::milliseconds limit) {
  stream.set_read_timeout(limit);
  std::array<std::byte, 65536> sink{};
  std::error_code ec;
  for (;;) {
    const auto n = stream.recv_some(sink, ec);
    if (ec) return ec == std::errc::connection_reset;
    if (n == 0) return true;
  }
}

inline std::size_t resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
  }
  return 0;
}

class EngineTest : public testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    if (const auto ec = check_engine(GetParam())) {
      GTEST_SKIP() << "the kernel refuses the " << to_string(GetParam().kind)
                   << " engine here: " << ec.message();
    }
  }
  bool concurrent() const { return GetParam() != EngineKind::iterative; }
};

}  // namespace sockkit::server::engine_suite
