#include "pipeline/indexer.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "clip/ops.h"
#include "core/sha256.h"
#include "dataset/report.h"
#include "dataset/validate.h"
#include "index/index_dir.h"
#include "index/index_reader.h"
#include "pipeline/plan.h"
#include "pipeline/prepare_queue.h"

namespace xrs {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string extra_json(const DatasetEntry& e) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : e.extra) j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StatusOr<FileState> file_state(const std::string& data_dir, const DatasetEntry& entry) {
  const std::string path = (fs::path(data_dir) / entry.relative_path).string();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::not_found(path + ": cannot stat");
  FileState f;
  f.entry = entry;
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  f.extra_json = extra_json(entry);
  XRS_ASSIGN_OR_RETURN(f.sha256, sha256_file(path));
  return f;
}

struct Run {
  const ClipModel& model;
  const IndexOptions& options;
  IndexSummary summary;
  std::unique_ptr<Catalog> catalog;
  std::vector<FileState> files;
  std::map<std::string, ImageRecord> existing;  // by name

  bool cancelled() const { return options.cancel != nullptr && options.cancel->load(); }
  void progress(IndexProgress::Phase phase, size_t done, size_t total, double rate = 0) {
    if (!options.on_progress) return;
    IndexProgress p;
    p.phase = phase;
    p.done = done;
    p.total = total;
    p.per_second = rate;
    p.eta_seconds = rate > 0 ? double(total - done) / rate : 0;
    options.on_progress(p);
  }
};

// kFailedPrecondition when the existing catalog was made for another shard (or for the whole
// dataset when a shard is asked for, or the other way round) and holds images.
Status check_shard(Catalog& catalog, const ShardSpec& shard, const std::string& index_dir) {
  XRS_ASSIGN_OR_RETURN(CatalogInfo info, catalog.info());
  const auto it = info.settings.find(kSettingShard);
  const std::string have = it == info.settings.end() ? "" : it->second;
  const std::string want = shard.sharded() ? shard.to_string() : "";
  if (have == want) return Status::ok();
  XRS_ASSIGN_OR_RETURN(uint64_t count, catalog.count());
  if (count == 0) return Status::ok();
  auto name = [](const std::string& s) { return s.empty() ? "the whole dataset" : "shard " + s; };
  return Status::failed_precondition(
      "index " + index_dir + " holds " + name(have) + ", not " + name(want) +
      " (use another --index, or --rebuild to start it again for " + name(want) + ")");
}

Status open_catalog(Run& run, const ModelIdentity& identity) {
  StatusOr<std::unique_ptr<Catalog>> c = Catalog::open_or_create(run.options.index_dir, identity);
  if (c.is_ok()) {
    if (Status s = check_shard(**c, run.options.shard, run.options.index_dir); !s.is_ok()) {
      if (!run.options.rebuild) return s;
      c = StatusOr<std::unique_ptr<Catalog>>(s);
    }
  }
  if (!c.is_ok() && c.status().code() == StatusCode::kFailedPrecondition && run.options.rebuild) {
    XRS_RETURN_IF_ERROR(remove_index_files(run.options.index_dir));
    c = Catalog::open_or_create(run.options.index_dir, identity);
  }
  if (!c.is_ok()) {
    if (c.status().code() == StatusCode::kFailedPrecondition) {
      return c.status().with_context(
          "refusing to mix embeddings of two models (use --rebuild "
          "to re-embed everything with this model, or another --index)");
    }
    return c.status();
  }
  run.catalog = std::move(c).value();
  return Status::ok();
}

Status validate_and_hash(Run& run) {
  DatasetConfig config = run.options.dataset;
  config.decode_images = false;
  ValidationReport report = validate_dataset(run.options.data_dir, config);
  if (report.fatal()) {
    return Status::failed_precondition("the dataset cannot be indexed:\n" +
                                       render_report_text(report));
  }
  const ShardSpec& shard = run.options.shard;
  run.summary.dataset_images = report.entries.size();
  for (const Problem& p : report.problems) {
    // Another shard's images are that shard's to report.
    if (!p.image_name.empty() && !shard.contains(p.image_name)) continue;
    if (p.severity == Severity::kWarning) {
      run.summary.warnings.push_back(p);
    } else {
      run.summary.skipped.push_back({p.image_name, p.file, p.message});
    }
  }
  if (shard.sharded()) {
    std::erase_if(report.entries,
                  [&](const DatasetEntry& e) { return !shard.contains(e.image_name); });
  }
  const size_t n = report.entries.size();
  run.progress(IndexProgress::Phase::kHashing, 0, n);
  for (size_t i = 0; i < n; ++i) {
    // Hashing a large dataset takes a while: stop promptly, before the index is touched.
    if (run.cancelled()) return Status::cancelled("indexing interrupted; the index is unchanged");
    StatusOr<FileState> f = file_state(run.options.data_dir, report.entries[i]);
    if (!f.is_ok()) {
      run.summary.skipped.push_back(
          {report.entries[i].image_name, report.entries[i].relative_path, f.status().message()});
      continue;
    }
    run.files.push_back(std::move(f).value());
    if ((i + 1) % 64 == 0 || i + 1 == n) run.progress(IndexProgress::Phase::kHashing, i + 1, n);
  }
  return Status::ok();
}

