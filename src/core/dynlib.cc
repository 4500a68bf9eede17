#include "core/dynlib.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

namespace pgcdc::dynlib {

std::string ExecutableDir() {
  std::array<char, 4096> buf{};
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return {};
  std::string path(buf.data(), static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::vector<std::string> Candidates(const std::string& file, const char* env,
                                    const std::vector<std::string>& fallbacks) {
  if (const char* v = env != nullptr ? std::getenv(env) : nullptr; v != nullptr && *v != '\0') {
    return {v};
  }
  std::vector<std::string> out;
  if (const std::string dir = ExecutableDir(); !dir.empty()) {
    out.push_back(dir + "/../lib/pgcdc/" + file);
    out.push_back(dir + "/lib/pgcdc/" + file);
  }
  out.insert(out.end(), fallbacks.begin(), fallbacks.end());
  return out;
}

Result<void*> Open(const std::string& what, const std::vector<std::string>& paths,
                   const char* env) {
  std::string tried;
  for (const auto& path : paths) {
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); handle != nullptr) {
      return handle;
    }
    const char* why = dlerror();
    // dlerror() names the path itself.
    tried += "\n  " + (why != nullptr ? std::string(why) : path + ": cannot be loaded");
  }
  return Fail(ErrorCode::kNotFound, what + " could not be loaded; tried:" + tried +
                                        "\n  (reinstall the pgcdc package, or set " +
                                        (env != nullptr ? env : "its path") +
                                        " to the library's path)");
}

Result<void*> Symbol(void* handle, const char* symbol, const std::string& what) {
  dlerror();
  void* address = dlsym(handle, symbol);
  if (address == nullptr) {
    return Fail(ErrorCode::kNotFound,
                what + " has no symbol " + symbol + " (a library of another version?)");
  }
  return address;
}

}  // namespace pgcdc::dynlib
