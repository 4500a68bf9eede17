#include "adapter/kafkaserver/partition_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>

#include "adapter/kafkaserver/batch_format.h"
#include "adapter/kafkaserver/test_batches.h"
#include "adapter/kafkaserver/test_temp_dir.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

namespace fs = std::filesystem;
using testing::BaseOffsetOf;
using testing::MakeBatch;
using Batches = std::vector<std::shared_ptr<const std::string>>;

// A fresh directory per test.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("pgcdc-kafkalog") {}
};

std::string Value(int i) { return "value-" + std::to_string(i); }

// Appends a batch of `n` records; returns the base offset.
int64_t AppendN(PartitionLog& log, int n, int64_t ts = 1000, uint64_t tag = 0) {
  std::vector<std::string> values;
  for (int i = 0; i < n; ++i) values.push_back(Value(i));
  std::string b = MakeBatch(values, ts);
  const int64_t max_ts = testing::MaxTimestampOf(b);
  auto r = log.Append(std::move(b), n, max_ts, tag);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : -1;
}

std::unique_ptr<PartitionLog> OpenLog(PartitionLogOptions o = {}) {
  auto log = PartitionLog::Open(std::move(o));
  EXPECT_TRUE(log) << log.error().message();
  return log ? std::move(*log) : nullptr;
}

// Reads from `offset` (up to 1 MiB) into `out`: the read's info (defaults
// when the read failed, which fails the test).
ReadInfo ReadFrom(PartitionLog& log, int64_t offset, Batches& out) {
  auto r = log.Read(offset, 1 << 20, out);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : ReadInfo{};
}

// [log start offset, high watermark): the offsets a log holds.
using Range = std::pair<int64_t, int64_t>;
Range Offsets(const PartitionLog& log) { return {log.LogStartOffset(), log.HighWatermark()}; }

std::vector<int64_t> BaseOffsets(const Batches& b) {
  std::vector<int64_t> out;
  for (const auto& s : b) out.push_back(BaseOffsetOf(*s));
  return out;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& de : fs::directory_iterator(dir)) out.push_back(de.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------
// batch_format

// Crc32c is the codec's (codec/kafka/record_batch_test.cc: KafkaCrc32c).

TEST(BatchFormat, ParsesHeaderOfHandBuiltBatch) {
  const std::string b = MakeBatch({"a", "bb", "ccc"}, 5000, 42);
  auto h = ParseBatchHeader(b, 1 << 20);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->base_offset, 42);
  EXPECT_EQ(h->size(), b.size());
  EXPECT_EQ(h->magic, 2);
  EXPECT_EQ(h->last_offset_delta, 2);
  EXPECT_EQ(h->offset_span(), 3);
  EXPECT_EQ(h->first_timestamp, 5000);
  EXPECT_EQ(h->max_timestamp, 5002);
  EXPECT_EQ(h->producer_id, -1);
  EXPECT_EQ(h->record_count, 3);
  EXPECT_TRUE(BatchCrcOk(b));
}

TEST(BatchFormat, RejectsMalformedHeaders) {
  const std::string good = MakeBatch({"a"});
  EXPECT_FALSE(ParseBatchHeader(good.substr(0, 60), 1 << 20));
  std::string bad_magic = good;
  bad_magic[16] = 1;
  EXPECT_FALSE(ParseBatchHeader(bad_magic, 1 << 20));
  std::string short_len = good;
  StoreBe32(short_len.data() + 8, 48);
  EXPECT_FALSE(ParseBatchHeader(short_len, 1 << 20));
  std::string negative_len = good;
  StoreBe32(negative_len.data() + 8, -5);
  EXPECT_FALSE(ParseBatchHeader(negative_len, 1 << 20));
  EXPECT_FALSE(ParseBatchHeader(good, good.size() - 1)) << "over the size cap";
  std::string negative_delta = good;
  StoreBe32(negative_delta.data() + 23, -1);
  EXPECT_FALSE(ParseBatchHeader(negative_delta, 1 << 20));
}

