# Turns the web UI's files into a C++ source with one byte array per file (see web_assets.h).
# Run as a script: cmake -DWEB_DIR=<dir> -DOUTPUT=<file.cpp> -P embed_web_assets.cmake
# Pure CMake, so that the build needs no extra tool (xxd and the like).

if(NOT WEB_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "embed_web_assets.cmake: WEB_DIR and OUTPUT are required")
endif()

file(GLOB files RELATIVE "${WEB_DIR}" "${WEB_DIR}/*")
list(SORT files)

set(arrays "")
set(table "")
set(index 0)
foreach(name IN LISTS files)
  if(IS_DIRECTORY "${WEB_DIR}/${name}")
    message(FATAL_ERROR "embed_web_assets.cmake: ${WEB_DIR}/${name}: sub-folders are not embedded")
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9._-]+$")
    message(FATAL_ERROR "embed_web_assets.cmake: '${name}': use letters, digits, '.', '_', '-' only")
  endif()
  get_filename_component(ext "${name}" LAST_EXT)
  string(TOLOWER "${ext}" ext)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".json")
    set(type "application/json")
  elseif(ext STREQUAL ".txt")
    set(type "text/plain; charset=utf-8")
  else()
    message(FATAL_ERROR "embed_web_assets.cmake: '${name}': no content type known for '${ext}'")
  endif()

  file(SIZE "${WEB_DIR}/${name}" size)
  file(SHA256 "${WEB_DIR}/${name}" digest)
  string(SUBSTRING "${digest}" 0 16 etag)
  file(READ "${WEB_DIR}/${name}" hex HEX)
  # Two hex digits per byte → "0x..," and a line break every 24 bytes.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){24})" "\\1\n" bytes "${bytes}")
  if(size EQUAL 0)
    set(bytes "0")  # a zero-length array is not C++; the size below stays 0
  endif()
  string(APPEND arrays "const unsigned char kAsset${index}[] = {\n${bytes}\n};\n")
  string(APPEND table "    {\"/${name}\", \"${type}\", \"\\\"${etag}\\\"\",\n"
                      "     std::string_view(reinterpret_cast<const char*>(kAsset${index}), ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()

if(index EQUAL 0)
  message(FATAL_ERROR "embed_web_assets.cmake: ${WEB_DIR} holds no files")
endif()

set(content "// Generated from web/ by src/server/embed_web_assets.cmake at build time: do not edit.
#include \"server/web_assets.h\"

namespace xrs {
namespace {

${arrays}
const WebAsset kAssets[] = {
${table}};

}  // namespace

std::span<const WebAsset> web_assets() { return kAssets; }

}  // namespace xrs
")

# Only rewrite when something changed, so that an unchanged UI does not trigger a recompile.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
