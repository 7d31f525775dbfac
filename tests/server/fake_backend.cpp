#include "fake_backend.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "imaging/decode.h"

namespace xrs::testing {
namespace {

namespace fs = std::filesystem;

// FNV-1a: a stable hash, so that results are the same on every run and machine.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

double hash01(std::string_view s) {
  return static_cast<double>(fnv1a(s) >> 11) / (1ull << 53);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string category_for(const fs::path& root, const fs::path& file, size_t index) {
  if (file.parent_path() != root) return file.parent_path().filename().string();
  const std::string name = file.filename().string();
  if (name.starts_with("cxr") || name.starts_with("chest")) return "chest";
  if (name.starts_with("dent")) return "dental";
  if (name.starts_with("hand")) return "hand";
  static const char* kCycle[] = {"chest", "dental", "hand"};
  return kCycle[index % 3];
}

}  // namespace

StatusOr<std::unique_ptr<FakeBackend>> FakeBackend::open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::not_found(dir + ": no such folder");
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    const std::string ext = lower(entry.path().extension().string());
    if (entry.is_regular_file() &&
        (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".dcm")) {
      files.push_back(entry.path());
    }
  }
  if (files.empty()) return Status::invalid_argument(dir + ": no images");
  std::sort(files.begin(), files.end());
  std::vector<IndexedImage> images;
  for (size_t i = 0; i < files.size(); ++i) {
    IndexedImage image;
    image.id = static_cast<int64_t>(i);
    image.image_name = files[i].filename().string();
    image.category = category_for(fs::path(dir), files[i], i);
    image.absolute_path = fs::absolute(files[i]).string();
    image.source_url = "https://example.org/xray/" + image.image_name;
    images.push_back(std::move(image));
  }
  return std::make_unique<FakeBackend>(std::move(images));
}

FakeBackend::FakeBackend(std::vector<IndexedImage> images) : images_(std::move(images)) {}

BackendInfo FakeBackend::info() const {
  BackendInfo info;
  info.images = images_.size();
  info.dim = kFakeDim;
  info.model = "fake-backend 0123456789ab";
  info.generation = 7;
  info.catalog_id = "0123456789abcdef0123456789abcdef";
  info.duplicate_min_score = duplicate_min_score_;
  std::set<std::string> categories;
  for (const auto& image : images_) categories.insert(image.category);
  info.categories.assign(categories.begin(), categories.end());
  return info;
}

void FakeBackend::fail_searches_with(Status status) {
  std::lock_guard lock(mutex_);
  failure_ = std::move(status);
}

SearchOptions FakeBackend::last_options() const {
  std::lock_guard lock(mutex_);
  return last_options_;
}

std::string FakeBackend::last_query() const {
  std::lock_guard lock(mutex_);
  return last_query_;
}

std::vector<QueryTerm> FakeBackend::last_terms() const {
  std::lock_guard lock(mutex_);
  return last_terms_;
}

