#include "index/shard.h"

#include <charconv>

#include "core/sha256.h"

namespace xrs {

int shard_of(std::string_view image_name, int n) {
  if (n <= 1) return 0;
  const std::string hex = sha256_hex(image_name);
  uint64_t v = 0;
  for (int i = 0; i < 16; ++i) {
    const char c = hex[i];
    v = (v << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return static_cast<int>(v % static_cast<uint64_t>(n));
}

bool ShardSpec::contains(std::string_view image_name) const {
  return !sharded() || shard_of(image_name, count) == index;
}

std::string ShardSpec::to_string() const {
  return std::to_string(index) + "/" + std::to_string(count);
}

StatusOr<ShardSpec> parse_shard(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("shard '" + std::string(text) + "': " + why +
                                    " (expected K/N with 0 <= K < N, e.g. 0/4)");
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad("no '/'");
  auto number = [](std::string_view s, int& out) {
    if (s.empty()) return false;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
  };
  ShardSpec spec;
  if (!number(text.substr(0, slash), spec.index) || !number(text.substr(slash + 1), spec.count)) {
    return bad("not two whole numbers");
  }
  if (spec.count < 1 || spec.count > kMaxShards) {
    return bad("N must be between 1 and " + std::to_string(kMaxShards));
  }
  if (spec.index < 0 || spec.index >= spec.count) return bad("K must be between 0 and N-1");
  return spec;
}

}  // namespace xrs
