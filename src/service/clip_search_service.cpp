#include "service/clip_search_service.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "clip/model_settings.h"
#include "clip/ops.h"
#include "core/log.h"
#include "core/sha256.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"
#include "service/collapse.h"

namespace xrs {

namespace fs = std::filesystem;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string setting(const CatalogInfo& info, const std::string& key) {
  auto it = info.settings.find(key);
  return it == info.settings.end() ? std::string() : it->second;
}

}  // namespace

SearchHit to_hit(const SearchResult& r) {
  SearchHit h;
  h.rank = static_cast<int>(r.rank);
  h.id = r.id;
  h.image_name = r.image->image_name;
  h.category = r.image->category;
  h.score = r.score;
  h.path = r.image->relative_path;
  h.source_url = r.image->source_url;
  return h;
}

kernels::Precision recorded_precision(const ModelIdentity& identity) {
  const std::string& p = identity.preprocessing;
  const std::string key = " precision=";
  const size_t at = p.rfind(key);
  if (at == std::string::npos) return kernels::Precision::kFp32;
  StatusOr<kernels::Precision> parsed = kernels::parse_precision(p.substr(at + key.size()));
  return parsed.is_ok() ? *parsed : kernels::Precision::kFp32;
}

StatusOr<std::unique_ptr<SearchService>> SearchService::open(const SearchServiceOptions& options) {
  auto s = std::unique_ptr<SearchService>(new SearchService());
  s->index_dir_ = options.index_dir;
  s->read_only_ = options.read_only;
  XRS_ASSIGN_OR_RETURN(std::shared_ptr<const IndexReader> index,
                       IndexReader::open(options.index_dir, s->reader_options()));
  const CatalogInfo& info = index->catalog_info();
  std::string model_path = options.model_path;
  if (model_path.empty()) model_path = setting(info, kSettingModelPath);
  if (model_path.empty()) {
    return Status::failed_precondition(options.index_dir +
                                       ": the index does not record its model; pass --model");
  }
  ClipLoadOptions load;
  load.precision = options.precision.value_or(recorded_precision(info.model));
  StatusOr<std::unique_ptr<ClipModel>> model = ClipModel::load(model_path, load);
  if (!model.is_ok()) {
    return model.status().with_context("loading the model of index " + options.index_dir);
  }
  s->model_ = std::move(model).value();
  XRS_ASSIGN_OR_RETURN(ModelIdentity identity, s->model_->identity());
  XRS_RETURN_IF_ERROR(index->check_model(identity).with_context(options.index_dir));
  s->identity_ = identity;
  s->data_dir_ = options.data_dir.empty() ? setting(info, kSettingDataDir) : options.data_dir;
  s->model_label_ = identity.name + " " + identity.weights_sha256.substr(0, 12);
  // The model folder's search settings (xray-search-model.json): its default thresholds.
  XRS_ASSIGN_OR_RETURN(const ModelSettings settings, load_model_settings(model_path));
  s->text_min_score_ = settings.text_min_score.value_or(kDefaultTextMinScore);
  s->image_min_score_ = settings.image_min_score.value_or(kDefaultImageMinScore);
  s->duplicate_min_score_ = settings.duplicate_min_score.value_or(kDefaultDuplicateMinScore);
  XRS_ASSIGN_OR_RETURN(s->ensemble_, PromptEnsemble::create(*s->model_, settings.prompt_templates));
  s->decode_ = options.decode;
  if (options.image_batching.max_batch_size > 1) {
    const ClipHParams& hp = s->model_->hparams();
    XRS_ASSIGN_OR_RETURN(
        s->batcher_, ImageBatcher::create(ImageBatcher::model_encoder(*s->model_),
                                          size_t(3) * size_t(hp.image_size) * size_t(hp.image_size),
                                          size_t(hp.embed_dim), options.image_batching));
  }
  s->current_ = make_loaded(std::move(index));
  return s;
}

IndexReaderOptions SearchService::reader_options() const {
  IndexReaderOptions o;
  o.write_vectors_file = !read_only_;
  return o;
}

std::shared_ptr<const SearchService::Loaded> SearchService::make_loaded(
    std::shared_ptr<const IndexReader> index) {
  auto loaded = std::make_shared<Loaded>();
  for (const ImageRecord& r : index->images()) loaded->id_by_sha256.emplace(r.sha256, r.id);
  loaded->index = std::move(index);
  return loaded;
}

