// Streaming on HttpServer (SSE, WebSocket) and the Broadcaster, driven by raw
// sockets so the wire format is checked byte for byte.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "core/test_util.h"
#include "net/broadcaster.h"
#include "net/http_server.h"
#include "net/test_socket.h"

namespace pgcdc::net {
namespace {

using namespace std::chrono_literals;
using pgcdc::testing::Eventually;
using pgcdc::testing::MetricValue;

uint16_t PortOf(const std::string& hostport) {
  return static_cast<uint16_t>(std::stoi(hostport.substr(hostport.rfind(':') + 1)));
}

class Sock : public testing::LoopbackSocket {
 public:
  using LoopbackSocket::LoopbackSocket;
  bool ok() const { return connected(); }
  // Reads until `pred(buffer)` or EOF/timeout. Returns pred's final value.
  bool ReadUntil(const std::function<bool(const std::string&)>& pred) {
    while (!pred(buf_)) {
      char tmp[65536];
      const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        eof_ = n == 0 || errno == ECONNRESET;
        return pred(buf_);
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
    return true;
  }
  bool ReadContains(std::string_view needle) {
    return ReadUntil([&](const std::string& b) { return b.find(needle) != std::string::npos; });
  }
  bool WaitEof() {
    ReadUntil([](const std::string&) { return false; });
    return eof_;
  }
  std::string& buf() { return buf_; }

 private:
  bool eof_ = false;
  std::string buf_;
};

std::string Get(std::string_view target, std::string_view extra = "") {
  std::string r = "GET ";
  r.append(target).append(" HTTP/1.1\r\nHost: localhost\r\n").append(extra).append("\r\n");
  return r;
}

std::string WsUpgrade(std::string_view target) {
  return Get(target,
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
}

// A masked client frame (FIN unless `fin` is false).
std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0x00) | opcode);
  f += static_cast<char>(0x80 | payload.size());  // < 126 in these tests
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// Decodes the server->client WebSocket frames after the 101 head.
struct WsFrame {
  uint8_t opcode;
  std::string payload;
};
std::vector<WsFrame> DecodeServerFrames(const std::string& buf) {
  std::vector<WsFrame> out;
  size_t pos = buf.find("\r\n\r\n");
  if (pos == std::string::npos) return out;
  pos += 4;
  while (pos + 2 <= buf.size()) {
    const auto b0 = static_cast<uint8_t>(buf[pos]);
    uint64_t len = static_cast<uint8_t>(buf[pos + 1]) & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (pos + 4 > buf.size()) break;
      len = (static_cast<uint8_t>(buf[pos + 2]) << 8) | static_cast<uint8_t>(buf[pos + 3]);
      hdr = 4;
    } else if (len == 127) {
      if (pos + 10 > buf.size()) break;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(buf[pos + i]);
      hdr = 10;
    }
    if (pos + hdr + len > buf.size()) break;
    out.push_back({static_cast<uint8_t>(b0 & 0x0F), buf.substr(pos + hdr, len)});
    pos += hdr + len;
  }
  return out;
}

size_t Count(const std::string& s, std::string_view needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

BroadcastFrame Frame(std::string id, std::string channel, const std::string& data) {
  BroadcastFrame f;
  f.bytes = std::make_shared<const std::string>(EncodeSseEvent(id, channel, data));
  f.id = std::move(id);
  f.channel = std::move(channel);
  return f;
}

BroadcastFrame WsText(std::string channel, const std::string& data) {
  BroadcastFrame f;
  f.bytes = std::make_shared<const std::string>(EncodeWebSocketText(data));
  f.channel = std::move(channel);
  return f;
}

// ---------------------------------------------------------------------------

TEST(StreamFramesTest, SseEvent) {
  EXPECT_EQ(EncodeSseEvent("1", "pgcdc:orders", "{\"a\":1}"),
            "id: 1\nevent: pgcdc:orders\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(EncodeSseEvent("", "", "x"), "data: x\n\n");
  EXPECT_EQ(EncodeSseEvent("a\nb", "c\rd", "l1\r\nl2\nl3"),
            "id: a b\nevent: c d\ndata: l1\ndata: l2\ndata: l3\n\n");
}

TEST(StreamFramesTest, WebSocket) {
  // RFC 6455 §1.3 example.
  EXPECT_EQ(WebSocketAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(EncodeWebSocketText("hi"), std::string("\x81\x02hi", 4));
  const std::string medium(300, 'x');
  const std::string f = EncodeWebSocketText(medium);
  ASSERT_EQ(f.size(), 304u);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 126);
  EXPECT_EQ((static_cast<uint8_t>(f[2]) << 8) | static_cast<uint8_t>(f[3]), 300);
  const std::string big(70000, 'y');
  const std::string g = EncodeWebSocketText(big);
  ASSERT_EQ(g.size(), 70010u);
  EXPECT_EQ(static_cast<uint8_t>(g[1]), 127);
  const std::string c = EncodeWebSocketClose(1000, "bye");
  EXPECT_EQ(c, std::string("\x88\x05\x03\xe8"
                           "bye",
                           7));
  EXPECT_LE(EncodeWebSocketClose(1000, std::string(500, 'r')).size(), 127u);
}

TEST(ChannelFilterTest, Parses) {
  std::string q = "b,a,b";
  auto f = ParseChannelFilter("", false, &q);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.channels, (std::vector<std::string>{"a", "b"}));
  f = ParseChannelFilter("pgcdc:orders", true, nullptr);
  ASSERT_TRUE(f.ok);
  EXPECT_EQ(f.channels, (std::vector<std::string>{"pgcdc:orders"}));
  EXPECT_TRUE(ParseChannelFilter("", false, nullptr).channels.empty());
  std::string bad = "a,,b";
  EXPECT_FALSE(ParseChannelFilter("", false, &bad).ok);
  EXPECT_FALSE(ParseChannelFilter("", true, nullptr).ok);
  std::string ctl = "a\nb";
  EXPECT_FALSE(ParseChannelFilter("", false, &ctl).ok);
  std::string many;
  for (int i = 0; i < 70; ++i) many += (i ? "," : "") + std::to_string(i);
  EXPECT_FALSE(ParseChannelFilter("", false, &many).ok);
  EXPECT_EQ(DecodePathComponent("pgcdc%3Aorders%2"), "pgcdc:orders%2");
}

// ---------------------------------------------------------------------------

class StreamServerTest : public ::testing::Test {
 protected:
  void StartServer(const Broadcaster::Options& sse_opts, const Broadcaster::Options& ws_opts,
                   const HttpServerOptions& server_opts = {}) {
    server_ = std::make_unique<HttpServer>("stream-test", server_opts);
    sse_ = std::make_shared<Broadcaster>(sse_opts);
    ws_ = std::make_shared<Broadcaster>(ws_opts);
    auto sse_handler = [b = sse_](const HttpRequest& req) {
      const bool has_path = req.path.starts_with("/events/");
      auto q = req.query.find("channel");
      auto f = ParseChannelFilter(has_path ? DecodePathComponent(req.path.substr(8)) : "", has_path,
                                  q == req.query.end() ? nullptr : &q->second);
      if (!f.ok) {
        HttpResponse r;
        r.status = 400;
        r.body = "{\"error\":\"bad filter\"}";
        return StreamDecision::Refuse(r);
      }
      std::string last;
      if (auto h = req.headers.find("last-event-id"); h != req.headers.end()) last = h->second;
      return StreamDecision::Accept(b->Subscribe(f.channels, last));
    };
    server_->HandleEventStream("/events", sse_handler);
    server_->HandleEventStream("/events/", sse_handler, true);
    auto ws_handler = [b = ws_](const HttpRequest& req) {
      std::vector<std::string> ch;
      if (req.path.starts_with("/ws/")) ch.push_back(req.path.substr(4));
      return StreamDecision::Accept(b->Subscribe(ch, {}));
    };
    server_->HandleWebSocket("/ws", ws_handler);
    server_->HandleWebSocket("/ws/", ws_handler, true);
    server_->HandlePrefix("GET", "/files/", [](const HttpRequest& req) {
      HttpResponse r;
      r.body = req.path;
      return r;
    });
    auto bound = server_->Start(ListenAddress{"127.0.0.1", 0});
    ASSERT_TRUE(bound) << bound.error().message();
    port_ = PortOf(*bound);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  Broadcaster::Options Opts(std::string name, size_t queue = 1024, size_t replay = 0) {
    Broadcaster::Options o;
    o.name = std::move(name);
    o.client_queue = queue;
    o.replay_capacity = replay;
    return o;
  }

  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<Broadcaster> sse_;
  std::shared_ptr<Broadcaster> ws_;
  uint16_t port_ = 0;
};

TEST_F(StreamServerTest, SseHeadersFramesAndChannelFilter) {
  StartServer(Opts("t1sse"), Opts("t1ws"));
  Sock all(port_), only_a(port_), query(port_);
  ASSERT_TRUE(all.Send(Get("/events")));
  ASSERT_TRUE(only_a.Send(Get("/events/ch%3Aa")));
  ASSERT_TRUE(query.Send(Get("/events?channel=ch:b,ch:c")));
  for (Sock* s : {&all, &only_a, &query}) ASSERT_TRUE(s->ReadContains("\r\n\r\n"));
  EXPECT_NE(all.buf().find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(all.buf().find("Cache-Control: no-cache"), std::string::npos);
  EXPECT_NE(all.buf().find("Transfer-Encoding: chunked"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 3; }));
  EXPECT_EQ(MetricValue("pgcdc_t1sse_clients_active{channel=\"*\"}"), 1);
  EXPECT_EQ(MetricValue("pgcdc_t1sse_clients_active{channel=\"ch:b,ch:c\"}"), 1);

  std::vector<BroadcastFrame> frames = {Frame("1", "ch:a", "{\"n\":1}"),
                                        Frame("2", "ch:b", "{\"n\":2}"),
                                        Frame("3", "ch:c", "{\"n\":3}")};
  sse_->Publish(frames);
  ASSERT_TRUE(all.ReadContains("id: 3\nevent: ch:c\ndata: {\"n\":3}\n\n"));
  EXPECT_NE(all.buf().find("id: 1\nevent: ch:a\ndata: {\"n\":1}\n\n"), std::string::npos);
  ASSERT_TRUE(only_a.ReadContains("id: 1\n"));
  ASSERT_TRUE(query.ReadContains("id: 3\n"));
  EXPECT_NE(query.buf().find("id: 2\n"), std::string::npos);
  EXPECT_EQ(query.buf().find("id: 1\n"), std::string::npos);
  // A later frame for ch:a proves only_a never got 2 or 3 in between.
  std::vector<BroadcastFrame> more = {Frame("4", "ch:a", "{}")};
  sse_->Publish(more);
  ASSERT_TRUE(only_a.ReadContains("id: 4\n"));
  EXPECT_EQ(only_a.buf().find("id: 2\n"), std::string::npos);
  EXPECT_EQ(only_a.buf().find("id: 3\n"), std::string::npos);
}

TEST_F(StreamServerTest, SseBadFilterAndPrefixRoute) {
  StartServer(Opts("t2sse"), Opts("t2ws"));
  Sock bad(port_);
  ASSERT_TRUE(bad.Send(Get("/events?channel=a,,b")));
  ASSERT_TRUE(bad.ReadContains("bad filter"));
  EXPECT_EQ(bad.buf().rfind("HTTP/1.1 400", 0), 0u);
  Sock post(port_);
  ASSERT_TRUE(post.Send("POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(post.ReadContains("\r\n\r\n"));
  EXPECT_EQ(post.buf().rfind("HTTP/1.1 405", 0), 0u);
  Sock file(port_);
  ASSERT_TRUE(file.Send(Get("/files/x/y")));
  ASSERT_TRUE(file.ReadContains("/files/x/y"));
  Sock plain(port_);
  ASSERT_TRUE(plain.Send(Get("/ws")));
  ASSERT_TRUE(plain.ReadContains("\r\n\r\n"));
  EXPECT_EQ(plain.buf().rfind("HTTP/1.1 426", 0), 0u);
}

TEST_F(StreamServerTest, SseLastEventIdReplay) {
  StartServer(Opts("t3sse", 1024, 3), Opts("t3ws"));
  std::vector<BroadcastFrame> frames;
  for (int i = 1; i <= 5; ++i) frames.push_back(Frame(std::to_string(i), "c", "{}"));
  sse_->Publish(frames);  // ring keeps 3, 4, 5
  Sock resume(port_), unknown(port_);
  ASSERT_TRUE(resume.Send(Get("/events", "Last-Event-ID: 3\r\n")));
  ASSERT_TRUE(unknown.Send(Get("/events", "Last-Event-ID: 1\r\n")));
  ASSERT_TRUE(resume.ReadContains("id: 5\n"));
  EXPECT_NE(resume.buf().find("id: 4\n"), std::string::npos);
  EXPECT_EQ(resume.buf().find("id: 3\n"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 2; }));
  EXPECT_EQ(MetricValue("pgcdc_t3sse_replay_misses_total"), 1);
  std::vector<BroadcastFrame> next = {Frame("6", "c", "{}")};
  sse_->Publish(next);
  ASSERT_TRUE(unknown.ReadContains("id: 6\n"));
  EXPECT_EQ(unknown.buf().find("id: 5\n"), std::string::npos);
}

TEST_F(StreamServerTest, SlowClientIsDisconnectedOthersGetEverything) {
  StartServer(Opts("t4sse", 8), Opts("t4ws"));
  Sock stalled(port_, 4096);
  ASSERT_TRUE(stalled.Send(Get("/events")));
  Sock healthy(port_);
  ASSERT_TRUE(healthy.Send(Get("/events")));
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 2; }));
  const std::string pad(16 * 1024, 'p');
  for (int i = 0; i < 400; ++i) {
    std::vector<BroadcastFrame> one = {Frame(std::to_string(i), "c", pad)};
    sse_->Publish(one);
    // The healthy client reads each frame before the next is published.
    ASSERT_TRUE(healthy.ReadContains("id: " + std::to_string(i) + "\n")) << i;
  }
  EXPECT_EQ(Count(healthy.buf(), "\ndata: "), 400u);
  EXPECT_TRUE(Eventually([&] { return sse_->clients() == 1; }));
  EXPECT_EQ(MetricValue("pgcdc_t4sse_slow_client_disconnects_total"), 1);
  EXPECT_TRUE(stalled.WaitEof());
}

TEST_F(StreamServerTest, WebSocketMessagesPingCloseAndFilter) {
  StartServer(Opts("t5sse"), Opts("t5ws"));
  Sock all(port_), only_b(port_);
  ASSERT_TRUE(all.Send(WsUpgrade("/ws")));
  ASSERT_TRUE(only_b.Send(WsUpgrade("/ws/b")));
  ASSERT_TRUE(all.ReadContains("\r\n\r\n"));
  EXPECT_EQ(all.buf().rfind("HTTP/1.1 101", 0), 0u);
  EXPECT_NE(all.buf().find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            std::string::npos);
  ASSERT_TRUE(Eventually([&] { return ws_->clients() == 2; }));
  std::vector<BroadcastFrame> frames = {WsText("a", "{\"x\":1}"), WsText("b", "{\"x\":2}")};
  ws_->Publish(frames);
  ASSERT_TRUE(
      all.ReadUntil([](const std::string& b) { return DecodeServerFrames(b).size() >= 2; }));
  auto got = DecodeServerFrames(all.buf());
  EXPECT_EQ(got[0].opcode, 1);
  EXPECT_EQ(got[0].payload, "{\"x\":1}");
  EXPECT_EQ(got[1].payload, "{\"x\":2}");
  ASSERT_TRUE(
      only_b.ReadUntil([](const std::string& b) { return !DecodeServerFrames(b).empty(); }));
  EXPECT_EQ(DecodeServerFrames(only_b.buf())[0].payload, "{\"x\":2}");

  // Ping -> pong with the same payload; text from the client is ignored.
  ASSERT_TRUE(all.Send(ClientFrame(0x1, "ignored") + ClientFrame(0x9, "hey")));
  ASSERT_TRUE(
      all.ReadUntil([](const std::string& b) { return DecodeServerFrames(b).size() >= 3; }));
  got = DecodeServerFrames(all.buf());
  EXPECT_EQ(got[2].opcode, 0xA);
  EXPECT_EQ(got[2].payload, "hey");

  // Client close -> echoed close, connection ends, gauge drops.
  ASSERT_TRUE(all.Send(ClientFrame(0x8, std::string("\x03\xe8", 2))));
  ASSERT_TRUE(
      all.ReadUntil([](const std::string& b) { return DecodeServerFrames(b).size() >= 4; }));
  got = DecodeServerFrames(all.buf());
  EXPECT_EQ(got[3].opcode, 0x8);
  EXPECT_EQ(got[3].payload.substr(0, 2), std::string("\x03\xe8", 2));
  EXPECT_TRUE(all.WaitEof());
  EXPECT_TRUE(Eventually([&] { return ws_->clients() == 1; }));
}

TEST_F(StreamServerTest, WebSocketProtocolErrorCloses1002) {
  StartServer(Opts("t6sse"), Opts("t6ws"));
  Sock c(port_);
  ASSERT_TRUE(c.Send(WsUpgrade("/ws")));
  ASSERT_TRUE(c.ReadContains("\r\n\r\n"));
  ASSERT_TRUE(c.Send(std::string("\x81\x02hi", 4)));  // unmasked client frame
  ASSERT_TRUE(c.ReadUntil([](const std::string& b) { return !DecodeServerFrames(b).empty(); }));
  auto got = DecodeServerFrames(c.buf());
  EXPECT_EQ(got[0].opcode, 0x8);
  EXPECT_EQ(got[0].payload.substr(0, 2), std::string("\x03\xea", 2));
}

TEST_F(StreamServerTest, StopEndsStreamsPromptly) {
  StartServer(Opts("t7sse"), Opts("t7ws"));
  Sock sse(port_), ws(port_);
  ASSERT_TRUE(sse.Send(Get("/events")));
  ASSERT_TRUE(ws.Send(WsUpgrade("/ws")));
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 1 && ws_->clients() == 1; }));
  std::vector<BroadcastFrame> last = {Frame("9", "c", "{}")};
  sse_->Publish(last);
  const auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(sse.ReadContains("0\r\n\r\n"));  // last chunk: a clean end of the body
  EXPECT_NE(sse.buf().find("id: 9\n"), std::string::npos);
  ASSERT_TRUE(ws.ReadUntil([](const std::string& b) { return !DecodeServerFrames(b).empty(); }));
  auto got = DecodeServerFrames(ws.buf());
  EXPECT_EQ(got.back().opcode, 0x8);
  EXPECT_EQ(got.back().payload, std::string("\x03\xe8", 2) + "server shutting down");
  EXPECT_EQ(server_->StreamCount(), 0u);
  EXPECT_EQ(sse_->clients(), 0u);
}

