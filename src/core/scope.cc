#include "core/scope.h"

#include <atomic>

namespace pgcdc::scope {

namespace {
thread_local ScopePtr current;
std::atomic<uint64_t> next_id{1};
}  // namespace

ScopePtr Make(std::string pipeline) {
  auto s = std::make_shared<Scope>();
  s->id = next_id.fetch_add(1, std::memory_order_relaxed);
  s->pipeline = std::move(pipeline);
  return s;
}

const ScopePtr& Current() { return current; }

std::string_view Pipeline() { return current ? std::string_view(current->pipeline) : ""; }

Enter::Enter(ScopePtr scope) : previous_(std::exchange(current, std::move(scope))) {}

Enter::~Enter() { current = std::move(previous_); }

}  // namespace pgcdc::scope
