#include "index/index_dir.h"

#include <filesystem>
#include <system_error>

namespace xrs {

static_assert(kIndexFileNames[0] == kCatalogFileName && kIndexFileNames[4] == kVectorsFileName);

std::string index_file_path(const std::string& index_dir, std::string_view name) {
  return index_dir + "/" + std::string(name);
}

Status remove_index_files(const std::string& index_dir) {
  for (std::string_view name : kIndexFileNames) {
    const std::string path = index_file_path(index_dir, name);
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) return Status::io_error(path + ": " + ec.message());
  }
  return Status::ok();
}

}  // namespace xrs
