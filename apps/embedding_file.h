// Reading a query embedding from a file (search --embedding FILE):
//   - NumPy .npy (recognised by its magic "\x93NUMPY", any version 1-3): little-endian float32 or
//     float64 ('<f4', '<f8'), C order, shape (d,) or (1, d);
//   - JSON: an array of numbers, or an object with an "embedding" array (one line of
//     `xray-search embed`'s output).
// The values are returned as floats; kInvalidArgument says what is wrong with the file (the
// dimension and finiteness are checked by the service, validate_query_embedding).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs::app {

StatusOr<std::vector<float>> parse_embedding_file(std::string_view bytes);
StatusOr<std::vector<float>> read_embedding_file(const std::string& path);

}  // namespace xrs::app
