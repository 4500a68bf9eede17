#include "core/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace pgcdc {
namespace {

class Counter {
 public:
  void Add(int n) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    total_ += n;
    cv_.NotifyAll();
  }
  // Waits until the total reaches `target`; false at the deadline.
  bool WaitFor(int target, std::chrono::steady_clock::time_point deadline) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (total_ < target) {
      if (!cv_.WaitUntil(mu_, deadline)) return total_ >= target;
    }
    return true;
  }
  int total() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return total_;
  }

 private:
  mutable Mutex mu_;
  CondVar cv_;
  int total_ GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, GuardsConcurrentUpdates) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) c.Add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.total(), 40000);
}

TEST(MutexTest, CondVarWakesWaiter) {
  Counter c;
  std::thread adder([&c] {
    for (int i = 0; i < 5; ++i) c.Add(1);
  });
  EXPECT_TRUE(c.WaitFor(5, std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  adder.join();
}

TEST(MutexTest, WaitUntilTimesOut) {
  Counter c;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.WaitFor(1, start + std::chrono::milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
}

TEST(MutexTest, MutexLockUnlocksEarlyAndRelocks) {
  Mutex mu;
  MutexLock lock(mu);
  lock.Unlock();
  bool was_free = false;
  if (mu.TryLock()) {
    was_free = true;
    mu.Unlock();
  }
  EXPECT_TRUE(was_free);  // free after Unlock()
  lock.Lock();
  std::thread other([&mu] {
    bool got = false;
    if (mu.TryLock()) {
      got = true;
      mu.Unlock();
    }
    EXPECT_FALSE(got);  // held again after Lock()
  });
  other.join();
}  // the destructor releases the re-taken lock

}  // namespace
}  // namespace pgcdc