// Records where the images and the model are, for the read side.
Status record_settings(Run& run) {
  std::error_code ec;
  const std::string data_dir = fs::absolute(run.options.data_dir, ec).lexically_normal().string();
  std::string model_path;
  if (!run.options.model_path.empty()) {
    model_path = fs::absolute(run.options.model_path, ec).lexically_normal().string();
  }
  XRS_ASSIGN_OR_RETURN(CatalogInfo info, run.catalog->info());
  auto same = [&](const char* key, const std::string& v) {
    auto it = info.settings.find(key);
    return v.empty() || (it != info.settings.end() && it->second == v);
  };
  const std::string shard = run.options.shard.sharded() ? run.options.shard.to_string() : "";
  const auto recorded_shard = info.settings.find(kSettingShard);
  const bool same_shard =
      recorded_shard == info.settings.end() ? shard.empty() : recorded_shard->second == shard;
  std::string vector_index;
  if (!run.options.vector_index.empty()) {
    XRS_ASSIGN_OR_RETURN(VectorIndexOptions parsed,
                         parse_vector_index_spec(run.options.vector_index));
    XRS_RETURN_IF_ERROR(check_vector_index_options(parsed, 0, info.model.dim));
    vector_index = vector_index_spec(parsed);
  }
  if (same(kSettingDataDir, data_dir) && same(kSettingModelPath, model_path) && same_shard &&
      same(kSettingVectorIndex, vector_index)) {
    return Status::ok();
  }
  XRS_ASSIGN_OR_RETURN(Transaction txn, run.catalog->begin());
  XRS_RETURN_IF_ERROR(txn.set_setting(kSettingDataDir, data_dir));
  // "" for an index of the whole dataset (check_shard allowed the change: it holds no image).
  if (!same_shard) XRS_RETURN_IF_ERROR(txn.set_setting(kSettingShard, shard));
  if (!model_path.empty()) XRS_RETURN_IF_ERROR(txn.set_setting(kSettingModelPath, model_path));
  if (!vector_index.empty()) {
    XRS_RETURN_IF_ERROR(txn.set_setting(kSettingVectorIndex, vector_index));
  }
  return txn.commit();
}

// Renames, metadata updates, removals and copies: everything that needs no model, in one
// transaction.
Status apply_bookkeeping(Run& run, const IndexPlan& plan) {
  if (plan.renames.empty() && plan.metadata_updates.empty() && plan.removals.empty() &&
      plan.copies.empty()) {
    return Status::ok();
  }
  XRS_ASSIGN_OR_RETURN(Transaction txn, run.catalog->begin());
  auto moved = [&](const std::string& old_name, const FileState& f) -> Status {
    const ImageRecord& old = run.existing.at(old_name);
    ImageRecord r = record_for(f);
    r.width = old.width;
    r.height = old.height;
    return txn.rename(old_name, r).status();
  };
  for (const auto& [old_name, i] : plan.renames) {
    XRS_RETURN_IF_ERROR(moved(old_name, run.files[i]));
    ++run.summary.renamed;
  }
  for (size_t i : plan.metadata_updates) {
    XRS_RETURN_IF_ERROR(moved(run.files[i].entry.image_name, run.files[i]));
    ++run.summary.metadata;
  }
  for (const std::string& name : plan.removals) {
    XRS_RETURN_IF_ERROR(txn.remove(name));
    ++run.summary.removed;
  }
  for (size_t i : plan.copies) {
    // Another row holds this content: reuse its embedding.
    const FileState& f = run.files[i];
    XRS_ASSIGN_OR_RETURN(std::vector<ImageRecord> same, run.catalog->find_by_sha256(f.sha256));
    if (same.empty()) return Status::internal("no row holds the content of " + f.entry.image_name);
    XRS_ASSIGN_OR_RETURN(std::optional<ImageRecord> source,
                         run.catalog->find_by_name(same.front().image_name, true));
    if (!source) return Status::internal("row " + same.front().image_name + " vanished");
    ImageRecord r = record_for(f);
    r.width = source->width;
    r.height = source->height;
    r.embedding = std::move(source->embedding);
    XRS_RETURN_IF_ERROR(txn.upsert(r).status());
    ++run.summary.added;
  }
  return txn.commit();
}

