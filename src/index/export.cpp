#include "index/export.h"

#include <cstring>

#include "core/file_util.h"
#include "index/catalog.h"

namespace xrs {

std::string npy_header(size_t rows, size_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                     ", " + std::to_string(cols) + "), }";
  // magic (6) + version (2) + header length (2) + dict + padding + '\n', a multiple of 64 so
  // that the data starts aligned (NumPy's own writer does the same).
  size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  return out + dict;
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Status export_embeddings(const std::string& index_dir, const std::string& npy_path,
                         const std::string& csv_path) {
  XRS_ASSIGN_OR_RETURN(auto catalog, Catalog::open(index_dir, Catalog::Mode::kReadOnly));
  XRS_ASSIGN_OR_RETURN(CatalogSnapshot snap, catalog->snapshot(/*with_embeddings=*/true));
  if (!snap.vectors) return Status::internal(index_dir + ": snapshot without embeddings");
  const FloatMatrix& m = snap.vectors->vectors;

  std::string npy = npy_header(m.rows(), catalog->model().dim);
  const size_t header = npy.size();
  npy.resize(header + m.rows() * m.cols() * sizeof(float));
  if (m.rows() > 0) std::memcpy(npy.data() + header, m.data(), npy.size() - header);
  XRS_RETURN_IF_ERROR(write_file_atomic(npy_path, npy));

  std::string csv = std::string(kExportCsvHeader) + "\r\n";
  for (const ImageRecord& r : snap.rows) {
    csv += std::to_string(r.id) + ',' + csv_field(r.image_name) + ',' + csv_field(r.category) +
           ',' + csv_field(r.relative_path) + ',' + csv_field(r.source_url) + ',' +
           csv_field(r.sha256) + "\r\n";
  }
  return write_file_atomic(csv_path, csv);
}

}  // namespace xrs
