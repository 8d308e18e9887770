// Proves the descriptor-leak check in support/main.cpp can fail: this binary leaks one
// descriptor on purpose, and CTest expects it to exit non-zero naming the suite.
#include <gtest/gtest.h>
#include <unistd.h>

TEST(LeakyOnPurpose, LeavesADescriptorOpen) {
  const int leaked = ::dup(0);
  EXPECT_GE(leaked, 0);
}
