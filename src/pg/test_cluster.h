// For unit tests that need a real PostgreSQL: one throwaway cluster per test
// binary, started on first use (without logical replication) and removed at
// exit. A cluster that cannot start fails the test and aborts the binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "pg/cluster.h"

namespace pgcdc::pg {

inline TempCluster& SharedTestCluster(const char* log_prefix) {
  static std::unique_ptr<TempCluster> cluster = [log_prefix] {
    ClusterOptions o;
    o.logical_replication = false;
    o.log_prefix = log_prefix;
    auto c = TempCluster::Start(o);
    if (!c) {
      ADD_FAILURE() << c.error().message();
      std::abort();
    }
    return std::move(*c);
  }();
  return *cluster;
}

}  // namespace pgcdc::pg
