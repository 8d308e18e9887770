#include "fault_pipe.hpp"

#include <algorithm>
#include <cmath>

namespace sockkit::app {
namespace {

using namespace std::chrono_literals;

constexpr auto kBurst = 20ms;  // the bandwidth bucket holds this much of the rate

}  // namespace

bool DirectionFaults::any() const noexcept {
  return latency > 0ns || jitter > 0ns || bytes_per_second > 0 || slice_max > 0 ||
         cut_after.has_value() || blackhole_after.has_value() || slow_close > 0ns;
}

FaultPipe::FaultPipe(const DirectionFaults& faults, std::uint64_t seed, Clock::time_point opened,
                     std::size_t capacity)
    : faults_(faults),
      random_(seed),
      opened_(opened),
      capacity_(capacity),
      last_due_(opened),
      tokens_at_(opened) {
  if (faults_.slice_max < faults_.slice_min) std::swap(faults_.slice_min, faults_.slice_max);
  if (faults_.slice_max > 0) faults_.slice_min = std::max<std::size_t>(faults_.slice_min, 1);
  if (faults_.bytes_per_second > 0) tokens_ = burst();
}

std::size_t FaultPipe::room(Clock::time_point now) const noexcept {
  if (input_ended_ || blackholed(now) || cut()) return 0;
  return capacity_ > queue_.size() ? capacity_ - queue_.size() : 0;
}

void FaultPipe::push(std::span<const std::byte> bytes, Clock::time_point now) {
  if (bytes.empty()) return;
  queue_.append(bytes);
  pushed_ += bytes.size();
  if (faults_.latency == 0ns && faults_.jitter == 0ns) return;  // released at once
  auto due = now + faults_.latency;
  if (faults_.jitter > 0ns) {
    std::uniform_int_distribution<std::int64_t> spread(-faults_.jitter.count(),
                                                       faults_.jitter.count());
    due += std::chrono::nanoseconds(spread(random_));
  }
  due = std::max({due, now, last_due_});  // never early, never ahead of older bytes
  last_due_ = due;
  if (first_batch_ < batches_.size() && batches_.back().due == due) {
    batches_.back().end = pushed_;
  } else {
    batches_.push_back({pushed_, due});
  }
}

void FaultPipe::end_of_input(Clock::time_point now) {
  if (!input_ended_) input_ended_ = now;
}

std::size_t FaultPipe::released(Clock::time_point now) const noexcept {
  if (faults_.latency == 0ns && faults_.jitter == 0ns) return queue_.size();
  // Batches fall due in order and the clock only moves on, so the cursor only moves on:
  // each batch is stepped over once, not once per write.
  due_upto_ = std::max(due_upto_, first_batch_);
  while (due_upto_ < batches_.size() && batches_[due_upto_].due <= now) ++due_upto_;
  const std::uint64_t end = due_upto_ > first_batch_ ? batches_[due_upto_ - 1].end : forwarded_;
  return static_cast<std::size_t>(std::max(end, forwarded_) - forwarded_);
}

double FaultPipe::burst() const noexcept {
  return std::max(1.0, faults_.bytes_per_second * std::chrono::duration<double>(kBurst).count());
}

void FaultPipe::refill_tokens(Clock::time_point now) noexcept {
  if (faults_.bytes_per_second <= 0 || now <= tokens_at_) return;
  tokens_ =
      std::min(burst(), tokens_ + faults_.bytes_per_second *
                                      std::chrono::duration<double>(now - tokens_at_).count());
  tokens_at_ = now;
}

std::span<const std::byte> FaultPipe::writable(Clock::time_point now) {
  if (blackholed(now)) return {};
  std::size_t n = released(now);
  if (faults_.cut_after) {
    n = std::min<std::uint64_t>(
        n, *faults_.cut_after > forwarded_ ? *faults_.cut_after - forwarded_ : 0);
  }
  if (faults_.bytes_per_second > 0) {
    refill_tokens(now);
    n = std::min(n, static_cast<std::size_t>(std::floor(tokens_)));
  }
  if (faults_.slice_max > 0 && n > 0) {
    if (now < next_slice_at_) return {};
    if (slice_ == 0) {
      std::uniform_int_distribution<std::size_t> size(faults_.slice_min, faults_.slice_max);
      slice_ = size(random_);
    }
    n = std::min(n, slice_);
  }
  return queue_.readable().first(n);
}

void FaultPipe::consumed(std::size_t count, Clock::time_point now) {
  count = std::min(count, queue_.size());
  if (count == 0) return;
  queue_.consume(count);
  forwarded_ += count;
  if (faults_.bytes_per_second > 0) tokens_ -= static_cast<double>(count);
  if (faults_.slice_max > 0) {
    slice_ -= std::min(slice_, count);
    if (slice_ == 0) next_slice_at_ = now + faults_.slice_delay;
  }
  while (first_batch_ < batches_.size() && batches_[first_batch_].end <= forwarded_) {
    ++first_batch_;
  }
  if (first_batch_ == batches_.size()) {
    batches_.clear();
    first_batch_ = due_upto_ = 0;
  } else if (first_batch_ >= 64 && first_batch_ * 2 >= batches_.size()) {
    batches_.erase(batches_.begin(), batches_.begin() + static_cast<std::ptrdiff_t>(first_batch_));
    due_upto_ -= std::min(due_upto_, first_batch_);
    first_batch_ = 0;
  }
  if (queue_.empty()) {
    drained_at_ = now;
    queue_.release();
  }
}

bool FaultPipe::should_finish(Clock::time_point now) const noexcept {
  if (!input_ended_ || !queue_.empty() || blackholed(now)) return false;
  return now >= std::max(drained_at_, *input_ended_) + faults_.slow_close;
}

bool FaultPipe::cut() const noexcept {
  return faults_.cut_after && forwarded_ >= *faults_.cut_after;
}

bool FaultPipe::blackholed(Clock::time_point now) const noexcept {
  return faults_.blackhole_after && now >= opened_ + *faults_.blackhole_after;
}

std::optional<FaultPipe::Clock::time_point> FaultPipe::next_change(Clock::time_point now) const {
  if (blackholed(now)) return std::nullopt;  // nothing moves this way again
  std::optional<Clock::time_point> next;
  const auto consider = [&](Clock::time_point t) {
    if (t > now && (!next || t < *next)) next = t;
  };
  if (faults_.blackhole_after) consider(opened_ + *faults_.blackhole_after);
  if (!queue_.empty()) {
    // Bytes still held by the latency become writable when their batch is due.
    const auto ready = released(now);  // moves the cursor to the first batch not yet due
    if (due_upto_ < batches_.size()) consider(batches_[due_upto_].due);
    if (ready > 0) {
      if (faults_.slice_max > 0) consider(next_slice_at_);
      if (faults_.bytes_per_second > 0) {
        // Wake when enough tokens for a useful write have gathered, not for every byte.
        const double wanted = std::min(static_cast<double>(ready), std::max(1.0, burst() / 4));
        if (tokens_ < wanted) {
          const auto wait =
              std::chrono::duration<double>((wanted - tokens_) / faults_.bytes_per_second);
          consider(tokens_at_ + std::chrono::ceil<std::chrono::nanoseconds>(wait) + 1ns);
        }
      }
    }
  } else if (input_ended_) {
    consider(std::max(drained_at_, *input_ended_) + faults_.slow_close);
  }
  return next;
}

}  // namespace sockkit::app
