// sockkit: the command-line tool built on the library.
#include <CLI/CLI.hpp>
#include <iostream>

#include "bench_command.hpp"
#include "compare_command.hpp"
#include "connect_command.hpp"
#include "proxy_command.hpp"
#include "send_command.hpp"
#include "serve_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "sockkit: client-server sockets done right.\n"
      "Each command has its own --help, with examples."};
  app.set_version_flag("--version", std::string("sockkit ") + SOCKKIT_VERSION);
  app.require_subcommand(1);
  sockkit::app::ServeCommand serve(app);
  sockkit::app::SendCommand send(app);
  sockkit::app::ConnectCommand connect(app);
  sockkit::app::BenchCommand bench(app);
  sockkit::app::CompareCommand compare(app);
  sockkit::app::ProxyCommand proxy(app);
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
