// Shared by the plain (non-Google-Benchmark) load programs: `--name value`
// arguments and the file-descriptor limit raised for many client sockets.
#pragma once

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace pgcdc::bench {

inline const char* ArgText(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

inline long Arg(int argc, char** argv, const char* name, long def) {
  const char* v = ArgText(argc, argv, name);
  return v != nullptr ? std::atol(v) : def;
}

inline std::string StrArg(int argc, char** argv, const char* name, const char* def) {
  const char* v = ArgText(argc, argv, name);
  return v != nullptr ? v : def;
}

// Raises the soft open-files limit to the hard one.
inline void RaiseFileLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace pgcdc::bench
