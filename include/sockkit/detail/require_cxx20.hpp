#pragma once

// Every public header includes this first: sockkit is C++20 (std::span, concepts,
// designated initializers, <bit>), and a compiler in an older mode should say that, once,
// instead of a page of errors from whatever it meets first.

#if !defined(__cplusplus) || __cplusplus < 202002L
#error "sockkit needs C++20: compile with -std=c++20 (sockkit::sockkit in CMake asks for it)"
#endif
