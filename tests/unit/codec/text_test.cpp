#include "sockkit/codec/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sockkit::codec {
namespace {

// The right-hand sides are what CPython 3.11 prints for repr() of the same bytes.
TEST(PythonBytesRepr, MatchesCPython) {
  EXPECT_EQ(python_bytes_repr("Hello, world"), R"(b'Hello, world')");
  EXPECT_EQ(python_bytes_repr("it's"), R"(b"it's")");
  EXPECT_EQ(python_bytes_repr("both ' and \""), R"(b'both \' and "')");
  EXPECT_EQ(python_bytes_repr(std::string("\x00\x01\x7f\x80\xff", 5)),
            R"(b'\x00\x01\x7f\x80\xff')");
  EXPECT_EQ(python_bytes_repr("tab\there\nnl\rcr"), R"(b'tab\there\nnl\rcr')");
  EXPECT_EQ(python_bytes_repr("back\\slash"), R"(b'back\\slash')");
  EXPECT_EQ(python_bytes_repr(""), "b''");
  EXPECT_EQ(python_bytes_repr("h\xc3\xa9llo"), R"(b'h\xc3\xa9llo')");
}

TEST(PythonBytesRepr, NeverEmitsRawControlBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const auto repr = python_bytes_repr(all);
  for (const char c : repr) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "raw byte " << int(u) << " in output";
  }
}

}  // namespace
}  // namespace sockkit::codec
