// kafka_mock_cluster: a real Kafka wire-protocol cluster for tests, from
// librdkafka's mock cluster (rdkafka_mock.h), in its own process so a test can
// take it down, bring it back and kill it.
//
//   kafka_mock_cluster [--brokers N] [--topic NAME:PARTITIONS]...
//                      [--produce-errors CODE:COUNT]
//
// Prints one line "bootstrap=<host:port,...>" on stdout once the brokers
// listen, then runs until SIGTERM/SIGINT (or until killed). Control while
// running:
//   SIGUSR1  every broker goes down (open connections are closed, new ones
//            are refused) — the client sees an unreachable cluster;
//   SIGUSR2  every broker comes back up (its data was kept).
// --topic creates a topic up front (others are auto-created with 4
// partitions on first use); --produce-errors makes the next COUNT Produce
// requests fail with Kafka error CODE (e.g. 29 TOPIC_AUTHORIZATION_FAILED).
// Each state change is confirmed on stdout ("down", "up") for the test to
// wait on.
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must follow rdkafka.h.
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Args {
  int brokers = 1;
  std::vector<std::pair<std::string, int>> topics;
  int produce_error = 0;
  int produce_error_count = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "kafka_mock_cluster: %s\nusage: kafka_mock_cluster [--brokers N] "
               "[--topic NAME:PARTITIONS]... [--produce-errors CODE:COUNT]\n",
               why);
  std::exit(2);
}

// "NAME:NUMBER" -> (NAME, NUMBER); exits on anything else.
std::pair<std::string, int> NameAndNumber(const std::string& arg) {
  const size_t colon = arg.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == arg.size()) Usage("bad NAME:NUMBER");
  char* end = nullptr;
  const long n = std::strtol(arg.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || n < 0 || n > 100000) Usage("bad number");
  return {arg.substr(0, colon), static_cast<int>(n)};
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing value");
    const std::string value = argv[++i];
    if (flag == "--brokers") {
      a.brokers = std::atoi(value.c_str());
      if (a.brokers < 1 || a.brokers > 16) Usage("--brokers must be 1..16");
    } else if (flag == "--topic") {
      a.topics.push_back(NameAndNumber(value));
      if (a.topics.back().second < 1) Usage("a topic needs at least one partition");
    } else if (flag == "--produce-errors") {
      auto [code, count] = NameAndNumber(value);
      a.produce_error = std::atoi(code.c_str());
      a.produce_error_count = count;
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  return a;
}

void SetAll(rd_kafka_mock_cluster_t* mc, int brokers, bool up) {
  for (int id = 1; id <= brokers; ++id) {
    const rd_kafka_resp_err_t err =
        up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka_mock_cluster: broker %d: %s\n", id, rd_kafka_err2str(err));
    }
  }
  std::printf("%s\n", up ? "up" : "down");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);

  // The signals are taken synchronously below; block them before librdkafka
  // starts its threads so they inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "kafka_mock_cluster: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, args.brokers);
  if (mc == nullptr) {
    std::fprintf(stderr, "kafka_mock_cluster: cannot create the mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  for (const auto& [name, partitions] : args.topics) {
    const int replication = args.brokers < 3 ? args.brokers : 3;
    if (rd_kafka_mock_topic_create(mc, name.c_str(), partitions, replication) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka_mock_cluster: cannot create topic %s\n", name.c_str());
      return 1;
    }
  }
  if (args.produce_error_count > 0) {
    std::vector<rd_kafka_resp_err_t> errs(args.produce_error_count,
                                          static_cast<rd_kafka_resp_err_t>(args.produce_error));
    rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, errs.size(), errs.data());
  }
  std::printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);

  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      SetAll(mc, args.brokers, false);
    } else if (sig == SIGUSR2) {
      SetAll(mc, args.brokers, true);
    } else {
      break;
    }
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