TEST_F(StreamServerTest, BroadcasterCloseAllRefusesNewClients) {
  StartServer(Opts("t8sse"), Opts("t8ws"));
  Sock a(port_);
  ASSERT_TRUE(a.Send(Get("/events")));
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 1; }));
  sse_->CloseAll();
  EXPECT_TRUE(a.WaitEof());
  EXPECT_TRUE(Eventually([&] { return sse_->clients() == 0; }));
  // The route still accepts (this test's handler does not check closed());
  // the broadcaster ends the stream right after it opens.
  Sock b(port_);
  ASSERT_TRUE(b.Send(Get("/events")));
  EXPECT_TRUE(b.WaitEof());
}

TEST_F(StreamServerTest, WriteStallTimesOut) {
  HttpServerOptions so;
  so.stream_write_timeout = 300ms;
  StartServer(Opts("t9sse", 100000), Opts("t9ws"), so);
  Sock stalled(port_, 4096);
  ASSERT_TRUE(stalled.Send(Get("/events")));
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 1; }));
  const std::string pad(64 * 1024, 'p');
  for (int i = 0; i < 200 && sse_->clients() == 1; ++i) {
    std::vector<BroadcastFrame> one = {Frame(std::to_string(i), "c", pad)};
    sse_->Publish(one);
  }
  EXPECT_TRUE(Eventually([&] { return sse_->clients() == 0; }));
  EXPECT_EQ(MetricValue("pgcdc_t9sse_slow_client_disconnects_total"), 1);
}

