#include "sockkit/codec/text.hpp"

#include <algorithm>

namespace sockkit::codec {

std::string python_bytes_repr(std::span<const std::byte> bytes) {
  // CPython quotes with ' unless the bytes hold a ' and no ", and then uses ".
  const auto has = [&](char c) {
    return std::find(bytes.begin(), bytes.end(), static_cast<std::byte>(c)) != bytes.end();
  };
  const char quote = has('\'') && !has('"') ? '"' : '\'';
  static constexpr char kHex[] = "0123456789abcdef";

  std::string out;
  out.reserve(bytes.size() + 3);
  out += 'b';
  out += quote;
  for (const std::byte b : bytes) {
    const auto c = std::to_integer<unsigned char>(b);
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

}  // namespace sockkit::codec
