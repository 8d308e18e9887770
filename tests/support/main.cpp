// The main() of every unit-test binary. Besides running the tests, it checks that each test
// suite closes every descriptor it opened: the count in /proc/self/fd must be the same
// after the suite as before it.

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

#include "support/loopback.hpp"

namespace {

class FdLeakCheck : public testing::EmptyTestEventListener {
 public:
  void OnTestSuiteStart(const testing::TestSuite& /*suite*/) override {
    before_ = sockkit::test::open_fd_count();
  }
  void OnTestSuiteEnd(const testing::TestSuite& suite) override {
    const auto after = sockkit::test::open_fd_count();
    if (after != before_) {
      std::fprintf(stderr, "FD LEAK: test suite %s had %zu descriptors open before and %zu after\n",
                   suite.name(), before_, after);
      leaked_ = true;
    }
  }
  [[nodiscard]] bool leaked() const noexcept { return leaked_; }

 private:
  std::size_t before_ = 0;
  bool leaked_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  // SIGPIPE stays at its default disposition on purpose: if any send lacked MSG_NOSIGNAL,
  // the test binary would die by the signal and the test would fail.
  std::signal(SIGPIPE, SIG_DFL);
  testing::InitGoogleTest(&argc, argv);
  auto* leak_check = new FdLeakCheck;  // the listener list owns it
  testing::UnitTest::GetInstance()->listeners().Append(leak_check);
  const int result = RUN_ALL_TESTS();
  return leak_check->leaked() ? 1 : result;
}
