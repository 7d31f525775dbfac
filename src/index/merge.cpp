#include "index/merge.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "index/catalog.h"
#include "index/index_reader.h"
#include "index/shard.h"
#include "index/vector_index.h"

namespace xrs {

namespace fs = std::filesystem;

namespace {

struct Input {
  std::string dir;
  std::unique_ptr<Catalog> catalog;
  CatalogInfo info;
  std::optional<ShardSpec> shard;  // nullopt: a whole index
  std::vector<ImageRecord> rows;   // names and metadata (pass 1)
};

std::string canonical_or_same(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  return ec ? dir : p.string();
}

bool same_content(const ImageRecord& a, const ImageRecord& b) {
  return a.category == b.category && a.relative_path == b.relative_path &&
         a.source_url == b.source_url && a.sha256 == b.sha256 && a.file_size == b.file_size &&
         a.mtime_ns == b.mtime_ns && a.width == b.width && a.height == b.height &&
         a.extra_json == b.extra_json;
}

Status open_inputs(const MergeOptions& options, std::vector<Input>& inputs) {
  if (options.inputs.empty()) return Status::invalid_argument("merge: no shard index given");
  const std::string target = canonical_or_same(options.index_dir);
  std::set<std::string> seen;
  for (const std::string& dir : options.inputs) {
    const std::string canonical = canonical_or_same(dir);
    if (canonical == target) {
      return Status::failed_precondition("merge: " + dir + " is the target index itself");
    }
    if (!seen.insert(canonical).second) {
      return Status::failed_precondition("merge: " + dir + " is given twice");
    }
    Input in;
    in.dir = dir;
    StatusOr<std::unique_ptr<Catalog>> c = Catalog::open(dir, Catalog::Mode::kReadOnly);
    if (!c.is_ok()) return c.status().with_context("shard index " + dir);
    in.catalog = std::move(c).value();
    XRS_ASSIGN_OR_RETURN(in.info, in.catalog->info());
    if (auto it = in.info.settings.find(kSettingShard);
        it != in.info.settings.end() && !it->second.empty()) {
      StatusOr<ShardSpec> spec = parse_shard(it->second);
      if (!spec.is_ok()) return spec.status().with_context("shard index " + dir);
      in.shard = *spec;
    }
    XRS_ASSIGN_OR_RETURN(in.rows, in.catalog->list());
    inputs.push_back(std::move(in));
  }
  return Status::ok();
}

// The checks that need every input: model, shard set, overlap. Returns the shard count n.
StatusOr<int> check_inputs(std::vector<Input>& inputs) {
  const Input& first = inputs.front();
  for (const Input& in : inputs) {
    if (!in.info.model.same_model(first.info.model)) {
      return Status::failed_precondition("merge: " + in.dir + " was built with model " +
                                         in.info.model.describe() + ", but " + first.dir +
                                         " with " + first.info.model.describe() +
                                         "; embeddings of two models cannot be mixed");
    }
  }
  const size_t sharded = static_cast<size_t>(std::count_if(
      inputs.begin(), inputs.end(), [](const Input& in) { return in.shard.has_value(); }));
  int n = 0;
  if (sharded != 0) {
    if (sharded != inputs.size()) {
      const auto whole = std::find_if(inputs.begin(), inputs.end(),
                                      [](const Input& in) { return !in.shard.has_value(); });
      return Status::failed_precondition("merge: " + whole->dir +
                                         " is an index of a whole dataset, not a shard; it "
                                         "cannot be merged with shard indexes");
    }
    n = first.shard->count;
    std::map<int, const Input*> by_k;
    for (const Input& in : inputs) {
      if (in.shard->count != n) {
        return Status::failed_precondition("merge: " + in.dir + " is shard " +
                                           in.shard->to_string() + " but " + first.dir +
                                           " is shard " + first.shard->to_string() +
                                           ": shards of different splits cannot be merged");
      }
      auto [it, fresh] = by_k.emplace(in.shard->index, &in);
      if (!fresh) {
        return Status::failed_precondition("merge: " + it->second->dir + " and " + in.dir +
                                           " are both shard " + in.shard->to_string());
      }
    }
    std::string missing;
    for (int k = 0; k < n; ++k) {
      if (!by_k.count(k)) missing += (missing.empty() ? "" : ", ") + ShardSpec{k, n}.to_string();
    }
    if (!missing.empty()) {
      return Status::failed_precondition("merge: shard " + missing + " is missing (" +
                                         std::to_string(inputs.size()) + " of " +
                                         std::to_string(n) + " shards given)");
    }
    std::sort(inputs.begin(), inputs.end(),
              [](const Input& a, const Input& b) { return a.shard->index < b.shard->index; });
  }
  std::unordered_map<std::string, const Input*> owner;
  for (const Input& in : inputs) {
    for (const ImageRecord& r : in.rows) {
      auto [it, fresh] = owner.emplace(r.image_name, &in);
      if (!fresh) {
        return Status::failed_precondition("merge: image " + r.image_name + " is in both " +
                                           it->second->dir + " and " + in.dir +
                                           " (overlapping shards)");
      }
    }
  }
  return n;
}

}  // namespace

StatusOr<MergeSummary> merge_indexes(const MergeOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->load(); };
  MergeSummary summary;
  std::vector<Input> inputs;
  XRS_RETURN_IF_ERROR(open_inputs(options, inputs));
  XRS_ASSIGN_OR_RETURN(summary.shard_count, check_inputs(inputs));
  summary.inputs = inputs.size();
  const ModelIdentity& model = inputs.front().info.model;

