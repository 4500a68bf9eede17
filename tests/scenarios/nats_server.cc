#include "nats_server.h"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <signal.h>

#include <memory>
#include <utility>

namespace pgcdc::testing {

namespace {

// One connection and JetStream context of the test's own.
struct Client {
  explicit Client(const std::string& url) {
    if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) return;
    if (natsConnection_JetStream(&js, nc, nullptr) != NATS_OK) js = nullptr;
  }
  ~Client() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) natsConnection_Destroy(nc);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  bool ok() const { return js != nullptr; }

  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
};

}  // namespace

NatsServer::NatsServer(bool jetstream) : jetstream_(jetstream), port_(FreeTcpPort()) {
  EXPECT_TRUE(Start()) << "nats-server did not start on port " << port_;
}

NatsServer::NatsServer(ClusterNode node)
    : jetstream_(true), node_(std::move(node)), port_(FreeTcpPort()) {
  EXPECT_TRUE(Start()) << "nats-server " << node_.name << " did not start on port " << port_;
}

NatsServer::~NatsServer() { Kill(); }

bool NatsServer::Start() {
  std::vector<std::string> args = {"-a",  "127.0.0.1",        "-p", std::to_string(port_),
                                   "-sd", dir_.path + "/nats"};
  if (jetstream_) args.insert(args.begin(), "-js");
  if (!node_.name.empty()) {
    std::string routes;
    for (const int p : node_.peer_route_ports) {
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(p);
    }
    args.insert(args.end(),
                {"-n", node_.name, "--cluster_name", node_.cluster, "--cluster",
                 "nats://127.0.0.1:" + std::to_string(node_.route_port), "--routes", routes});
  }
  process_ = Process::Start({.args = args, .binary = "/usr/sbin/nats-server"});
  if (!process_) return false;
  return Eventually(
      [&] {
        Client c(Url());
        if (c.nc == nullptr) return false;
        if (!jetstream_ || !node_.name.empty()) return true;
        jsAccountInfo* info = nullptr;
        const bool ready = c.ok() && js_GetAccountInfo(&info, c.js, nullptr, nullptr) == NATS_OK;
        jsAccountInfo_Destroy(info);
        return ready;
      },
      20s);
}

void NatsServer::Kill() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait();
  process_.reset();
}

void NatsServer::Pause() {
  if (process_) process_->Signal(SIGSTOP);
}

void NatsServer::Resume() {
  if (process_) process_->Signal(SIGCONT);
}

std::optional<NatsServer::StreamState> NatsServer::Stream(const std::string& stream) const {
  Client c(Url());
  if (!c.ok()) return std::nullopt;
  jsStreamInfo* info = nullptr;
  if (js_GetStreamInfo(&info, c.js, stream.c_str(), nullptr, nullptr) != NATS_OK) {
    return std::nullopt;
  }
  StreamState out;
  out.messages = info->State.Msgs;
  for (int i = 0; i < info->Config->SubjectsLen; ++i) {
    out.subjects.emplace_back(info->Config->Subjects[i]);
  }
  out.max_age_ns = info->Config->MaxAge;
  out.duplicates_ns = info->Config->Duplicates;
  out.max_msg_size = info->Config->MaxMsgSize;
  out.replicas = info->Config->Replicas;
  if (const jsClusterInfo* ci = info->Cluster; ci != nullptr) {
    if (ci->Leader != nullptr) out.leader = ci->Leader;
    for (int i = 0; i < ci->ReplicasLen; ++i) {
      if (ci->Replicas[i]->Current && !ci->Replicas[i]->Offline) ++out.current_peers;
    }
  }
  jsStreamInfo_Destroy(info);
  return out;
}

int64_t NatsServer::StreamMessages(const std::string& stream) const {
  auto s = Stream(stream);
  return s ? static_cast<int64_t>(s->messages) : -1;
}

bool NatsServer::CreateStream(const std::string& stream, const std::string& subject,
                              int32_t max_msg_size, int replicas) const {
  Client c(Url());
  if (!c.ok()) return false;
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject.c_str()};
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.MaxMsgSize = max_msg_size;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  return js_AddStream(nullptr, c.js, &cfg, nullptr, nullptr) == NATS_OK;
}

bool NatsServer::Publish(const std::string& subject, const std::string& data,
                         const std::vector<std::pair<std::string, std::string>>& headers) const {
  Client c(Url());
  natsMsg* msg = nullptr;
  if (!c.ok() || natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size())) != NATS_OK) {
    return false;
  }
  for (const auto& [k, v] : headers) (void)natsMsgHeader_Add(msg, k.c_str(), v.c_str());
  const bool ok = js_PublishMsg(nullptr, c.js, msg, nullptr, nullptr) == NATS_OK;
  natsMsg_Destroy(msg);
  return ok;
}