TEST(BatchFormat, CrcCoversRecordsButNotBaseOffsetOrEpoch) {
  std::string b = MakeBatch({"hello", "world"});
  SetBatchBaseOffset(b, 123456789);
  SetBatchLeaderEpoch(b, 7);
  EXPECT_TRUE(BatchCrcOk(b));
  EXPECT_EQ(BaseOffsetOf(b), 123456789);
  EXPECT_EQ(LoadBe32(b.data() + 12), 7);
  b[b.size() - 3] ^= 0x01;
  EXPECT_FALSE(BatchCrcOk(b));
}

// ---------------------------------------------------------------------------
// In-memory log

TEST(PartitionLog, AppendAssignsContiguousOffsetsAndPatchesBaseOffset) {
  auto log = OpenLog();
  EXPECT_EQ(Offsets(*log), Range(0, 0));
  EXPECT_EQ(AppendN(*log, 2), 0);
  EXPECT_EQ(AppendN(*log, 3), 2);
  EXPECT_EQ(AppendN(*log, 1), 5);
  EXPECT_EQ(Offsets(*log), Range(0, 6));

  Batches out;
  const ReadInfo r = ReadFrom(*log, 0, out);
  EXPECT_FALSE(r.out_of_range);
  EXPECT_EQ(r.high_watermark, 6);
  EXPECT_EQ(BaseOffsets(out), (std::vector<int64_t>{0, 2, 5}));
  for (const auto& b : out) EXPECT_TRUE(BatchCrcOk(*b));
  size_t total = 0;
  for (const auto& b : out) total += b->size();
  EXPECT_EQ(r.bytes, total);
}

TEST(PartitionLog, ReadStartsAtTheBatchContainingTheOffset) {
  auto log = OpenLog();
  AppendN(*log, 2);  // 0-1
  AppendN(*log, 3);  // 2-4
  AppendN(*log, 1);  // 5
  Batches out;
  ASSERT_TRUE(log->Read(3, 1 << 20, out));
  EXPECT_EQ(BaseOffsets(out), (std::vector<int64_t>{2, 5}));
  out.clear();
  ASSERT_TRUE(log->Read(5, 1 << 20, out));
  EXPECT_EQ(BaseOffsets(out), (std::vector<int64_t>{5}));
}

TEST(PartitionLog, ReadAtHighWatermarkIsEmptyAndBeyondIsOutOfRange) {
  auto log = OpenLog();
  AppendN(*log, 2);
  Batches out;
  const ReadInfo at_end = ReadFrom(*log, 2, out);
  EXPECT_FALSE(at_end.out_of_range);
  EXPECT_TRUE(out.empty());
  const ReadInfo beyond = ReadFrom(*log, 3, out);
  EXPECT_TRUE(beyond.out_of_range);
  EXPECT_TRUE(out.empty());
  const ReadInfo negative = ReadFrom(*log, -1, out);
  EXPECT_TRUE(negative.out_of_range);
  // An empty log: offset 0 is the end, not out of range.
  auto empty = OpenLog();
  auto r = empty->Read(0, 100, out);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->out_of_range);
  EXPECT_TRUE(out.empty());
}

TEST(PartitionLog, ReadRespectsMaxBytesButReturnsAtLeastOneBatch) {
  auto log = OpenLog();
  for (int i = 0; i < 5; ++i) AppendN(*log, 1);
  Batches one;
  ASSERT_TRUE(log->Read(0, 1, one));
  EXPECT_EQ(one.size(), 1u) << "first batch is returned even when larger than max_bytes";
  Batches zero;
  ASSERT_TRUE(log->Read(0, 0, zero));
  EXPECT_EQ(zero.size(), 1u);
  const auto size = static_cast<int32_t>(one[0]->size());
  Batches two;
  auto r = log->Read(0, 2 * size + size / 2, two);
  ASSERT_TRUE(r);
  EXPECT_EQ(two.size(), 2u);
  EXPECT_EQ(r->bytes, static_cast<size_t>(2 * size));
  Batches all;
  ASSERT_TRUE(log->Read(0, 5 * size, all));
  EXPECT_EQ(all.size(), 5u);
}