TEST_F(StreamServerTest, ByteCapDisconnectsASlowConsumerBeforeTheFrameCap) {
  HttpServerOptions so;
  so.stream_max_buffered_bytes = 256 * 1024;  // the frame cap (100000) is far away
  so.stream_write_timeout = std::chrono::minutes(1);
  StartServer(Opts("t10sse", 100000), Opts("t10ws"), so);
  Sock stalled(port_, 4096);
  ASSERT_TRUE(stalled.Send(Get("/events")));
  ASSERT_TRUE(Eventually([&] { return sse_->clients() == 1; }));
  const std::string pad(64 * 1024, 'p');
  int published = 0;
  for (; published < 400 && sse_->clients() == 1; ++published) {
    std::vector<BroadcastFrame> one = {Frame(std::to_string(published), "c", pad)};
    sse_->Publish(one);
  }
  EXPECT_TRUE(Eventually([&] { return sse_->clients() == 0; }, 5s));
  EXPECT_EQ(MetricValue("pgcdc_t10sse_slow_client_disconnects_total"), 1);
  // Kernel buffers (128 KiB send buffer, a 4 KiB receive buffer) plus the
  // 256 KiB cap: far fewer than 400 frames of 64 KiB.
  EXPECT_LT(published, 100);
}

// Client messages reach StreamSpec::on_message whole: fragments joined
// (control frames may come between them), too large ones close 1009, a
// stray continuation 1002.
TEST(WebSocketMessagesTest, FragmentsAreJoinedAndLimitsEnforced) {
  HttpServerOptions so;
  so.ws_max_client_frame = 100;
  HttpServer server("wsmsg", so);
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> got;
  server.HandleWebSocket("/m", [&](const HttpRequest&) {
    StreamSpec spec;
    spec.on_message = [&](const StreamPtr& s, std::string&& m, bool binary) {
      std::lock_guard lock(mu);
      got.emplace_back(m, binary);
      s->Push(std::make_shared<const std::string>(EncodeWebSocketText("echo:" + m)));
    };
    return StreamDecision::Accept(std::move(spec));
  });
  auto bound = server.Start({"127.0.0.1", 0});
  ASSERT_TRUE(bound);
  const uint16_t port = PortOf(*bound);
  auto count = [&] {
    std::lock_guard lock(mu);
    return got.size();
  };

  Sock c(port);
  ASSERT_TRUE(c.Send(WsUpgrade("/m")));
  ASSERT_TRUE(c.ReadContains("\r\n\r\n"));
  ASSERT_TRUE(c.Send(ClientFrame(0x1, "hel", false) + ClientFrame(0x9, "p") +
                     ClientFrame(0x0, "lo", false) + ClientFrame(0x0, "!") +
                     ClientFrame(0x2, "bin")));
  ASSERT_TRUE(c.ReadUntil([](const std::string& b) { return DecodeServerFrames(b).size() >= 3; }));
  auto frames = DecodeServerFrames(c.buf());
  EXPECT_EQ(frames[0].opcode, 0xA);  // the pong came while the message was incomplete
  EXPECT_EQ(frames[1].payload, "echo:hello!");
  EXPECT_EQ(frames[2].payload, "echo:bin");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(got, (std::vector<std::pair<std::string, bool>>{{"hello!", false}, {"bin", true}}));
  }
  // 60 + 60 bytes > 100 across fragments.
  ASSERT_TRUE(c.Send(ClientFrame(0x1, std::string(60, 'a'), false) +
                     ClientFrame(0x0, std::string(60, 'b'))));
  ASSERT_TRUE(c.ReadUntil([](const std::string& b) { return DecodeServerFrames(b).size() >= 4; }));
  EXPECT_EQ(DecodeServerFrames(c.buf())[3].payload.substr(0, 2), std::string("\x03\xf1", 2));

  Sock stray(port);
  ASSERT_TRUE(stray.Send(WsUpgrade("/m")));
  ASSERT_TRUE(stray.ReadContains("\r\n\r\n"));
  ASSERT_TRUE(stray.Send(ClientFrame(0x0, "x")));
  ASSERT_TRUE(stray.ReadUntil([](const std::string& b) { return !DecodeServerFrames(b).empty(); }));
  EXPECT_EQ(DecodeServerFrames(stray.buf())[0].payload.substr(0, 2), std::string("\x03\xea", 2));
  EXPECT_EQ(count(), 2u);
  server.Stop();
}

}  // namespace
}  // namespace pgcdc::net
