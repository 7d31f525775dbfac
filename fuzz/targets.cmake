# The fuzz targets and what each links; included by fuzz/CMakeLists.txt (libFuzzer builds) and
# tests/fuzz/CMakeLists.txt (regression replay in every build). docs/FUZZING.md describes them.
# fuzz/fuzz_<name>.cpp defines LLVMFuzzerTestOneInput; seeds are in fuzz/corpus/<name>/ and saved
# crash inputs in fuzz/regressions/<name>/.
set(XRS_FUZZ_DIR ${PROJECT_SOURCE_DIR}/fuzz)
set(XRS_FUZZ_TARGETS csv dataset_config safetensors torchscript pickle tokenizer image http)

set(XRS_FUZZ_LIBS_csv xrs_dataset)
set(XRS_FUZZ_LIBS_dataset_config xrs_dataset nlohmann_json::nlohmann_json)
set(XRS_FUZZ_LIBS_safetensors xrs_checkpoint)
set(XRS_FUZZ_LIBS_torchscript xrs_checkpoint)
set(XRS_FUZZ_LIBS_pickle xrs_checkpoint)
set(XRS_FUZZ_LIBS_tokenizer xrs_tokenizer)
set(XRS_FUZZ_LIBS_image xrs_imaging)
set(XRS_FUZZ_LIBS_http xrs_server xrs_imaging xrs_fake_backend nlohmann_json::nlohmann_json)
set(XRS_FUZZ_SOURCES_http ${XRS_FUZZ_DIR}/http_request_text.cpp)

# The server tests' fake backend (tests/server/), built here too when the tests are not.
if(TARGET xrs_server AND NOT TARGET xrs_fake_backend)
  add_library(xrs_fake_backend STATIC ${PROJECT_SOURCE_DIR}/tests/server/fake_backend.cpp)
  target_include_directories(xrs_fake_backend PUBLIC ${PROJECT_SOURCE_DIR}/tests/server)
  target_link_libraries(xrs_fake_backend PUBLIC xrs_service xrs_imaging)
  xrs_set_target_options(xrs_fake_backend)
endif()

# True in OUT when every library target `name` links exists (modules may be absent).
function(xrs_fuzz_target_available name out)
  set(ok TRUE)
  foreach(lib IN LISTS XRS_FUZZ_LIBS_${name})
    if(NOT TARGET ${lib})
      set(ok FALSE)
    endif()
  endforeach()
  set(${out} ${ok} PARENT_SCOPE)
endfunction()

# An executable `exe` from fuzz_<name>.cpp, the shared support code and any extra sources (a main
# for replay builds).
function(xrs_fuzz_executable name exe)
  add_executable(${exe} ${XRS_FUZZ_DIR}/fuzz_${name}.cpp ${XRS_FUZZ_DIR}/fuzz_support.cpp
                        ${XRS_FUZZ_SOURCES_${name}} ${ARGN})
  target_include_directories(${exe} PRIVATE ${XRS_FUZZ_DIR})
  target_link_libraries(${exe} PRIVATE ${XRS_FUZZ_LIBS_${name}})
  target_compile_definitions(${exe} PRIVATE XRS_SHARED_DIR="${XRS_SHARED_DIR}")
  xrs_set_target_options(${exe})
  # The HTTP routes decode uploads and previews with decode_image, which runs the codecs in the
  # decoder worker process (imaging/decoder_pool.h), found in the build tree: without it every
  # upload would be a 422 and the routes behind a decode would go unfuzzed.
  if(name STREQUAL "http" AND TARGET xray-search-decoder)
    add_dependencies(${exe} xray-search-decoder)
  endif()
endfunction()

# The binary seeds (DICOM, safetensors, TorchScript) are not committed: fuzz/make_seeds.py writes
# every seed into the build folder at configure time (Debian's python3 with Pillow).
# They are written again whenever make_seeds.py changes (a new regression reaches every existing
# build folder at its next build): the script is a configure dependency, and a stamp holds the
# hash of the version that wrote the folder.
set(XRS_FUZZ_GENERATED_SEEDS ${PROJECT_BINARY_DIR}/fuzz-generated-seeds)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${XRS_FUZZ_DIR}/make_seeds.py)
file(SHA256 ${XRS_FUZZ_DIR}/make_seeds.py seeds_script_hash)
set(seeds_stamp ${XRS_FUZZ_GENERATED_SEEDS}/.make_seeds.sha256)
set(seeds_stamp_hash "")
if(EXISTS ${seeds_stamp})
  file(READ ${seeds_stamp} seeds_stamp_hash)
endif()
if(NOT seeds_stamp_hash STREQUAL seeds_script_hash)
  file(REMOVE_RECURSE ${XRS_FUZZ_GENERATED_SEEDS})
  execute_process(COMMAND /usr/bin/python3 ${XRS_FUZZ_DIR}/make_seeds.py ${XRS_FUZZ_GENERATED_SEEDS}
                  RESULT_VARIABLE seeds_result OUTPUT_QUIET ERROR_QUIET)
  if(seeds_result EQUAL 0)
    file(WRITE ${seeds_stamp} ${seeds_script_hash})
  else()
    message(STATUS "fuzz seeds: make_seeds.py failed (python3-pil missing?); replaying the "
                   "committed seeds only")
  endif()
endif()

# The saved inputs a regression test replays: fuzz/regressions/<name>/*, fuzz/corpus/<name>/* and
# the generated seeds.
function(xrs_fuzz_replay_inputs name out)
  file(GLOB inputs CONFIGURE_DEPENDS ${XRS_FUZZ_DIR}/regressions/${name}/*
       ${XRS_FUZZ_DIR}/corpus/${name}/* ${XRS_FUZZ_GENERATED_SEEDS}/${name}/*)
  list(SORT inputs)
  set(${out} ${inputs} PARENT_SCOPE)
endfunction()