bool NatsServer::PublishRange(const std::string& subject, int first, int last,
                              const std::function<std::string(int)>& make) const {
  Client c(Url());
  if (!c.ok()) return false;
  for (int i = first; i <= last; ++i) {
    const std::string data = make(i);
    if (js_PublishAsync(c.js, subject.c_str(), data.data(), static_cast<int>(data.size()),
                        nullptr) != NATS_OK) {
      return false;
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30000;
  return js_PublishAsyncComplete(c.js, &po) == NATS_OK;
}

std::optional<NatsServer::ConsumerState> NatsServer::Consumer(const std::string& stream,
                                                              const std::string& durable) const {
  Client c(Url());
  jsConsumerInfo* ci = nullptr;
  if (!c.ok() ||
      js_GetConsumerInfo(&ci, c.js, stream.c_str(), durable.c_str(), nullptr, nullptr) != NATS_OK) {
    return std::nullopt;
  }
  ConsumerState out{ci->AckFloor.Stream, ci->NumAckPending, ci->NumPending, ci->Delivered.Stream,
                    ci->NumRedelivered};
  jsConsumerInfo_Destroy(ci);
  return out;
}

std::vector<NatsServer::Message> NatsServer::ReadStream(const std::string& stream) const {
  std::vector<Message> out;
  auto state = Stream(stream);
  if (!state || state->subjects.empty()) {
    ADD_FAILURE() << "stream " << stream << " not readable";
    return out;
  }
  Client c(Url());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  natsSubscription* sub = nullptr;
  if (!c.ok() ||
      js_SubscribeSync(&sub, c.js, state->subjects[0].c_str(), nullptr, &so, nullptr) != NATS_OK) {
    ADD_FAILURE() << "cannot subscribe to stream " << stream << ": " << nats_GetLastError(nullptr);
    return out;
  }
  while (out.size() < state->messages) {
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub, 10000) != NATS_OK) {
      ADD_FAILURE() << "stream " << stream << ": read " << out.size() << " of " << state->messages
                    << " messages";
      break;
    }
    Message m;
    m.subject = natsMsg_GetSubject(msg);
    m.data.assign(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) m.msg_id = id;
    const char* type = nullptr;
    if (natsMsgHeader_Get(msg, "Content-Type", &type) == NATS_OK && type != nullptr) {
      m.content_type = type;
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      m.seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    natsMsg_Destroy(msg);
    out.push_back(std::move(m));
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return out;
}

// ---------------------------------------------------------------------------

NatsCluster::NatsCluster(size_t nodes) {
  std::vector<int> route_ports;
  for (size_t i = 0; i < nodes; ++i) route_ports.push_back(FreeTcpPort());
  for (size_t i = 0; i < nodes; ++i) {
    NatsServer::ClusterNode node{.name = "n" + std::to_string(i + 1),
                                 .cluster = "pgcdc-test",
                                 .route_port = route_ports[i],
                                 .peer_route_ports = {}};
    for (size_t j = 0; j < nodes; ++j) {
      if (j != i) node.peer_route_ports.push_back(route_ports[j]);
    }
    nodes_.push_back(std::make_unique<NatsServer>(std::move(node)));
  }
}

bool NatsCluster::Ready(std::chrono::milliseconds timeout) const {
  return Eventually(
      [&] {
        for (const auto& n : nodes_) {
          if (!n->running()) continue;
          Client c(n->Url());
          jsAccountInfo* info = nullptr;
          const bool ok = c.ok() && js_GetAccountInfo(&info, c.js, nullptr, nullptr) == NATS_OK;
          jsAccountInfo_Destroy(info);
          if (!ok) return false;
        }
        return true;
      },
      timeout);
}

bool NatsCluster::CreateStream(const std::string& stream, const std::string& subject, int replicas,
                               std::chrono::milliseconds timeout) const {
  // The meta leader may still be learning its peers: creating is retried
  // (an identical stream that exists already is a success).
  return Eventually(
      [&] {
        if (!Any().CreateStream(stream, subject, -1, replicas)) return false;
        auto s = Any().Stream(stream);
        return s && s->replicas == replicas && !s->leader.empty() &&
               s->current_peers == replicas - 1;
      },
      timeout);
}

std::string NatsCluster::Urls() const {
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + n->Url();
  return out;
}

const NatsServer& NatsCluster::Any() const {
  for (const auto& n : nodes_) {
    if (n->running()) return *n;
  }
  return *nodes_.front();
}

std::optional<size_t> NatsCluster::IndexOf(const std::string& name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->name() == name) return i;
  }
  return std::nullopt;
}

}  // namespace pgcdc::testing
