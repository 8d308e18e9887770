#include "sockkit/net/address.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace sockkit::net {
namespace {

TEST(Address, ParseAndPrintRoundTrip) {
  for (const char* text :
       {"127.0.0.1:65432", "0.0.0.0:0", "10.1.2.3:80", "[::1]:8080", "[::]:0", "[2001:db8::42]:443",
        "[fe80::1%lo]:80", "unix:/run/x.sock", "unix:relative.sock", "unix:@name", "unix:@"}) {
    EXPECT_EQ(Address::parse(text).to_string(), text);
  }
}

TEST(Address, EmptyHostMeansEveryIpv4Interface) {
  const auto any = Address::parse(":65432");
  EXPECT_EQ(any, Address::ipv4_any(65432));
  EXPECT_EQ(any.to_string(), "0.0.0.0:65432");
}

TEST(Address, KnowsItsFamilyHostAndPort) {
  const auto v4 = Address::parse("127.0.0.1:65432");
  EXPECT_EQ(v4.family(), Address::Family::ipv4);
  EXPECT_EQ(v4.domain(), AF_INET);
  EXPECT_EQ(v4.host(), "127.0.0.1");
  EXPECT_EQ(v4.port(), 65432);
  EXPECT_EQ(v4, Address::ipv4_loopback(65432));

  const auto v6 = Address::parse("[::1]:8080");
  EXPECT_EQ(v6.family(), Address::Family::ipv6);
  EXPECT_EQ(v6.host(), "::1");
  EXPECT_EQ(v6, Address::ipv6_loopback(8080));

  const auto path = Address::parse("unix:/tmp/s");
  EXPECT_EQ(path.family(), Address::Family::unix_path);
  EXPECT_TRUE(path.is_unix());
  EXPECT_EQ(path.host(), "/tmp/s");
  EXPECT_EQ(path.port(), 0);

  const auto abstract = Address::parse("unix:@svc");
  EXPECT_EQ(abstract.family(), Address::Family::unix_abstract);
  EXPECT_EQ(abstract.host(), "@svc");
  EXPECT_NE(abstract, Address::unix_path("@svc"));
}

TEST(Address, WithPortChangesOnlyThePort) {
  const auto a = Address::parse("[::1]:1").with_port(2);
  EXPECT_EQ(a.to_string(), "[::1]:2");
  EXPECT_EQ(Address::parse("unix:/x").with_port(5).to_string(), "unix:/x");
}

TEST(Address, DefaultIsUnspecified) {
  const Address a;
  EXPECT_EQ(a.family(), Address::Family::unspecified);
  EXPECT_EQ(a.to_string(), "(unspecified)");
}

void expect_rejected(const std::string& text, const std::string& reason) {
  try {
    (void)Address::parse(text);
    ADD_FAILURE() << "'" << text << "' was accepted";
  } catch (const AddressError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'" + text + "'"), std::string::npos) << what;
    EXPECT_NE(what.find(reason), std::string::npos) << what;
  }
}

TEST(Address, RejectsMalformedStringsWithClearMessages) {
  expect_rejected(":99999", "port 99999 is out of range (0-65535)");
  expect_rejected("1.2.3.4:65536", "out of range");
  expect_rejected("1.2.3.4:123456789012345678901234567890", "out of range");
  expect_rejected("[::1", "missing ']'");
  expect_rejected("", "empty");
  expect_rejected("127.0.0.1", "missing ':PORT'");
  expect_rejected("::1:80", "needs brackets");
  expect_rejected("[::1]", "expected ':PORT' after ']'");
  expect_rejected("[::1]80", "expected ':PORT' after ']'");
  expect_rejected("[nonsense]:80", "is not an IPv6 address");
  expect_rejected("[fe80::1%no-such-if0]:80", "unknown network interface");
  expect_rejected("1.2.3.4:abc", "'abc' is neither a number nor a service name");
  expect_rejected("1.2.3.4:-1", "is neither a number");
  expect_rejected("1.2.3.4:no-such-service", "is neither a number nor a service name");
  expect_rejected("1.2.3.4:", "missing port number");
  expect_rejected("unix:", "empty Unix socket path");
  expect_rejected("bad host!:80", "neither an IP address nor a host name");
  expect_rejected("localhost:80", "is a host name");
  expect_rejected("unix:/" + std::string(200, 'x'), "the limit is 107");
}

TEST(Address, AcceptsTheLongestUnixPath) {
  const std::string path(107, 'p');
  EXPECT_EQ(Address::unix_path(path).host(), path);
  EXPECT_THROW((void)Address::unix_path(path + "p"), AddressError);
}

TEST(Address, FromSockaddrCopiesWhatTheKernelGave) {
  const auto original = Address::parse("[2001:db8::1]:9");
  const auto copy = Address::from_sockaddr(original.data(), original.size());
  EXPECT_EQ(copy, original);
  EXPECT_EQ(Address::from_sockaddr(nullptr, 0).family(), Address::Family::unspecified);
}

TEST(Address, PrintsToStreams) {
  std::ostringstream out;
  out << Address::ipv4_loopback(5);
  EXPECT_EQ(out.str(), "127.0.0.1:5");
}

}  // namespace
}  // namespace sockkit::net
