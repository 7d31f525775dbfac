#include "common.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace xrs::app {

int report_error(const Status& status, bool usage) {
  std::fprintf(stderr, "xray-search: error: %s\n", status.message().c_str());
  return usage ? kExitUsage : kExitFailure;
}

void print_json(const nlohmann::json& j, bool pretty) {
  // Invalid UTF-8 in user input (file names, texts) is replaced rather than thrown on.
  std::cout << j.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace)
            << '\n';
}

std::string default_model_path() {
  const char* env = std::getenv("XRAY_MODEL");
  if (env != nullptr && *env != '\0') return env;
  return "models/ViT-B-32";
}

}  // namespace xrs::app
