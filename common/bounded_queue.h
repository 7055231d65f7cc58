// BoundedQueue: a blocking multi-producer, multi-consumer FIFO with a capacity,
// so a fast producer cannot run ahead of slow consumers (bounded memory).
// Close() wakes everyone: Push then fails, Pop drains what is left and then
// returns false. Thread-safe.
#pragma once

#include <deque>

#include "common/mutex.h"

namespace meridian {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // Blocks while full. False if the queue was closed (the item is dropped).
  bool Push(T item) {
    MutexLock l(&mu_);
    while (!closed_ && items_.size() >= capacity_) not_full_.Wait(&mu_);
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.NotifyOne();
    return true;
  }

  // Push without blocking: false (and the item dropped) if full or closed.
  bool TryPush(T item) {
    MutexLock l(&mu_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    not_empty_.NotifyOne();
    return true;
  }

  // Blocks while empty and open. False once closed and drained.
  bool Pop(T* out) {
    MutexLock l(&mu_);
    while (!closed_ && items_.empty()) not_empty_.Wait(&mu_);
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    not_full_.NotifyOne();
    return true;
  }

  void Close() {
    MutexLock l(&mu_);
    closed_ = true;
    not_full_.NotifyAll();
    not_empty_.NotifyAll();
  }

 private:
  const size_t capacity_;
  Mutex mu_;
  CondVar not_full_, not_empty_;  // waited on with mu_
  std::deque<T> items_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace meridian
