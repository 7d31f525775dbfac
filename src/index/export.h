// Export of an index's embeddings for other tools (NumPy, pandas, spreadsheets).
//
//   <npy>  NumPy format 1.0: magic "\x93NUMPY", version 1.0, a header dict
//          {'descr': '<f4', 'fortran_order': False, 'shape': (N, dim), } padded with spaces to a
//          multiple of 64 bytes and ended by '\n', then N x dim little-endian float32, row-major.
//   <csv>  RFC 4180 (CRLF line ends; fields with a comma, quote, CR or LF are double-quoted and
//          quotes doubled), header line "id,image_name,category,path,source_url,sha256", then one
//          line per image in the same order as the .npy rows (ascending id).
//
// Both files are written atomically (temporary file, fsync, rename) from one consistent snapshot
// of the catalog. Safe to call from any thread (it opens its own read-only connection).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs {

inline constexpr char kExportCsvHeader[] = "id,image_name,category,path,source_url,sha256";

// Errors: those of Catalog::open and Catalog::snapshot, or kIoError naming the output file.
Status export_embeddings(const std::string& index_dir, const std::string& npy_path,
                         const std::string& csv_path);

// The .npy preamble (magic, version, length, dict, padding) for a (rows, cols) '<f4' C-order array.
std::string npy_header(size_t rows, size_t cols);

// One RFC 4180 field: as is, or double-quoted with inner quotes doubled when it contains a comma,
// quote, CR or LF.
std::string csv_field(std::string_view value);

}  // namespace xrs
