#pragma once

// Counts heap allocations made through operator new, by any thread, while an
// AllocationCounter is alive. The codec tests use it to prove that a declared frame length
// is never allocated and that steady-state decoding allocates nothing; the engine tests,
// that serving a message allocates nothing. Linking it replaces the global operator new.

#include <cstddef>

namespace sockkit::test {

class AllocationCounter {
 public:
  AllocationCounter();
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;
  ~AllocationCounter();

  [[nodiscard]] std::size_t count() const noexcept;
  [[nodiscard]] std::size_t largest() const noexcept;
};

}  // namespace sockkit::test