Status FakeBackend::before_search(std::string_view query, const SearchOptions& options) const {
  ++searches_;
  if (int ms = delay_ms_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  if (throw_) throw std::runtime_error("fake backend exploded");
  std::lock_guard lock(mutex_);
  last_options_ = options;
  last_query_ = std::string(query);
  if (!failure_.is_ok()) return failure_;
  return validate_search_options(options);
}

StatusOr<SearchResponse> FakeBackend::rank(std::vector<std::pair<float, int64_t>> scored,
                                           const SearchOptions& options, float default_min) const {
  const auto start = std::chrono::steady_clock::now();
  SearchResponse response;
  response.min_score = options.min_score.value_or(default_min);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  // The qualifying ranking; collapsed, the best of each category with the count of the rest.
  std::vector<std::pair<float, int64_t>> ranking;
  std::vector<int> hidden;
  std::map<std::string, size_t> kept_of_category;
  for (const auto& [score, id] : scored) {
    const IndexedImage& image = images_[static_cast<size_t>(id)];
    if (options.category && image.category != *options.category) continue;
    if (score < response.min_score) continue;
    if (options.collapse_duplicates) {
      auto [it, first] = kept_of_category.try_emplace(image.category, ranking.size());
      if (!first) {
        ++hidden[it->second];
        continue;
      }
    }
    ranking.emplace_back(score, id);
    hidden.push_back(0);
  }
  for (size_t i = static_cast<size_t>(options.offset);
       i < ranking.size() && static_cast<int>(response.results.size()) < options.k; ++i) {
    const auto [score, id] = ranking[i];
    const IndexedImage& image = images_[static_cast<size_t>(id)];
    SearchHit hit;
    hit.rank = static_cast<int>(i) + 1;
    hit.id = id;
    hit.image_name = image.image_name;
    hit.category = image.category;
    hit.score = score;
    hit.path = "raw/" + image.category + "/" + image.image_name;
    hit.source_url = image.source_url;
    hit.duplicates_hidden = hidden[i];
    response.results.push_back(std::move(hit));
  }
  response.took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return response;
}

StatusOr<SearchResponse> FakeBackend::search_text(std::string_view query,
                                                  const SearchOptions& options) const {
  XRS_RETURN_IF_ERROR(before_search(query, options));
  const std::string q = lower(query);
  std::vector<std::pair<float, int64_t>> scored;
  for (const auto& image : images_) {
    const double h = hash01(q + "|" + image.image_name);
    const bool mentioned = q.find(image.category) != std::string::npos;
    scored.emplace_back(static_cast<float>((mentioned ? 0.55 : 0.10) + 0.25 * h), image.id);
  }
  return rank(std::move(scored), options, kDefaultTextMinScore);
}

StatusOr<SearchResponse> FakeBackend::search_image(std::span<const uint8_t> image_bytes,
                                                   const SearchOptions& options) const {
  XRS_RETURN_IF_ERROR(before_search({}, options));
  if (auto decoded = decode_image(image_bytes); !decoded.is_ok()) return decoded.status();
  const std::string seed(reinterpret_cast<const char*>(image_bytes.data()),
                         std::min<size_t>(image_bytes.size(), 4096));
  std::vector<std::pair<double, int64_t>> order;
  for (const auto& image : images_) order.emplace_back(hash01(seed + image.image_name), image.id);
  std::sort(order.begin(), order.end());
  std::vector<std::pair<float, int64_t>> scored;
  for (size_t i = 0; i < order.size(); ++i) {
    scored.emplace_back(0.99f - 0.01f * static_cast<float>(i), order[i].second);
  }
  return rank(std::move(scored), options, kDefaultImageMinScore);
}

StatusOr<SearchResponse> FakeBackend::search_by_id(int64_t id, const SearchOptions& options) const {
  XRS_RETURN_IF_ERROR(before_search({}, options));
  XRS_ASSIGN_OR_RETURN(IndexedImage self, image(id));
  std::vector<std::pair<double, int64_t>> order;
  for (const auto& image : images_) {
    if (image.id != id) order.emplace_back(hash01(self.image_name + image.image_name), image.id);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::pair<float, int64_t>> scored;
  for (size_t i = 0; i < order.size(); ++i) {
    scored.emplace_back(0.99f - 0.01f * static_cast<float>(i), order[i].second);
  }
  return rank(std::move(scored), options, kDefaultImageMinScore);
}

StatusOr<SearchResponse> FakeBackend::search_vector(std::span<const float> embedding,
                                                    const SearchOptions& options) const {
  XRS_RETURN_IF_ERROR(before_search({}, options));
  XRS_RETURN_IF_ERROR(validate_query_embedding(embedding, kFakeDim));
  std::vector<std::pair<float, int64_t>> scored;
  for (const auto& image : images_) {
    scored.emplace_back(embedding[static_cast<size_t>(image.id) % kFakeDim], image.id);
  }
  return rank(std::move(scored), options, kDefaultImageMinScore);
}

StatusOr<SearchResponse> FakeBackend::search_combined(std::span<const QueryTerm> terms,
                                                      const SearchOptions& options) const {
  std::string q;
  for (const QueryTerm& t : terms) q += t.text + " ";
  XRS_RETURN_IF_ERROR(before_search(q, options));
  {
    std::lock_guard lock(mutex_);
    last_terms_.assign(terms.begin(), terms.end());
  }
  XRS_RETURN_IF_ERROR(validate_query_terms(terms, kFakeDim));
  std::set<int64_t> used;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (terms[i].kind == QueryTerm::Kind::kImage) {  // decoded for real, as the service does
      const std::string& bytes = terms[i].image_bytes;
      auto decoded =
          decode_image(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      if (!decoded.is_ok()) {
        return decoded.status().with_context("term " + std::to_string(i + 1) +
                                             ": the query image cannot be used");
      }
    }
    if (terms[i].kind != QueryTerm::Kind::kId) continue;
    if (!image(terms[i].id).is_ok()) {
      return Status::not_found("term " + std::to_string(i + 1) + ": no indexed image has id " +
                               std::to_string(terms[i].id));
    }
    used.insert(terms[i].id);
  }
  const std::string lowered = lower(q);
  std::vector<std::pair<float, int64_t>> scored;
  for (const auto& image : images_) {
    if (used.count(image.id) != 0) continue;
    const double h = hash01(lowered + "|" + image.image_name);
    const bool mentioned = lowered.find(image.category) != std::string::npos;
    scored.emplace_back(static_cast<float>((mentioned ? 0.55 : 0.10) + 0.25 * h), image.id);
  }
  auto [min_score, rule] = combined_min_score(terms, options);
  SearchOptions o = options;
  o.min_score = min_score;
  XRS_ASSIGN_OR_RETURN(SearchResponse r, rank(std::move(scored), o, min_score));
  r.min_score_rule = rule;
  return r;
}

StatusOr<IndexedImage> FakeBackend::image(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= images_.size()) {
    return Status::not_found("no image with id " + std::to_string(id));
  }
  return images_[static_cast<size_t>(id)];
}

}  // namespace xrs::testing
