# cmake -DINPUT=kernel.wasm -DOUTPUT=kernel_wasm.cc -P embed.cmake: the bytes of
# INPUT as the array kernel_wasm.h declares.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}" "// Generated from kernel.wat by src/wasm/embed.cmake; do not edit.
#include \"wasm/kernel_wasm.h\"

namespace pgcdc::wasm {
extern const uint8_t kKernelWasm[] = {${bytes}};
extern const size_t kKernelWasmSize = sizeof(kKernelWasm);
}  // namespace pgcdc::wasm
")
