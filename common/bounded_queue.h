// BoundedQueue: a blocking multi-producer, multi-consumer FIFO with a capacity,
// so a fast producer cannot run ahead of slow consumers (bounded memory).
// Close() wakes everyone: Push then fails, Pop drains what is left and then
// returns false. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

namespace meridian {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // Blocks while full. False if the queue was closed (the item is dropped).
  bool Push(T item) {
    std::unique_lock<std::mutex> l(mu_);
    not_full_.wait(l, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Push without blocking: false (and the item dropped) if full or closed.
  bool TryPush(T item) {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty and open. False once closed and drained.
  bool Pop(T* out) {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }

  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mu_;  // guards items_, closed_
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace meridian