TEST(PartitionLog, AppendRejectsMalformedBatchesWithoutSideEffects) {
  auto log = OpenLog();
  AppendN(*log, 1);
  EXPECT_FALSE(log->Append("short", 1, 0));
  std::string b = MakeBatch({"a", "b"});
  auto wrong_count = log->Append(b, 3, 0);
  ASSERT_FALSE(wrong_count);
  EXPECT_EQ(wrong_count.error().code(), ErrorCode::kInvalidArgument);
  auto trailing = log->Append(b + "x", 2, 0);
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().code(), ErrorCode::kInvalidArgument);
  std::string bad_magic = b;
  bad_magic[16] = 0;
  EXPECT_FALSE(log->Append(bad_magic, 2, 0));
  auto capped = OpenLog({.max_batch_bytes = 64});
  EXPECT_FALSE(capped->Append(MakeBatch({std::string(100, 'x')}), 1, 0));
  EXPECT_EQ(log->HighWatermark(), 1);
  EXPECT_EQ(log->Stats().batches, 1);
}

TEST(PartitionLog, LeaderEpochIsStampedWhenConfigured) {
  auto log = OpenLog({.leader_epoch = 3});
  AppendN(*log, 1);
  Batches out;
  ASSERT_TRUE(log->Read(0, 1 << 20, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(LoadBe32(out[0]->data() + 12), 3);
  EXPECT_TRUE(BatchCrcOk(*out[0]));
}

TEST(PartitionLog, MemoryRingEvictsOldestWholeBatches) {
  const PartitionLogOptions o{.buffer_records = 5};
  auto log = OpenLog(o);
  for (int i = 0; i < 8; ++i) AppendN(*log, 1);
  EXPECT_EQ(Offsets(*log), Range(3, 8));
  Batches out;
  const ReadInfo old = ReadFrom(*log, 2, out);
  EXPECT_TRUE(old.out_of_range);
  EXPECT_EQ(old.log_start_offset, 3);
  ReadFrom(*log, 3, out);
  EXPECT_EQ(BaseOffsets(out), (std::vector<int64_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(log->Stats().memory_records, 5);

  // Multi-record batches are evicted whole: 2+2+2 = 6 > 5 → the first goes.
  auto log2 = OpenLog(o);
  AppendN(*log2, 2);
  AppendN(*log2, 2);
  EXPECT_EQ(log2->LogStartOffset(), 0);
  AppendN(*log2, 2);
  EXPECT_EQ(log2->LogStartOffset(), 2);
  EXPECT_EQ(log2->Stats().memory_records, 4);
}

TEST(PartitionLog, NewestBatchStaysEvenWhenItAloneExceedsTheCap) {
  auto log = OpenLog({.buffer_records = 2});
  AppendN(*log, 5);
  EXPECT_EQ(Offsets(*log), Range(0, 5));
  AppendN(*log, 5);
  EXPECT_EQ(log->LogStartOffset(), 5);
  EXPECT_EQ(log->Stats().batches, 1);
  Batches out;
  ASSERT_TRUE(log->Read(5, 1 << 20, out));
  EXPECT_EQ(BaseOffsets(out), (std::vector<int64_t>{5}));
}

TEST(PartitionLog, ByteCapEvictsToo) {
  PartitionLogOptions o;
  o.buffer_records = 1000;
  auto probe = MakeBatch({Value(0)});
  o.buffer_bytes = static_cast<int64_t>(probe.size() * 3);
  auto log = OpenLog(o);
  for (int i = 0; i < 10; ++i) AppendN(*log, 1);
  EXPECT_EQ(log->LogStartOffset(), 7);
  EXPECT_EQ(log->Stats().memory_bytes, static_cast<int64_t>(probe.size() * 3));
}

TEST(PartitionLog, ListOffsetsByTimestamp) {
  auto log = OpenLog();
  EXPECT_EQ(log->ListOffsets(PartitionLog::kMaxTimestamp).offset, -1);
  EXPECT_EQ(log->ListOffsets(0).offset, -1);
  AppendN(*log, 2, 1000);  // 0-1, ts 1000-1001
  AppendN(*log, 2, 2000);  // 2-3, ts 2000-2001
  AppendN(*log, 1, 1500);  // 4,   ts 1500 (out of order)
  EXPECT_EQ(log->ListOffsets(PartitionLog::kLatest).offset, 5);
  EXPECT_EQ(log->ListOffsets(PartitionLog::kLatest).timestamp, -1);
  EXPECT_EQ(log->ListOffsets(PartitionLog::kEarliest).offset, 0);
  auto max = log->ListOffsets(PartitionLog::kMaxTimestamp);
  EXPECT_EQ(max.offset, 3);
  EXPECT_EQ(max.timestamp, 2001);
  EXPECT_EQ(log->ListOffsets(0).offset, 0);
  EXPECT_EQ(log->ListOffsets(1001).offset, 0);
  auto mid = log->ListOffsets(1002);
  EXPECT_EQ(mid.offset, 2);
  EXPECT_EQ(mid.timestamp, 2001);
  EXPECT_EQ(log->ListOffsets(2001).offset, 2);
  auto none = log->ListOffsets(2002);
  EXPECT_EQ(none.offset, -1);
  EXPECT_EQ(none.timestamp, -1);
}

TEST(PartitionLog, ListOffsetsByRecordAnswersTheFirstRecordAtOrAfter) {
  // Kafka: the first record whose timestamp is >= the target, with its own
  // timestamp (not the batch's base offset and max timestamp).
  for (const bool on_disk : {false, true}) {
    TempDir dir;
    PartitionLogOptions o;
    if (on_disk) {
      o.dir = dir.path;
      o.buffer_records = 1;  // older batches are read back from the segment
    }
    auto log = OpenLog(o);
    AppendN(*log, 3, 1000);  // 0-2, ts 1000-1002
    AppendN(*log, 3, 2000);  // 3-5, ts 2000-2002
    AppendN(*log, 1, 3000);  // 6
    auto r = log->ListOffsetsByRecord(1001);
    EXPECT_EQ(r.offset, 1) << on_disk;
    EXPECT_EQ(r.timestamp, 1001) << on_disk;
    r = log->ListOffsetsByRecord(2002);
    EXPECT_EQ(r.offset, 5) << on_disk;
    EXPECT_EQ(r.timestamp, 2002) << on_disk;
    r = log->ListOffsetsByRecord(1500);
    EXPECT_EQ(r.offset, 3) << on_disk;
    EXPECT_EQ(r.timestamp, 2000) << on_disk;
    EXPECT_EQ(log->ListOffsetsByRecord(3001).offset, -1);
    EXPECT_EQ(log->ListOffsetsByRecord(PartitionLog::kLatest).offset, 7);
    EXPECT_EQ(log->ListOffsetsByRecord(PartitionLog::kEarliest).offset, 0);
  }
}

TEST(PartitionLog, TagBeforeAnswersHighestTagOfBatchesEntirelyBelow) {
  auto log = OpenLog({.buffer_records = 6});
  EXPECT_EQ(log->TagBefore(0), 0u);
  AppendN(*log, 2, 1000, 10);  // 0-1
  AppendN(*log, 2, 1000, 20);  // 2-3
  AppendN(*log, 2, 1000, 30);  // 4-5
  EXPECT_EQ(log->TagBefore(0), 0u);
  EXPECT_EQ(log->TagBefore(1), 0u) << "batch 0-1 is not entirely below 1";
  EXPECT_EQ(log->TagBefore(2), 10u);
  EXPECT_EQ(log->TagBefore(3), 10u);
  EXPECT_EQ(log->TagBefore(4), 20u);
  EXPECT_EQ(log->TagBefore(6), 30u);
  // Untagged (produced) batches do not lower the answer.
  AppendN(*log, 2, 1000, 0);  // 6-7; evicts 0-1
  EXPECT_EQ(log->TagBefore(8), 30u);
  EXPECT_EQ(log->RemovedTag(), 10u);
  EXPECT_EQ(log->LogStartOffset(), 2);
  EXPECT_EQ(log->TagBefore(2), 10u) << "removed batches count at the log start";
  EXPECT_EQ(log->TagBefore(1), 0u) << "below the log start the answer is unknown";
}

TEST(PartitionLog, WaiterFiresOnceAfterAppendOutsideTheLock) {
  auto log = OpenLog();
  AppendN(*log, 1);
  int fired = 0;
  int64_t seen_hw = -1;
  EXPECT_EQ(log->AddWaiter(0, [&] { ++fired; }), 0u) << "data already there";
  const uint64_t id = log->AddWaiter(1, [&] {
    ++fired;
    seen_hw = log->HighWatermark();  // would deadlock if run under the lock
  });
  EXPECT_GT(id, 0u);
  EXPECT_EQ(log->Stats().waiters, 1u);
  EXPECT_EQ(fired, 0);
  AppendN(*log, 1);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(seen_hw, 2);
  AppendN(*log, 1);
  EXPECT_EQ(fired, 1) << "one-shot";
  EXPECT_FALSE(log->RemoveWaiter(id));

  // A waiter further ahead does not fire until the log reaches it.
  const uint64_t far = log->AddWaiter(5, [&] { ++fired; });
  AppendN(*log, 1);
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(log->RemoveWaiter(far));
  AppendN(*log, 5);
  EXPECT_EQ(fired, 1);

  int woken = 0;
  log->AddWaiter(log->HighWatermark(), [&] { ++woken; });
  log->AddWaiter(log->HighWatermark() + 10, [&] { ++woken; });
  log->WakeAllWaiters();
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(log->Stats().waiters, 0u);
}

TEST(PartitionLog, WaiterWakesAnotherThread) {
  auto log = OpenLog();
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  ASSERT_GT(log->AddWaiter(0,
                           [&] {
                             std::lock_guard lock(mu);
                             ready = true;
                             cv.notify_all();
                           }),
            0u);
  std::thread producer([&] { AppendN(*log, 1); });
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return ready; }));
  lock.unlock();
  producer.join();
}

TEST(PartitionLog, ConcurrentAppendersAndReadersSeeAContiguousLog) {
  auto log = OpenLog({.buffer_records = 1 << 20});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::atomic<bool> done{false};
  std::atomic<int> reader_errors{0};
  std::thread reader([&] {
    while (!done.load()) {
      Batches out;
      auto r = log->Read(0, 1 << 16, out);
      if (!r || r->out_of_range) ++reader_errors;
      int64_t expect = 0;
      for (const auto& b : out) {
        if (BaseOffsetOf(*b) != expect) ++reader_errors;
        expect += 1;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) AppendN(*log, 1);
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(reader_errors.load(), 0);
  EXPECT_EQ(log->HighWatermark(), kThreads * kPerThread);
  Batches all;
  ASSERT_TRUE(log->Read(0, INT32_MAX, all));
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(BaseOffsetOf(*all[i]), static_cast<int64_t>(i));
}

// ---------------------------------------------------------------------------
// Segment files

// A log in a fresh directory: `o` starts with only `dir` set.
class PartitionLogDisk : public ::testing::Test {
 protected:
  // The size of a batch of one record (Value(0)).
  static int64_t OneRecordBatch() { return static_cast<int64_t>(MakeBatch({Value(0)}).size()); }

  TempDir dir;
  PartitionLogOptions o{.dir = dir.path + "/t-0"};
};

TEST_F(PartitionLogDisk, ReopenRecoversEveryBatchByteForByte) {
  Batches before;
  {
    auto log = OpenLog(o);
    ASSERT_TRUE(log);
    EXPECT_EQ(SegmentFiles(o.dir), (std::vector<std::string>{"00000000000000000000.log"}));
    for (int i = 0; i < 10; ++i) AppendN(*log, 1 + i % 3, 1000 * (i + 1), 100 + i);
    ASSERT_TRUE(log->Read(0, INT32_MAX, before));
  }
  auto log = OpenLog(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(Offsets(*log), Range(0, 19));
  Batches after;
  ASSERT_TRUE(log->Read(0, INT32_MAX, after));
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(*after[i], *before[i]) << i;
  EXPECT_EQ(log->TagBefore(19), 0u) << "tags are not persisted";
  // Batch i holds 1 + i % 3 records stamped 1000 * (i + 1) onwards: batch 4 (offsets 7-8)
  // is the first reaching 5000.
  EXPECT_EQ(log->ListOffsets(5000).offset, 7) << "timestamps come back from the headers";
  EXPECT_EQ(log->Stats().truncated_bytes, 0);
  // Appends continue where the log ended.
  EXPECT_EQ(AppendN(*log, 1), 19);
}

TEST_F(PartitionLogDisk, SegmentsRollAtTheConfiguredSize) {
  const auto one = MakeBatch({Value(0)}).size();
  o.segment_bytes = static_cast<int64_t>(one * 3);
  auto log = OpenLog(o);
  for (int i = 0; i < 7; ++i) AppendN(*log, 1);
  EXPECT_EQ(SegmentFiles(o.dir),
            (std::vector<std::string>{"00000000000000000000.log", "00000000000000000003.log",
                                      "00000000000000000006.log"}));
  EXPECT_EQ(fs::file_size(o.dir + "/00000000000000000000.log"), one * 3);
  EXPECT_EQ(log->Stats().segments, 3);
  EXPECT_EQ(log->Stats().disk_bytes, static_cast<int64_t>(one * 7));
  // A batch bigger than a segment gets a segment of its own.
  ASSERT_TRUE(log->Append(MakeBatch({std::string(one * 4, 'x')}), 1, 0));
  AppendN(*log, 1);
  EXPECT_EQ(SegmentFiles(o.dir),
            (std::vector<std::string>{"00000000000000000000.log", "00000000000000000003.log",
                                      "00000000000000000006.log", "00000000000000000007.log",
                                      "00000000000000000008.log"}));
  log.reset();
  auto reopened = OpenLog(o);
  EXPECT_EQ(reopened->HighWatermark(), 9);
  Batches all;
  ASSERT_TRUE(reopened->Read(0, INT32_MAX, all));
  EXPECT_EQ(BaseOffsets(all), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_F(PartitionLogDisk, RetentionDeletesOldestSegmentsAndMovesTheLogStart) {
  const int64_t one = OneRecordBatch();
  o.segment_bytes = one * 2;
  o.retention_bytes = one * 5;
  {
    auto log = OpenLog(o);
    for (int i = 0; i < 10; ++i) AppendN(*log, 1, 1000, 1 + i);
    // Segments hold 2 batches each; after every append the oldest segments go while the
    // files exceed 5 batches, so after 10 appends only [6,8) and [8,10) remain.
    EXPECT_EQ(Offsets(*log), Range(6, 10));
    EXPECT_EQ(SegmentFiles(o.dir),
              (std::vector<std::string>{"00000000000000000006.log", "00000000000000000008.log"}));
    EXPECT_EQ(log->RemovedTag(), 6u);
    EXPECT_EQ(log->TagBefore(6), 6u);
    Batches out;
    const ReadInfo r = ReadFrom(*log, 5, out);
    EXPECT_TRUE(r.out_of_range);
  }
  auto log = OpenLog(o);
  EXPECT_EQ(Offsets(*log), Range(6, 10));
}

TEST_F(PartitionLogDisk, BatchesEvictedFromMemoryAreReadFromTheFiles) {
  o.buffer_records = 2;
  o.segment_bytes = 300;
  auto log = OpenLog(o);
  std::vector<std::string> originals;
  for (int i = 0; i < 10; ++i) {
    std::string b = MakeBatch({Value(i)}, 1000 + i);
    auto r = log->Append(b, 1, 1000 + i);
    ASSERT_TRUE(r);
    SetBatchBaseOffset(b, *r);
    originals.push_back(b);
  }
  auto st = log->Stats();
  EXPECT_EQ(st.memory_batches, 2);
  EXPECT_EQ(st.batches, 10);
  EXPECT_EQ(log->LogStartOffset(), 0);
  Batches out;
  auto r = log->Read(0, INT32_MAX, out);
  ASSERT_TRUE(r);
  ASSERT_EQ(out.size(), 10u);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(*out[i], originals[i]) << i;
  // A read in the middle of the disk part, limited by bytes.
  out.clear();
  ASSERT_TRUE(log->Read(4, static_cast<int32_t>(originals[4].size() * 2), out));
  EXPECT_EQ(BaseOffsets(out), (std::vector<int64_t>{4, 5}));
}

TEST_F(PartitionLogDisk, RecoveryLoadsTheNewestBatchesIntoMemory) {
  o.buffer_records = 3;
  {
    auto log = OpenLog(o);
    for (int i = 0; i < 10; ++i) AppendN(*log, 1);
  }
  auto log = OpenLog(o);
  auto st = log->Stats();
  EXPECT_EQ(st.memory_batches, 3);
  EXPECT_EQ(st.memory_records, 3);
  EXPECT_EQ(st.batches, 10);
}

TEST_F(PartitionLogDisk, TornTailIsTruncatedAndAppendsContinue) {
  const std::string seg = o.dir + "/00000000000000000000.log";
  int64_t good_size = 0;
  {
    auto log = OpenLog(o);
    AppendN(*log, 2);
    AppendN(*log, 2);
    good_size = static_cast<int64_t>(fs::file_size(seg));
    AppendN(*log, 2);
  }
  // Cut the last batch in half (a crash mid-write).
  const auto full = static_cast<int64_t>(fs::file_size(seg));
  fs::resize_file(seg, static_cast<uintmax_t>(good_size + (full - good_size) / 2));
  {
    auto log = OpenLog(o);
    EXPECT_EQ(log->HighWatermark(), 4);
    EXPECT_EQ(log->Stats().truncated_bytes, (full - good_size) / 2);
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(seg)), good_size);
    EXPECT_EQ(AppendN(*log, 1), 4);
  }
  auto log = OpenLog(o);
  EXPECT_EQ(log->HighWatermark(), 5);
  EXPECT_EQ(log->Stats().truncated_bytes, 0);
  Batches all;
  ASSERT_TRUE(log->Read(0, INT32_MAX, all));
  EXPECT_EQ(BaseOffsets(all), (std::vector<int64_t>{0, 2, 4}));
  for (const auto& b : all) EXPECT_TRUE(BatchCrcOk(*b));
}

TEST_F(PartitionLogDisk, GarbageTailIsTruncated) {
  const std::string seg = o.dir + "/00000000000000000000.log";
  {
    auto log = OpenLog(o);
    AppendN(*log, 1);
  }
  const auto good = fs::file_size(seg);
  {
    std::ofstream f(seg, std::ios::app | std::ios::binary);
    f << std::string(7, '\x00') << "garbage that is not a batch header at all, long enough";
  }
  auto log = OpenLog(o);
  EXPECT_EQ(log->HighWatermark(), 1);
  EXPECT_EQ(fs::file_size(seg), good);
}

TEST_F(PartitionLogDisk, CrcMismatchDropsTheRestOfTheLog) {
  const int64_t one = OneRecordBatch();
  o.segment_bytes = one * 2;
  {
    auto log = OpenLog(o);
    for (int i = 0; i < 6; ++i) AppendN(*log, 1);  // segments at 0, 2, 4
  }
  ASSERT_EQ(SegmentFiles(o.dir).size(), 3u);
  // Flip a record byte of the second batch of segment 2 (offset 3).
  {
    const std::string seg = o.dir + "/00000000000000000002.log";
    const int fd = ::open(seg.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, one + one - 2), 1);
    c ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &c, 1, one + one - 2), 1);
    ::close(fd);
  }
  auto log = OpenLog(o);
  EXPECT_EQ(log->HighWatermark(), 3);
  EXPECT_EQ(SegmentFiles(o.dir),
            (std::vector<std::string>{"00000000000000000000.log", "00000000000000000002.log"}));
  EXPECT_EQ(log->Stats().truncated_bytes, one + 2 * one);
  EXPECT_EQ(AppendN(*log, 1), 3);
}

TEST_F(PartitionLogDisk, IgnoresForeignFilesAndFailsOnUnusableDir) {
  fs::create_directories(o.dir);
  { std::ofstream(o.dir + "/notes.txt") << "hello"; }
  { std::ofstream(o.dir + "/0000000000000000000x.log") << "hello"; }
  auto log = OpenLog(o);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->HighWatermark(), 0);

  PartitionLogOptions bad;
  bad.dir = dir.path + "/file";
  { std::ofstream(bad.dir) << "not a dir"; }
  auto r = PartitionLog::Open(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