  StatusOr<std::unique_ptr<Catalog>> opened = Catalog::open_or_create(options.index_dir, model);
  if (!opened.is_ok()) return opened.status().with_context("merge target " + options.index_dir);
  Catalog& target = **opened;
  XRS_ASSIGN_OR_RETURN(CatalogInfo target_info, target.info());
  if (auto it = target_info.settings.find(kSettingShard);
      it != target_info.settings.end() && !it->second.empty()) {
    return Status::failed_precondition("merge: the target " + options.index_dir +
                                       " is itself shard " + it->second +
                                       "; merge into another folder");
  }

  // The settings the read side needs: where the images and the model are. Shards built on
  // different machines may name different paths; the first shard's are kept.
  std::map<std::string, std::string> settings;
  for (const char* key : {kSettingDataDir, kSettingModelPath, kSettingVectorIndex}) {
    for (const Input& in : inputs) {
      auto it = in.info.settings.find(key);
      if (it == in.info.settings.end()) continue;
      auto [have, fresh] = settings.emplace(key, it->second);
      if (!fresh && have->second != it->second) {
        summary.warnings.push_back(in.dir + " records " + key + " " + it->second + ", kept " +
                                   have->second + " (from " + inputs.front().dir + ")");
      }
    }
  }
  settings[kSettingShard] = "";

  XRS_ASSIGN_OR_RETURN(std::vector<ImageRecord> existing_rows, target.list());
  std::unordered_map<std::string, ImageRecord> existing;
  for (ImageRecord& r : existing_rows) existing.emplace(r.image_name, std::move(r));
  std::unordered_map<std::string, bool> wanted;
  size_t to_write = 0;
  for (const Input& in : inputs) {
    for (const ImageRecord& r : in.rows) {
      auto it = existing.find(r.image_name);
      const bool write = it == existing.end() || !same_content(it->second, r);
      wanted.emplace(r.image_name, write);
      to_write += write ? 1 : 0;
    }
  }
  std::vector<std::string> removals;
  for (const auto& [name, row] : existing) {
    if (!wanted.count(name)) removals.push_back(name);
  }
  std::sort(removals.begin(), removals.end());
  to_write += removals.size();

  // One transaction per batch of writes.
  size_t written = 0;
  std::optional<Transaction> txn;
  size_t in_txn = 0;
  auto flush = [&]() -> Status {
    if (!txn) return Status::ok();
    XRS_RETURN_IF_ERROR(txn->commit());
    txn.reset();
    written += in_txn;
    in_txn = 0;
    if (options.on_commit) options.on_commit(written, to_write);
    return Status::ok();
  };
  auto open_txn = [&]() -> Status {
    if (txn) return Status::ok();
    if (cancelled()) {
      return Status::cancelled("merge interrupted; the index holds every batch written so far");
    }
    XRS_ASSIGN_OR_RETURN(Transaction t, target.begin());
    txn.emplace(std::move(t));
    return Status::ok();
  };
  auto counted = [&]() -> Status { return ++in_txn >= options.batch ? flush() : Status::ok(); };

  XRS_RETURN_IF_ERROR(open_txn());
  for (const auto& [key, value] : settings) XRS_RETURN_IF_ERROR(txn->set_setting(key, value));
  for (const std::string& name : removals) {
    XRS_RETURN_IF_ERROR(open_txn());
    XRS_RETURN_IF_ERROR(txn->remove(name));
    ++summary.removed;
    XRS_RETURN_IF_ERROR(counted());
  }
  for (Input& in : inputs) {
    const bool any = std::any_of(in.rows.begin(), in.rows.end(),
                                 [&](const ImageRecord& r) { return wanted.at(r.image_name); });
    if (!any) {
      summary.unchanged += in.rows.size();
      continue;
    }
    // This shard's rows with their embeddings, from one consistent snapshot.
    XRS_ASSIGN_OR_RETURN(CatalogSnapshot snap, in.catalog->snapshot(true));
    std::vector<size_t> order(snap.rows.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return snap.rows[a].image_name < snap.rows[b].image_name;
    });
    for (size_t i : order) {
      ImageRecord& r = snap.rows[i];
      auto want = wanted.find(r.image_name);
      if (want == wanted.end()) {
        return Status::failed_precondition("merge: " + in.dir +
                                           " changed while being merged (it now holds " +
                                           r.image_name + "); run the merge again");
      }
      if (!want->second) {
        ++summary.unchanged;
        continue;
      }
      const auto vec = snap.vectors->vectors.row(i);
      r.embedding.assign(vec.begin(), vec.end());
      XRS_RETURN_IF_ERROR(open_txn());
      const bool fresh = !existing.count(r.image_name);
      StatusOr<int64_t> id = txn->upsert(r);
      if (!id.is_ok()) return id.status().with_context("merge: " + in.dir + ": " + r.image_name);
      ++(fresh ? summary.added : summary.updated);
      XRS_RETURN_IF_ERROR(counted());
    }
  }
  XRS_RETURN_IF_ERROR(flush());
  XRS_ASSIGN_OR_RETURN(uint64_t total, target.count());
  summary.total = total;
  // An approximate vector index is derived from the catalog: build and save it now.
  XRS_ASSIGN_OR_RETURN(CatalogInfo merged_info, target.info());
  if (choose_index_kind(total, recorded_vector_options(merged_info)) != IndexKind::kExact) {
    XRS_RETURN_IF_ERROR(IndexReader::open(options.index_dir).status());
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace xrs
