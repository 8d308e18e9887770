#pragma once

// Counts heap allocations made through operator new, by any thread, while an
// AllocationCounter is alive. The codec tests use it to prove that a declared frame length
// is never allocated and that steady-state decoding allocates nothing; the engine tests,
// that serving a message allocates nothing. Linking it replaces the global operator new.
// FailingAllocations makes chosen allocations fail instead, for the paths that must
// survive running out of memory.

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

/// While alive, the next `count` allocations of exactly `size` bytes, by any thread, throw
/// std::bad_alloc: how a test makes one kind of object impossible to create (its size is
/// `sizeof` it) while everything else goes on.
class FailingAllocations {
 public:
  FailingAllocations(std::size_t size, int count);
  FailingAllocations(const FailingAllocations&) = delete;
  FailingAllocations& operator=(const FailingAllocations&) = delete;
  ~FailingAllocations();

  /// How many of the `count` have not failed yet.
  [[nodiscard]] int left() const noexcept;
};

}  // namespace sockkit::test
