#include "sockkit/net/error.hpp"

#include <netdb.h>

namespace sockkit::net {
namespace {

class SockkitCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sockkit"; }
  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::closed_early: return "peer closed the connection early";
      case Errc::datagram_truncated: return "datagram larger than the receive buffer";
      case Errc::path_not_a_socket: return "exists and is not a socket";
    }
    return "unknown sockkit error " + std::to_string(value);
  }
  [[nodiscard]] std::error_condition default_error_condition(int value) const noexcept override {
    if (static_cast<Errc>(value) == Errc::datagram_truncated) return std::errc::message_size;
    return {value, *this};
  }
};

class ResolverCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "resolver"; }
  [[nodiscard]] std::string message(int value) const override { return ::gai_strerror(value); }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const SockkitCategory category;
  return category;
}

const std::error_category& resolver_category() noexcept {
  static const ResolverCategory category;
  return category;
}

EarlyCloseError::EarlyCloseError(const std::string& context, std::size_t received,
                                 std::size_t expected)
    : std::system_error(Errc::closed_early, context + " (" + std::to_string(received) + " of " +
                                                std::to_string(expected) + " bytes arrived)"),
      received_(received),
      expected_(expected) {}

}  // namespace sockkit::net