// Embeds one representative file per group and stores every file of the group, one catalog
// transaction per batch.
Status embed_groups(Run& run, const IndexPlan& plan) {
  const size_t groups = plan.embed_groups.size();
  if (groups == 0) return Status::ok();
  std::vector<std::string> paths;
  for (const auto& g : plan.embed_groups) {
    paths.push_back(
        (fs::path(run.options.data_dir) / run.files[g[0]].entry.relative_path).string());
  }
  const ClipHParams& h = run.model.hparams();
  const int batch = std::max(1, run.options.batch);
  PrepareQueue queue(std::move(paths), run.options.dataset.decode, run.model.preprocess_config(),
                     size_t(2) * batch);

  const auto t0 = std::chrono::steady_clock::now();
  size_t done = 0;
  run.progress(IndexProgress::Phase::kEmbedding, 0, groups);
  std::vector<PreparedImage> ready;
  std::vector<float> pixels, embeddings;
  while (done < groups) {
    if (run.cancelled())
      return Status::cancelled("indexing interrupted; finished batches are kept");
    ready.clear();
    while (ready.size() < size_t(batch) && done + ready.size() < groups) {
      std::optional<PreparedImage> p = queue.next();
      if (!p) break;
      ready.push_back(std::move(*p));
    }
    // Embed the usable images of this batch in one pass.
    pixels.clear();
    std::vector<size_t> usable;
    for (size_t i = 0; i < ready.size(); ++i) {
      if (!ready[i].status.is_ok()) continue;
      usable.push_back(i);
      pixels.insert(pixels.end(), ready[i].pixels.begin(), ready[i].pixels.end());
    }
    embeddings.assign(usable.size() * h.embed_dim, 0.0f);
    XRS_RETURN_IF_ERROR(
        run.model.encode_images(pixels, static_cast<int>(usable.size()), embeddings));
    l2_normalize_rows(embeddings.data(), static_cast<int>(usable.size()), h.embed_dim);

    XRS_ASSIGN_OR_RETURN(Transaction txn, run.catalog->begin());
    size_t u = 0;
    for (size_t i = 0; i < ready.size(); ++i) {
      const PreparedImage& p = ready[i];
      const std::vector<size_t>& group = plan.embed_groups[p.item];
      if (!p.status.is_ok()) {
        for (size_t f : group) {
          const FileState& file = run.files[f];
          run.summary.skipped.push_back(
              {file.entry.image_name, file.entry.relative_path, p.status.message()});
          // A changed file that no longer decodes must not keep its old embedding.
          if (run.existing.count(file.entry.image_name)) {
            XRS_RETURN_IF_ERROR(txn.remove(file.entry.image_name));
            ++run.summary.removed;
          }
        }
        continue;
      }
      const float* e = &embeddings[u++ * h.embed_dim];
      for (size_t f : group) {
        ImageRecord r = record_for(run.files[f]);
        r.sha256 = p.sha256;  // the bytes actually embedded (the file may have changed since)
        r.width = static_cast<uint32_t>(p.width);
        r.height = static_cast<uint32_t>(p.height);
        r.embedding.assign(e, e + h.embed_dim);
        XRS_RETURN_IF_ERROR(txn.upsert(r).status());
        if (run.existing.count(r.image_name)) {
          ++run.summary.updated;
        } else {
          ++run.summary.added;
        }
      }
    }
    XRS_RETURN_IF_ERROR(txn.commit());
    done += ready.size();
    run.summary.embedded += usable.size();
    const double elapsed = seconds_since(t0);
    run.progress(IndexProgress::Phase::kEmbedding, done, groups,
                 elapsed > 0 ? double(done) / elapsed : 0);
  }
  run.summary.embed_seconds = seconds_since(t0);
  return Status::ok();
}

}  // namespace

StatusOr<IndexSummary> run_index(const ClipModel& model, const IndexOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  XRS_ASSIGN_OR_RETURN(ModelIdentity identity, model.identity());
  Run run{model, options, {}, nullptr, {}, {}};
  run.summary.shard = options.shard;
  // Validate before touching the index: an unusable dataset changes nothing.
  XRS_RETURN_IF_ERROR(validate_and_hash(run));
  XRS_RETURN_IF_ERROR(open_catalog(run, identity));
  XRS_ASSIGN_OR_RETURN(std::vector<ImageRecord> rows, run.catalog->list());
  for (ImageRecord& r : rows) run.existing.emplace(r.image_name, r);
  const IndexPlan plan = plan_index(rows, run.files);
  run.summary.unchanged = plan.unchanged;
  XRS_RETURN_IF_ERROR(record_settings(run));
  XRS_RETURN_IF_ERROR(apply_bookkeeping(run, plan));
  XRS_RETURN_IF_ERROR(embed_groups(run, plan));
  XRS_ASSIGN_OR_RETURN(uint64_t total, run.catalog->count());
  run.summary.total = total;
  // An approximate vector index is derived from the catalog: build and save it now rather than
  // at the first query.
  XRS_ASSIGN_OR_RETURN(CatalogInfo info, run.catalog->info());
  if (choose_index_kind(total, recorded_vector_options(info)) != IndexKind::kExact) {
    XRS_RETURN_IF_ERROR(IndexReader::open(options.index_dir).status());
  }
  run.summary.seconds = seconds_since(t0);
  run.progress(IndexProgress::Phase::kDone, total, total);
  return run.summary;
}

}  // namespace xrs
