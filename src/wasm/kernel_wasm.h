// kernel.wat compiled by wat2wasm at build time (embed.cmake).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgcdc::wasm {
extern const uint8_t kKernelWasm[];
extern const size_t kKernelWasmSize;
}  // namespace pgcdc::wasm
