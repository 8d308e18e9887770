#include "support/allocation_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
std::atomic<std::size_t> largest_allocation{0};
std::atomic<std::size_t> failing_size{0};
std::atomic<int> failures_left{0};

bool should_fail(std::size_t size) noexcept {
  if (size != failing_size.load(std::memory_order_relaxed)) return false;
  int left = failures_left.load(std::memory_order_relaxed);
  while (left > 0 && !failures_left.compare_exchange_weak(left, left - 1)) {
  }
  return left > 0;
}

void* allocate(std::size_t size) {
  if (should_fail(size)) throw std::bad_alloc();
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    std::size_t seen = largest_allocation.load(std::memory_order_relaxed);
    while (size > seen && !largest_allocation.compare_exchange_weak(seen, size)) {
    }
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

// Replacing the global allocation functions is how the standard lets a program watch them.
void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t /*size*/) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t /*size*/) noexcept {
  std::free(p);
}

namespace sockkit::test {

AllocationCounter::AllocationCounter() {
  allocations = 0;
  largest_allocation = 0;
  counting = true;
}

AllocationCounter::~AllocationCounter() {
  counting = false;
}

std::size_t AllocationCounter::count() const noexcept {
  return allocations;
}
std::size_t AllocationCounter::largest() const noexcept {
  return largest_allocation;
}

FailingAllocations::FailingAllocations(std::size_t size, int count) {
  failures_left = 0;
  failing_size = size;
  failures_left = count;
}

FailingAllocations::~FailingAllocations() {
  failures_left = 0;
  failing_size = 0;
}

int FailingAllocations::left() const noexcept {
  return failures_left;
}

}  // namespace sockkit::test
