// sockkit: the command-line tool built on the library.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string_view>
#include <vector>

#include "bench_command.hpp"
#include "compare_command.hpp"
#include "connect_command.hpp"
#include "options.hpp"
#include "proxy_command.hpp"
#include "send_command.hpp"
#include "serve_command.hpp"

namespace {

// Edits (insert, delete, replace) turning one word into the other: how far a typo is.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first word must be a command (or --help, --version). CLI11 alone would answer
// "A subcommand is required" for a typo; this names the word and the nearest command.
// Returns the message, or nothing when the word is fine.
std::string check_first_word(const CLI::App& app, std::string_view word) {
  if (word == "-h" || word == "--help" || word == "-V" || word == "--version") return {};
  std::vector<std::string> names;
  for (const auto* command : app.get_subcommands({})) names.push_back(command->get_name());
  if (std::find(names.begin(), names.end(), word) != names.end()) return {};
  const auto nearest = std::min_element(names.begin(), names.end(), [&](auto& x, auto& y) {
    return edit_distance(word, x) < edit_distance(word, y);
  });
  std::string message =
      word.starts_with('-')
          ? fmt::format("sockkit: unknown option '{}'; a command comes first", word)
          : fmt::format("sockkit: '{}' is not a command", word);
  if (!word.starts_with('-') && edit_distance(word, *nearest) <= 2) {
    message += fmt::format("; did you mean '{}'?", *nearest);
  }
  return message + fmt::format(" (commands: {}; sockkit --help)", fmt::join(names, ", "));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sockkit: client-server sockets done right.\n"
      "Each command has its own --help, with examples.",
      "sockkit"};
  app.set_version_flag("-V,--version", std::string("sockkit ") + SOCKKIT_VERSION);
  app.require_subcommand(1);
  // One line naming the command and the bad word, e.g.
  // "sockkit serve: --threads: '-1' is not a whole number from 0 to 256 (see sockkit serve
  // --help)".
  app.failure_message([](const CLI::App* top, const CLI::Error& e) {
    const auto chosen = top->get_subcommands();
    const std::string command =
        chosen.empty() ? "sockkit" : "sockkit " + chosen.front()->get_name();
    return fmt::format("{}: {} (see {} --help)\n", command, e.what(), command);
  });
  sockkit::app::ServeCommand serve(app);
  sockkit::app::SendCommand send(app);
  sockkit::app::ConnectCommand connect(app);
  sockkit::app::BenchCommand bench(app);
  sockkit::app::CompareCommand compare(app);
  sockkit::app::ProxyCommand proxy(app);
  for (auto* command : app.get_subcommands({})) sockkit::app::refuse_empty_values(*command);
  if (argc > 1) {
    const auto message = check_first_word(app, argv[1]);
    if (!message.empty()) {
      std::cerr << message << "\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // prints help, version or the error
    return status == 0 ? 0 : 2;
  }
  if (serve.chosen()) return serve.run();
  if (send.chosen()) return send.run();
  if (connect.chosen()) return connect.run();
  if (bench.chosen()) return bench.run();
  if (compare.chosen()) return compare.run();
  if (proxy.chosen()) return proxy.run();
  return 2;
}
