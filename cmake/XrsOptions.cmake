# Compiler flags shared by every xray-search target, applied through xrs_set_target_options().

set(XRS_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wmissing-declarations)
if(XRS_WERROR)
  list(APPEND XRS_WARNING_FLAGS -Werror)
endif()

if(XRS_NATIVE)
  add_compile_options(-march=native)
elseif(XRS_AVX2 AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  # x86-64 with AVX2 + FMA + F16C (Intel Haswell / AMD Zen and later). XRS_AVX2=OFF builds a
  # portable binary; the BLAS library picks its own kernels at run time either way.
  add_compile_options(-mavx2 -mfma -mf16c)
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
