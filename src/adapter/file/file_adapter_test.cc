#include "adapter/file/file_adapter.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/test_util.h"

namespace pgcdc::adapter::file {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Event MakeEvent(int i) {
  return testing::MakeEvent({.channel = "c",
                             .operation = "INSERT",
                             .payload = "{\"i\":" + std::to_string(i) + "}",
                             .source = "test"});
}

class FileAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("pgcdc_file_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileAdapterTest, AppendsLinesOnFlush) {
  FileAdapter a({.path = (dir_ / "out.jsonl").string()});
  ASSERT_TRUE(a.Open());
  Event e1 = MakeEvent(1), e2 = MakeEvent(2);
  const Event* evs[] = {&e1, &e2};
  ASSERT_TRUE(a.Deliver(evs));
  EXPECT_EQ(Slurp((dir_ / "out.jsonl").string()), "") << "buffered until Flush";
  ASSERT_TRUE(a.Flush());
  EXPECT_EQ(Slurp((dir_ / "out.jsonl").string()), e1.Json() + "\n" + e2.Json() + "\n");
}

TEST_F(FileAdapterTest, BufferIsCappedInBytesButSyncedOnlyOnFlush) {
  const std::string path = (dir_ / "out.jsonl").string();
  FileAdapter a({.path = path, .max_size = 0, .buffer_bytes = 1000});
  ASSERT_TRUE(a.Open());
  std::vector<Event> events;
  for (int i = 0; i < 100; ++i) events.push_back(MakeEvent(i));
  std::vector<const Event*> ptrs;
  std::string all;
  size_t held = 0;  // what the cap leaves buffered: written whenever it reaches 1000
  for (auto& e : events) {
    ptrs.push_back(&e);
    all += e.Json() + "\n";
    held += e.Json().size() + 1;
    if (held >= 1000) held = 0;
  }
  ASSERT_GT(all.size(), 10000u);
  ASSERT_GT(held, 0u) << "the events must leave a tail under the cap";
  ASSERT_TRUE(a.Deliver(ptrs));  // one call, no Flush: the cap alone writes
  EXPECT_EQ(Slurp(path), all.substr(0, all.size() - held));
  ASSERT_TRUE(a.Flush());
  EXPECT_EQ(Slurp(path), all);
}

TEST_F(FileAdapterTest, RotatesBySizeAndKeepsMaxFiles) {
  const std::string path = (dir_ / "out.jsonl").string();
  FileAdapter a({.path = path, .max_size = 200, .max_files = 2});
  ASSERT_TRUE(a.Open());
  std::vector<Event> events;
  for (int i = 0; i < 40; ++i) events.push_back(MakeEvent(i));
  for (auto& e : events) {
    const Event* one[] = {&e};
    ASSERT_TRUE(a.Deliver(one));
  }
  ASSERT_TRUE(a.Flush());
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_TRUE(fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3"));
  // Every surviving line is whole, and the newest events are in the live file.
  for (const auto& f : {path, path + ".1", path + ".2"}) {
    std::istringstream in(Slurp(f));
    std::string line;
    while (std::getline(in, line)) {
      EXPECT_EQ(line.front(), '{');
      EXPECT_EQ(line.back(), '}');
    }
  }
  EXPECT_NE(Slurp(path + ".1").find("\"i\":"), std::string::npos);
  const std::string live = Slurp(path);
  EXPECT_TRUE(live.empty() || live.find("\"i\":39") != std::string::npos ||
              Slurp(path + ".1").find("\"i\":39") != std::string::npos);
}

TEST_F(FileAdapterTest, ACutLastLineFromACrashIsRemoved) {
  const std::string path = (dir_ / "out.jsonl").string();
  Event e = MakeEvent(7);
  const Event* evs[] = {&e};
  // A cut line after whole ones, one longer than the backwards read's chunk,
  // and a file that is only a cut line.
  const std::string whole = "{\"whole\":1}\n";
  for (const auto& [before, expected] : std::vector<std::pair<std::string, std::string>>{
           {whole + "{\"cut", whole},
           {whole + "{\"v\":\"" + std::string(200000, 'x'), whole},
           {"{\"cut", ""},
           {whole, whole}}) {
    { std::ofstream(path, std::ios::trunc) << before; }
    FileAdapter a({.path = path});
    ASSERT_TRUE(a.Open());
    ASSERT_TRUE(a.Deliver(evs));
    ASSERT_TRUE(a.Flush());
    a.Close();
    EXPECT_EQ(Slurp(path), expected + e.Json() + "\n") << before.size();
  }
}

TEST_F(FileAdapterTest, AWriteThatStopsPartWayLeavesNoPartOfTheBatch) {
  // A file size limit stops write() part-way (EFBIG), as a disk that fills up
  // does (ENOSPC); the retry after it must write the batch exactly once.
  const std::string path = (dir_ / "out.jsonl").string();
  FileAdapter a({.path = path});
  ASSERT_TRUE(a.Open());
  Event first = MakeEvent(0);
  const Event* one[] = {&first};
  ASSERT_TRUE(a.Deliver(one));
  ASSERT_TRUE(a.Flush());
  const std::string before = Slurp(path);
  std::vector<Event> events;
  for (int i = 1; i <= 50; ++i) events.push_back(MakeEvent(i));
  std::vector<const Event*> ptrs;
  std::string batch;
  for (const auto& e : events) {
    ptrs.push_back(&e);
    batch += e.Json() + "\n";
  }
  ASSERT_TRUE(a.Deliver(ptrs));
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = before.size() + batch.size() / 2;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const Status failed = a.Flush();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(failed);
  EXPECT_EQ(Slurp(path), before) << "the part written before the error is removed";
  ASSERT_TRUE(a.Flush());
  EXPECT_EQ(Slurp(path), before + batch);
}

TEST_F(FileAdapterTest, MissingDirectoryIsAClearError) {
  FileAdapter a({.path = (dir_ / "nope" / "out.jsonl").string()});
  auto st = a.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::adapter::file