std::shared_ptr<const SearchService::Loaded> SearchService::current() const {
  std::lock_guard<std::mutex> lock(current_mutex_);
  return current_;
}

StatusOr<bool> SearchService::reload_if_changed() {
  std::lock_guard<std::mutex> one_at_a_time(reload_mutex_);
  const std::shared_ptr<const Loaded> before = current();
  const CatalogInfo& served = before->index->catalog_info();
  {
    // One read transaction of the meta table: a writer's commit is either wholly in it or not.
    XRS_ASSIGN_OR_RETURN(auto catalog, Catalog::open(index_dir_, Catalog::Mode::kReadOnly));
    XRS_ASSIGN_OR_RETURN(CatalogInfo now, catalog->info());
    if (now.generation == served.generation && now.catalog_id == served.catalog_id) return false;
  }
  // The new reader reads one committed snapshot (possibly newer still than `now`).
  XRS_ASSIGN_OR_RETURN(std::shared_ptr<const IndexReader> index,
                       IndexReader::open(index_dir_, reader_options()));
  XRS_RETURN_IF_ERROR(
      index->check_model(identity_).with_context(index_dir_ + ": not switching to generation " +
                                                 std::to_string(index->catalog_info().generation)));
  std::shared_ptr<const Loaded> loaded = make_loaded(std::move(index));
  {
    std::lock_guard<std::mutex> lock(current_mutex_);
    current_.swap(loaded);
  }
  ++reloads_;
  // `loaded` now holds the old generation: it is freed here, or by the last query still on it.
  return true;
}

BackendInfo SearchService::info() const {
  const std::shared_ptr<const Loaded> loaded = current();
  const IndexReader& index = *loaded->index;
  BackendInfo b;
  b.images = index.size();
  b.dim = index.model().dim;
  b.model = model_label_;
  b.text_min_score = text_min_score_;
  b.image_min_score = image_min_score_;
  b.duplicate_min_score = duplicate_min_score_;
  b.categories = index.categories();
  b.generation = index.catalog_info().generation;
  b.catalog_id = index.catalog_info().catalog_id;
  b.read_only = read_only_;
  b.reloads = reloads_.load();
  b.prompt_templates = ensemble_->templates();
  if (batcher_ != nullptr) {
    const ImageBatcherStats stats = batcher_->stats();
    b.image_batching.enabled = true;
    b.image_batching.max_batch_size = batcher_->options().max_batch_size;
    b.image_batching.max_delay_ms =
        std::chrono::duration<double, std::milli>(batcher_->options().max_delay).count();
    b.image_batching.batches = stats.batches;
    b.image_batching.queries = stats.queries;
    b.image_batching.largest = stats.largest;
  }
  return b;
}

StatusOr<SearchResponse> SearchService::search_embedding(std::span<const float> embedding,
                                                         float min_score,
                                                         const SearchOptions& options,
                                                         std::optional<int64_t> exclude_id) const {
  std::vector<int64_t> ids;
  if (exclude_id) ids.push_back(*exclude_id);
  return search_embedding(embedding, min_score, options, std::move(ids));
}

StatusOr<SearchResponse> SearchService::search_embedding(std::span<const float> embedding,
                                                         float min_score,
                                                         const SearchOptions& options,
                                                         std::vector<int64_t> exclude_ids) const {
  return search_in(*current(), embedding, min_score, options, std::move(exclude_ids));
}

StatusOr<SearchResponse> SearchService::search_in(const Loaded& loaded,
                                                  std::span<const float> embedding, float min_score,
                                                  const SearchOptions& options,
                                                  std::vector<int64_t> exclude_ids) const {
  SearchRequest request;
  request.k = static_cast<size_t>(options.k);
  request.offset = static_cast<size_t>(options.offset);
  request.min_score = options.min_score.value_or(min_score);
  request.category = options.category;
  request.exclude_ids = std::move(exclude_ids);
  SearchResponse response;
  response.min_score = request.min_score;
  if (options.collapse_duplicates) {
    XRS_ASSIGN_OR_RETURN(response.results,
                         collapsed_search(*loaded.index, embedding, request, request.k,
                                          request.offset, *options.collapse_duplicates));
    return response;
  }
  XRS_ASSIGN_OR_RETURN(std::vector<SearchResult> found, loaded.index->search(embedding, request));
  response.results.reserve(found.size());
  for (const SearchResult& r : found) response.results.push_back(to_hit(r));
  return response;
}

