// A consumer compiled as C++17: the headers must refuse it with one plain message
// (tests/install/CMakeLists.txt checks the compiler says "sockkit needs C++20").
#include <sockkit/sockkit.hpp>

int main() {}
