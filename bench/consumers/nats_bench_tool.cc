// nats_bench_tool: the NATS side of bench/consumers/consumers_bench.sh.
//
//   nats_bench_tool fill URL STREAM SUBJECT N
//       creates STREAM (file storage, subjects SUBJECT) and publishes N small
//       JSON messages {"i":<n>,"v":"..."} asynchronously, waiting for every ack.
//   nats_bench_tool consume URL STREAM DURABLE N [BATCH]
//       the peer: a durable pull consumer (explicit ack) that fetches BATCH
//       messages at a time, writes each message's data and a newline to
//       stdout, acks each message after the write, and exits after N.
//       It does what pgcdc's nats_consumer does minus the event conversion,
//       the bus and the delivery bookkeeping (no `nats` CLI is packaged).
#include <nats/nats.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int Die(const char* what, natsStatus s) {
  std::fprintf(stderr, "%s: %s (%s)\n", what, natsStatus_GetText(s), nats_GetLastError(nullptr));
  return 1;
}

int Fill(natsConnection* nc, jsCtx* js, const char* stream, const char* subject, long n) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject};
  cfg.Name = stream;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  if (natsStatus s = js_AddStream(nullptr, js, &cfg, nullptr, nullptr); s != NATS_OK) {
    return Die("add stream", s);
  }
  std::string data;
  for (long i = 1; i <= n; ++i) {
    data = "{\"i\":" + std::to_string(i) + ",\"v\":\"abcdefghijklmnop\"}";
    natsStatus s =
        js_PublishAsync(js, subject, data.data(), static_cast<int>(data.size()), nullptr);
    if (s != NATS_OK) return Die("publish", s);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  if (natsStatus s = js_PublishAsyncComplete(js, &po); s != NATS_OK) return Die("complete", s);
  (void)nc;
  return 0;
}

int Consume(jsCtx* js, const char* stream, const char* durable, long n, int batch) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = durable;
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.MaxAckPending = 10000;
  if (natsStatus s = js_AddConsumer(nullptr, js, stream, &cc, nullptr, nullptr); s != NATS_OK) {
    return Die("add consumer", s);
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream;
  so.Consumer = durable;
  natsSubscription* sub = nullptr;
  if (natsStatus s = js_PullSubscribe(&sub, js, nullptr, durable, nullptr, &so, nullptr);
      s != NATS_OK) {
    return Die("subscribe", s);
  }
  static char buf[1 << 16];
  std::setvbuf(stdout, buf, _IOFBF, sizeof buf);
  long got = 0;
  while (got < n) {
    natsMsgList list{nullptr, 0};
    natsStatus s = natsSubscription_Fetch(&list, sub, batch, 5000, nullptr);
    if (s != NATS_OK && s != NATS_TIMEOUT) return Die("fetch", s);
    for (int i = 0; i < list.Count; ++i) {
      std::fwrite(natsMsg_GetData(list.Msgs[i]), 1, natsMsg_GetDataLength(list.Msgs[i]), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);  // written before it is acked
    for (int i = 0; i < list.Count; ++i) (void)natsMsg_Ack(list.Msgs[i], nullptr);
    got += list.Count;
    natsMsgList_Destroy(&list);
  }
  natsSubscription_Destroy(sub);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: nats_bench_tool fill URL STREAM SUBJECT N\n"
                 "       nats_bench_tool consume URL STREAM DURABLE N [BATCH]\n");
    return 2;
  }
  const std::string cmd = argv[1];
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_ConnectTo(&nc, argv[2]); s != NATS_OK) return Die("connect", s);
  if (natsStatus s = natsConnection_JetStream(&js, nc, nullptr); s != NATS_OK) {
    return Die("jetstream", s);
  }
  const long n = std::atol(argv[5]);
  int rc = cmd == "fill" ? Fill(nc, js, argv[3], argv[4], n)
                         : Consume(js, argv[3], argv[4], n, argc > 6 ? std::atoi(argv[6]) : 500);
  (void)natsConnection_FlushTimeout(nc, 10000);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return rc;
}
