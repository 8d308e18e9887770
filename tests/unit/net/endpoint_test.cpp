#include "sockkit/net/endpoint.hpp"

#include <gtest/gtest.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "sockkit/net/error.hpp"

namespace sockkit::net {
namespace {

TEST(Endpoint, NumericTextNeedsNoResolution) {
  const auto endpoint = Endpoint::parse("[::1]:8080");
  ASSERT_TRUE(endpoint.address().has_value());
  EXPECT_EQ(*endpoint.address(), Address::ipv6_loopback(8080));
  EXPECT_EQ(endpoint.resolve(), std::vector<Address>{Address::ipv6_loopback(8080)});
}

TEST(Endpoint, HostNamesAreKeptForResolution) {
  const auto endpoint = Endpoint::parse("localhost:80");
  EXPECT_FALSE(endpoint.address().has_value());
  EXPECT_EQ(endpoint.host_name(), "localhost");
  EXPECT_EQ(endpoint.port(), 80);
  EXPECT_EQ(endpoint.to_string(), "localhost:80");
  const auto addresses = endpoint.resolve();
  EXPECT_NE(std::find(addresses.begin(), addresses.end(), Address::ipv4_loopback(80)),
            addresses.end());
}

// As nc takes them: a service name from /etc/services for the port (its TCP port).
TEST(Endpoint, APortMayBeAServiceName) {
  EXPECT_EQ(Endpoint::parse("localhost:http").port(), 80);
  EXPECT_EQ(Endpoint::parse("127.0.0.1:ssh").to_string(), "127.0.0.1:22");
  EXPECT_EQ(Endpoint::parse("::1", "https").to_string(), "[::1]:443");
  EXPECT_EQ(Address::parse(":domain").port(), 53);
  EXPECT_THROW((void)Endpoint::parse("localhost:no-such-service"), AddressError);
}

TEST(Endpoint, HostAndPortGivenApart) {
  EXPECT_EQ(Endpoint::parse("127.0.0.1", "65432").to_string(), "127.0.0.1:65432");
  EXPECT_EQ(Endpoint::parse("::1", "80").to_string(), "[::1]:80");
  EXPECT_EQ(Endpoint::parse("[::1]", "80").to_string(), "[::1]:80");
  EXPECT_EQ(Endpoint::parse("", "65432").to_string(), "0.0.0.0:65432");
  EXPECT_EQ(Endpoint("localhost", 7).to_string(), "localhost:7");
  EXPECT_THROW((void)Endpoint::parse("::1", "99999"), AddressError);
  EXPECT_THROW((void)Endpoint::parse("127.0.0.1", ""), AddressError);
}

TEST(Resolve, ReturnsEveryAddressWithoutDuplicates) {
  const auto addresses = resolve("localhost", 443);
  ASSERT_FALSE(addresses.empty());
  for (const auto& address : addresses) {
    EXPECT_EQ(address.port(), 443);
    EXPECT_EQ(std::count(addresses.begin(), addresses.end(), address), 1);
  }
}

TEST(Resolve, FailuresUseTheResolverCategory) {
  std::error_code ec;
  // An invalid socket type fails inside getaddrinfo without asking any name server, so the
  // test does not depend on the network.
  const auto addresses = resolve("localhost", 80, 12345, ec);
  EXPECT_TRUE(addresses.empty());
  EXPECT_EQ(&ec.category(), &resolver_category());
  EXPECT_EQ(ec.value(), EAI_SOCKTYPE);
  EXPECT_EQ(ec.message(), ::gai_strerror(EAI_SOCKTYPE));
  try {
    (void)resolve("localhost", 80, 12345);
    FAIL() << "must throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("resolve localhost: ", 0), 0u) << e.what();
  }
}

TEST(HostName, IsWhatTheKernelCallsThisMachine) {
  std::ifstream file("/proc/sys/kernel/hostname");
  std::string expected;
  std::getline(file, expected);
  EXPECT_EQ(host_name(), expected);
}

}  // namespace
}  // namespace sockkit::net
