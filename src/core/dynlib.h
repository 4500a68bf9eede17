// Opening a shared library at run time (dlopen), for the engines pgcdc
// loads only when a configuration uses them: DuckDB (Parquet output, the
// duckdb sink) and V8 (Wasm plugins). Linking them would map ~35 MiB and cost
// ~40 ms of relocation in every process, including `pgcdc version`.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace pgcdc::dynlib {

// The folder holding the running executable ("" when /proc is unreadable).
std::string ExecutableDir();

// Where pgcdc looks for a private library or module `file`, in order: the
// path in environment variable `env` when set (and only it), else
// <exe dir>/../lib/pgcdc/<file> (the package layout), <exe dir>/lib/pgcdc/<file>
// (a build tree) and then each of `fallbacks`.
std::vector<std::string> Candidates(const std::string& file, const char* env,
                                    const std::vector<std::string>& fallbacks);

// dlopen()s the first candidate that loads (RTLD_NOW | RTLD_LOCAL: every
// symbol resolved now, none visible to later loads). kNotFound names
// `what`, each path tried with the loader's reason, and `env`.
[[nodiscard]] Result<void*> Open(const std::string& what, const std::vector<std::string>& paths,
                                 const char* env);

// The address of `symbol` in `handle`; kNotFound naming `what` when missing
// (a library of another version).
[[nodiscard]] Result<void*> Symbol(void* handle, const char* symbol, const std::string& what);

}  // namespace pgcdc::dynlib