StatusOr<SearchResponse> SearchService::search_text(std::string_view query,
                                                    const SearchOptions& options) const {
  const auto t0 = std::chrono::steady_clock::now();
  XRS_RETURN_IF_ERROR(validate_search_options(options));
  if (query.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::invalid_argument("the text query is empty");
  }
  XRS_ASSIGN_OR_RETURN(std::vector<float> e, embed_query_text(query, options));
  XRS_ASSIGN_OR_RETURN(SearchResponse r, search_in(*current(), e, text_min_score_, options, {}));
  r.prompt_templates = options.raw_text ? 0 : static_cast<int>(ensemble_->templates().size());
  r.took_ms = ms_since(t0);
  return r;
}

StatusOr<std::vector<float>> SearchService::embed_query_text(std::string_view text,
                                                             const SearchOptions& options) const {
  if (options.raw_text) return model_->embed_text(text);
  return ensemble_->embed(text);
}

StatusOr<std::vector<float>> SearchService::embed_query_image(
    std::span<const uint8_t> image_bytes) const {
  StatusOr<Image> image = decode_image(image_bytes, decode_);
  if (!image.is_ok()) {
    return Status(image.status().code() == StatusCode::kResourceExhausted
                      ? StatusCode::kResourceExhausted
                      : StatusCode::kInvalidArgument,
                  "the query image cannot be used: " + image.status().message());
  }
  if (batcher_ == nullptr) return model_->embed_image(*image);
  // Preprocessing stays in this thread; only the forward pass joins a batch.
  const int S = model_->hparams().image_size;
  std::vector<float> pixels(size_t(3) * S * S);
  XRS_RETURN_IF_ERROR(clip_preprocess(*image, model_->preprocess_config(), pixels));
  return batcher_->embed(std::move(pixels));
}

StatusOr<SearchResponse> SearchService::search_image(std::span<const uint8_t> image_bytes,
                                                     const SearchOptions& options) const {
  const auto t0 = std::chrono::steady_clock::now();
  XRS_RETURN_IF_ERROR(validate_search_options(options));
  if (image_bytes.empty()) return Status::invalid_argument("the query image is empty");
  XRS_ASSIGN_OR_RETURN(std::vector<float> e, embed_query_image(image_bytes));
  const std::shared_ptr<const Loaded> loaded = current();
  std::vector<int64_t> self;
  if (options.exclude_self) {
    auto it = loaded->id_by_sha256.find(
        sha256_hex({reinterpret_cast<const char*>(image_bytes.data()), image_bytes.size()}));
    if (it != loaded->id_by_sha256.end()) self.push_back(it->second);
  }
  XRS_ASSIGN_OR_RETURN(SearchResponse r,
                       search_in(*loaded, e, image_min_score_, options, std::move(self)));
  r.took_ms = ms_since(t0);
  return r;
}

StatusOr<SearchResponse> SearchService::search_by_id(int64_t id,
                                                     const SearchOptions& options) const {
  const auto t0 = std::chrono::steady_clock::now();
  XRS_RETURN_IF_ERROR(validate_search_options(options));
  const std::shared_ptr<const Loaded> loaded = current();
  if (loaded->index->find(id) == nullptr) {
    return Status::not_found("no indexed image has id " + std::to_string(id));
  }
  XRS_ASSIGN_OR_RETURN(std::vector<float> e, loaded->index->embedding(id));
  std::vector<int64_t> self;
  if (options.exclude_self) self.push_back(id);
  XRS_ASSIGN_OR_RETURN(SearchResponse r,
                       search_in(*loaded, e, image_min_score_, options, std::move(self)));
  r.took_ms = ms_since(t0);
  return r;
}

StatusOr<SearchResponse> SearchService::search_vector(std::span<const float> embedding,
                                                      const SearchOptions& options) const {
  const auto t0 = std::chrono::steady_clock::now();
  XRS_RETURN_IF_ERROR(validate_search_options(options));
  const std::shared_ptr<const Loaded> loaded = current();
  XRS_RETURN_IF_ERROR(validate_query_embedding(embedding, loaded->index->model().dim));
  XRS_ASSIGN_OR_RETURN(SearchResponse r,
                       search_in(*loaded, embedding, image_min_score_, options, {}));
  r.took_ms = ms_since(t0);
  return r;
}

