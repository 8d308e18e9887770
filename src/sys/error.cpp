#include "sockkit/sys/error.hpp"

namespace sockkit::sys {

void throw_error(const std::error_code& ec, const std::string& context) {
  throw std::system_error(ec, context);
}

}  // namespace sockkit::sys
