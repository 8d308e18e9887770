#include "sockkit/codec/text.hpp"

#include <algorithm>

namespace sockkit::codec {

std::string python_bytes_repr(std::span<const std::byte> bytes) {
  // CPython quotes with ' unless the bytes hold a ' and no ", and then uses ".
  const auto has = [&](char c) {
    return std::find(bytes.begin(), bytes.end(), static_cast<std::byte>(c)) != bytes.end();
  };
  const char quote = has('\'') && !has('"') ? '"' : '\'';
  std::string out;
  out.reserve(bytes.size() + 3);
  out += 'b';
  out += quote;
  append_python_bytes_escaped(out, bytes, quote);
  out += quote;
  return out;
}

void append_python_bytes_escaped(std::string& out, std::span<const std::byte> bytes, char quote) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto plain = [quote](unsigned char c) {
    return c >= 0x20 && c < 0x7f && c != '\\' && c != static_cast<unsigned char>(quote);
  };
  const auto* const text = reinterpret_cast<const char*>(bytes.data());
  std::size_t i = 0;
  while (i < bytes.size()) {
    // A run of bytes that print as themselves goes in with one append: most of a reply.
    std::size_t run = i;
    while (run < bytes.size() && plain(std::to_integer<unsigned char>(bytes[run]))) ++run;
    if (run > i) out.append(text + i, run - i);
    if (run == bytes.size()) break;
    const auto c = std::to_integer<unsigned char>(bytes[run]);
    i = run + 1;
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
}

}  // namespace sockkit::codec