StatusOr<SearchResponse> SearchService::search_combined(std::span<const QueryTerm> terms,
                                                        const SearchOptions& options) const {
  const auto t0 = std::chrono::steady_clock::now();
  XRS_RETURN_IF_ERROR(validate_search_options(options));
  const std::shared_ptr<const Loaded> loaded = current();
  const IndexReader& index = *loaded->index;
  const size_t dim = index.model().dim;
  XRS_RETURN_IF_ERROR(validate_query_terms(terms, dim));
  std::vector<double> sum(dim, 0.0);
  std::vector<int64_t> exclude;
  bool has_text = false;
  for (size_t i = 0; i < terms.size(); ++i) {
    const QueryTerm& t = terms[i];
    const std::string name = "term " + std::to_string(i + 1);
    std::vector<float> e;
    switch (t.kind) {
      case QueryTerm::Kind::kText: {
        auto r = embed_query_text(t.text, options);
        has_text = true;
        if (!r.is_ok()) return r.status().with_context(name);
        e = std::move(r).value();
        break;
      }
      case QueryTerm::Kind::kImage: {
        const auto bytes =
            std::span(reinterpret_cast<const uint8_t*>(t.image_bytes.data()), t.image_bytes.size());
        auto r = embed_query_image(bytes);
        if (!r.is_ok()) return r.status().with_context(name);
        e = std::move(r).value();
        if (options.exclude_self) {
          auto it = loaded->id_by_sha256.find(sha256_hex(t.image_bytes));
          if (it != loaded->id_by_sha256.end()) exclude.push_back(it->second);
        }
        break;
      }
      case QueryTerm::Kind::kId: {
        if (index.find(t.id) == nullptr) {
          return Status::not_found(name + ": no indexed image has id " + std::to_string(t.id));
        }
        XRS_ASSIGN_OR_RETURN(e, index.embedding(t.id));
        exclude.push_back(t.id);
        break;
      }
      case QueryTerm::Kind::kEmbedding:
        e = t.embedding;
        break;
    }
    if (e.size() != dim) {
      return Status::internal(name + ": the embedding has the wrong dimension");
    }
    double n = 0;
    for (float v : e) n += double(v) * v;
    n = std::sqrt(n);
    for (size_t j = 0; j < dim; ++j) sum[j] += double(t.weight) * e[j] / n;
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  if (!(norm > 1e-6)) {
    return Status::invalid_argument(
        "the weighted terms cancel out (their sum is the zero vector): nothing to search for");
  }
  std::vector<float> query(dim);
  for (size_t j = 0; j < dim; ++j) query[j] = static_cast<float>(sum[j] / norm);
  auto [min_score, rule] = combined_min_score(terms, options, text_min_score_, image_min_score_);
  SearchOptions o = options;
  o.min_score = min_score;
  XRS_ASSIGN_OR_RETURN(SearchResponse r,
                       search_in(*loaded, query, min_score, o, std::move(exclude)));
  r.min_score_rule = rule;
  if (has_text && !options.raw_text) {
    r.prompt_templates = static_cast<int>(ensemble_->templates().size());
  }
  r.took_ms = ms_since(t0);
  return r;
}

StatusOr<IndexedImage> SearchService::image(int64_t id) const {
  const std::shared_ptr<const Loaded> loaded = current();
  const ImageRecord* r = loaded->index->find(id);
  if (r == nullptr) return Status::not_found("no indexed image has id " + std::to_string(id));
  if (data_dir_.empty()) {
    return Status::failed_precondition("the index does not record where its images are");
  }
  IndexedImage out;
  out.id = r->id;
  out.image_name = r->image_name;
  out.category = r->category;
  out.absolute_path = (fs::path(data_dir_) / r->relative_path).string();
  out.source_url = r->source_url;
  out.width = static_cast<int>(r->width);
  out.height = static_cast<int>(r->height);
  return out;
}

IndexWatcher::IndexWatcher(SearchService& service, std::chrono::milliseconds interval)
    : service_(service), interval_(interval), thread_([this] { run(); }) {}

IndexWatcher::~IndexWatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void IndexWatcher::run() {
  std::string last_error;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    StatusOr<bool> switched = service_.reload_if_changed();
    if (!switched.is_ok()) {
      // Logged once per distinct problem (the check repeats every interval).
      if (switched.status().message() != last_error) {
        last_error = switched.status().message();
        log_warning("still serving generation " + std::to_string(service_.info().generation) +
                    ": " + last_error);
      }
    } else if (*switched) {
      last_error.clear();
      const BackendInfo info = service_.info();
      log_info("now serving index generation " + std::to_string(info.generation) + " (" +
               std::to_string(info.images) + " images)");
    }
    lock.lock();
  }
}

}  // namespace xrs
