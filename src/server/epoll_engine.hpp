#pragma once

// The epoll engine: one event loop per thread over non-blocking sockets. Private to the
// library; made by make_engine().

#include "engine_base.hpp"

namespace sockkit::server::detail {

class EpollEngine final : public MultiLoopEngine {
 public:
  explicit EpollEngine(ServerConfig config);

 private:
  class Loop;
};

}  // namespace sockkit::server::detail
