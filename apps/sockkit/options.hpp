#pragma once

// What every command does alike with its command line: a whole number outside its range
// (negative, too large, not a number) or an empty value is a usage error naming the
// option, never a value that wrapped around or an option taken as not given; a usage
// error is one line naming the command.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <system_error>

#include "sockkit/net/address.hpp"
#include "sockkit/net/endpoint.hpp"

namespace sockkit::app {

/// Adds a numeric option that accepts only a number from `least` to `most`, and says so in
/// --help: "--threads: '-1' is not a whole number from 0 to 256" (exit 2).
template <class T>
CLI::Option* add_number_option(CLI::App& command, const std::string& names, T& target,
                               const std::string& help, T least, T most) {
  const char* kind = std::is_integral_v<T> ? "a whole number" : "a number";
  auto check = [least, most, kind](std::string& text) -> std::string {
    T value{};
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc{} || stop != end || !(value >= least && value <= most)) {
      return fmt::format("'{}' is not {} from {} to {}", text, kind, least, most);
    }
    return {};
  };
  return command.add_option(names, target, fmt::format("{} ({} to {})", help, least, most))
      ->check(CLI::Validator(check, "", ""))
      ->capture_default_str();
}

/// Makes every option of `command` that takes a value refuse an empty one ("--listen: an
/// empty value"), which would otherwise read as the option not given at all.
inline void refuse_empty_values(CLI::App& command) {
  const auto not_empty = [](std::string& text) -> std::string {
    return text.empty() ? "an empty value" : "";
  };
  for (auto* option : command.get_options()) {
    if (option->get_expected_min() > 0 && !option->get_positional()) {
      option->check(CLI::Validator(not_empty, "", ""));
    }
  }
}

/// Warns on stderr, once, when `listen` is every interface (":PORT", "0.0.0.0:PORT", or
/// "[::]:PORT", which takes IPv4 clients too), so other machines can connect.
inline void warn_if_every_interface(std::string_view command, const net::Address& listen) {
  const bool ipv4 = listen == net::Address::ipv4_any(listen.port());
  const bool ipv6 = listen == net::Address::ipv6_any(listen.port());
  if (!ipv4 && !ipv6) return;
  fmt::print(stderr,
             "sockkit {}: warning: listening on every interface{}; other machines can connect "
             "(use 127.0.0.1:PORT for this machine only)\n",
             command, ipv6 ? ", IPv4 and IPv6" : "");
}

/// A --listen value, read as nc -l reads it too: a bare port ("9000") is every IPv4
/// interface (":9000"). Throws net::AddressError.
inline net::Endpoint parse_listen(const std::string& text) {
  const bool bare_port = !text.empty() && std::all_of(text.begin(), text.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  return net::Endpoint::parse(bare_port ? ":" + text : text);
}

/// Says what was wrong with the command line, on one line naming the command, and returns
/// exit status 2: "sockkit serve: --engine: 'x' is not one of ... (see sockkit serve --help)".
inline int usage_error(std::string_view command, std::string_view what) {
  fmt::print(stderr, "sockkit {0}: {1} (see sockkit {0} --help)\n", command, what);
  return 2;
}

}  // namespace sockkit::app
