# Every third-party dependency, found once here (Debian 12 packages; scripts/install-deps.sh
# installs them). Each is linked PRIVATE by exactly one module (DESIGN.md, habit 6).

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
# OpenMP before faiss: Debian's faiss config refers to the OpenMP::OpenMP_CXX target.
find_package(OpenMP REQUIRED)

# BLAS: OpenBLAS (the cblas header and openblas_set_num_threads come with it).
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)

find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
find_package(nlohmann_json 3 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)

find_package(GDCM REQUIRED)
find_package(faiss CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(CURL REQUIRED)

if(XRS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
