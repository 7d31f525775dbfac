// Sharding a dataset over several index runs (several machines, a Slurm job array, a Kubernetes
// Indexed Job), and the settings that let `merge` check a set of shard indexes.
//
// An image belongs to shard k of n (0 <= k < n) when
//   uint64(first 8 bytes of SHA-256(image_name), big-endian) mod n == k
// (in Python: int(hashlib.sha256(name.encode()).hexdigest()[:16], 16) % n). It depends only on the
// image's name, so a file always lands in the same shard across runs, machines and dataset
// edits, and shards are balanced for any set of names.
//
// A shard index records its shard in its catalog (setting "shard" = "k/n", beside "data_dir");
// docs/INDEX_FORMAT.md, "Shards and merge".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs {

inline constexpr char kSettingShard[] = "shard";  // "k/n"
inline constexpr int kMaxShards = 100'000;

struct ShardSpec {
  int index = 0;  // k, 0-based
  int count = 1;  // n; 1 = the whole dataset (no sharding)

  bool sharded() const { return count > 1; }
  bool contains(std::string_view image_name) const;
  std::string to_string() const;  // "k/n"
};

// The shard (0..n-1) of an image name among n.
int shard_of(std::string_view image_name, int n);

// Parses "K/N" (0 <= K < N <= kMaxShards, decimal). kInvalidArgument naming the text otherwise.
StatusOr<ShardSpec> parse_shard(std::string_view text);

}  // namespace xrs
