// The pipeline a thread works for, so that logs and metrics can say which one.
//
// `pgcdc serve` runs many pipelines in one process. It enters a scope named
// after the pipeline on the thread that assembles and runs it; every log line
// written on a thread inside a scope carries `pipeline=<name>`, and every
// metric series created there carries a `pipeline` label. Threads do not
// inherit a scope by themselves: components start theirs through Bind(),
// which runs the function in the scope of the thread that created it.
// Outside serve (listen, snapshot, tests) no scope is entered and nothing
// changes.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace pgcdc::scope {

struct Scope {
  uint64_t id = 0;  // unique per Make() in this process
  std::string pipeline;
};
using ScopePtr = std::shared_ptr<const Scope>;

ScopePtr Make(std::string pipeline);

// The calling thread's scope, or null outside any.
const ScopePtr& Current();
// The pipeline name of the current scope ("" outside any).
std::string_view Pipeline();

// Enters `scope` (null leaves every scope) until destruction, which restores
// the scope in force before.
class Enter {
 public:
  explicit Enter(ScopePtr scope);
  ~Enter();
  Enter(const Enter&) = delete;
  Enter& operator=(const Enter&) = delete;

 private:
  ScopePtr previous_;
};

// `fn` wrapped to run in the caller's current scope: std::thread(Bind(fn)).
template <class F>
auto Bind(F fn) {
  return [ s = Current(), fn = std::move(fn) ]<class... A>(
             A && ... args) mutable -> decltype(auto) requires std::invocable<F&, A...> {
    Enter in(s);
    return fn(std::forward<A>(args)...);
  };
}

}  // namespace pgcdc::scope
