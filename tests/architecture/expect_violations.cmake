# Runs scripts/check-module-graph.cmake on the fixture tree (violation/) and passes only when it
# fails and names each of the three violations planted there.
execute_process(
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${FIXTURE} -DDOC=${FIXTURE}/ARCHITECTURE.md -P ${SCRIPT}
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX REPLACE "[ \n]+" " " text "${out}${err}")
if(code EQUAL 0)
  message(FATAL_ERROR "the check passed a tree with violations:\n${out}${err}")
endif()
foreach(expected
    "3 violation(s)"
    "src/extra/ is not in the module-graph table"
    "src/index/reader.h: #include \"clip/clip_model.h\": index may not include clip"
    "src/index/CMakeLists.txt: index links xrs_clip, which it may not use")
  string(FIND "${text}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the check did not report '${expected}':\n${out}${err}")
  endif()
endforeach()
message(STATUS "the check reported all three planted violations")
