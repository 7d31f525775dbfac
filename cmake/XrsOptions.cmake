# Compiler flags shared by every xray-search target, applied through xrs_set_target_options().

set(XRS_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wmissing-declarations)
if(XRS_WERROR)
  list(APPEND XRS_WARNING_FLAGS -Werror)
endif()

# Every file is compiled for the baseline instruction set (x86-64: SSE2), so one binary runs on
# any host; the few files written for AVX2 (src/kernels/*_avx2.cpp) get their own flags and run
# only after the CPU check (src/kernels/vector_ops.h). XRS_NATIVE compiles everything for this
# host's CPU instead (the binary may not run elsewhere).
if(XRS_NATIVE)
  add_compile_options(-march=native)
  add_compile_definitions(XRS_NATIVE_ISA=1)
endif()

if(XRS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer builds (fuzz/, docs/FUZZING.md): every library gets the fuzzer's coverage
# instrumentation and the sanitizers the fuzz targets run with; only the targets link libFuzzer.
if(XRS_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(xrs_set_target_options target)
  target_compile_options(${target} PRIVATE ${XRS_WARNING_FLAGS})
endfunction()
