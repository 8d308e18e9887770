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

TEST(PythonBytesRepr, PiecesEscapedInTurnMakeTheWholeOnesInside) {
  static constexpr char kText[] = "it's \"both\"\n\x00\xff and a \\ too";
  const std::string text(kText, sizeof kText - 1);
  std::string pieces;
  for (std::size_t at = 0; at < text.size(); at += 3) {
    append_python_bytes_escaped(
        pieces,
        std::as_bytes(std::span(text).subspan(at, std::min<std::size_t>(3, text.size() - at))),
        '\'');
  }
  EXPECT_EQ(pieces, R"(it\'s "both"\n\x00\xff and a \\ too)");
  // Both quote characters present: CPython quotes with ', as the pieces did.
  EXPECT_EQ("b'" + pieces + "'", python_bytes_repr(text));
}

}  // namespace
}  // namespace sockkit::codec
