#include "data.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include "core/disjoint_sets.h"
#include "core/strings.h"
#include "dataset/validate.h"
#include "imaging/decode.h"

namespace xrs::train {

bool is_held_out(const std::string& key, double held_out) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return double(h % 10000) < held_out * 10000.0;
}

namespace {

Image crop(const Image& image, int left, int top, int w, int h) {
  Image out;
  out.width = w, out.height = h, out.format = image.format;
  const int c = image.channels();
  out.pixels.resize(size_t(w) * h * c);
  for (int y = 0; y < h; ++y) {
    std::copy_n(image.row(top + y) + size_t(left) * c, size_t(w) * c, out.row(y));
  }
  return out;
}

}  // namespace

void random_resized_crop(const Image& image, int size, const ClipPreprocessConfig& preprocess,
                         std::mt19937_64& rng, float* out) {
  const int W = image.width, H = image.height;
  const double area = double(W) * H;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  int cw = W, ch = H, left = 0, top = 0;
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * (0.9 + 0.1 * u(rng));
    const double log_ratio =
        std::log(3.0 / 4.0) + (std::log(4.0 / 3.0) - std::log(3.0 / 4.0)) * u(rng);
    const double ratio = std::exp(log_ratio);
    const int w = int(std::lround(std::sqrt(target * ratio)));
    const int h = int(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= W && h <= H) {
      cw = w, ch = h;
      top = int(u(rng) * (H - h + 1));
      left = int(u(rng) * (W - w + 1));
      top = std::min(top, H - h), left = std::min(left, W - w);
      found = true;
    }
  }
  if (!found) {  // torchvision's fallback: the whole image clamped to the ratio range, centred
    const double r = double(W) / H;
    if (r < 3.0 / 4.0) {
      cw = W, ch = int(std::lround(W / (3.0 / 4.0)));
    } else if (r > 4.0 / 3.0) {
      ch = H, cw = int(std::lround(H * (4.0 / 3.0)));
    }
    ch = std::min(ch, H), cw = std::min(cw, W);
    top = (H - ch) / 2, left = (W - cw) / 2;
  }
  Image resized = resize_bicubic(crop(image, left, top, cw, ch), size, size);
  // S x S already: clip_resize_crop only converts to RGB.
  StatusOr<Image> rgb = clip_resize_crop(resized, size);
  clip_normalize(*rgb, preprocess, std::span<float>(out, size_t(3) * size * size));
}

StatusOr<TrainData> load_train_data(const DataOptions& o, void (*progress)(int, int)) {
  DatasetConfig config = o.config;
  config.decode_images = false;  // decoded below, once
  ValidationReport report = validate_dataset(o.data_dir, config);
  if (report.fatal()) {
    std::string why;
    for (const Problem& p : report.problems) {
      if (p.severity == Severity::kError && p.scope == ProblemScope::kDataset) {
        why = p.message;
        break;
      }
    }
    return Status::invalid_argument(o.data_dir + ": the dataset cannot be used: " + why);
  }
  auto has_column = [&](const std::string& c) {
    return std::find(report.columns.begin(), report.columns.end(), c) != report.columns.end();
  };
  const std::string& caption_column = config.captions.column;
  if (!caption_column.empty() && !has_column(caption_column)) {
    return Status::invalid_argument("captions.column: metadata.csv has no column " +
                                    quote_for_message(caption_column));
  }
  if (!o.group_column.empty() && !has_column(o.group_column)) {
    return Status::invalid_argument("--group-column: metadata.csv has no column " +
                                    quote_for_message(o.group_column));
  }
  TrainData data;
  data.rows = report.rows;
  data.categories = config.categories;
  std::vector<std::vector<std::string>> generated;
  for (const std::string& c : data.categories) {
    XRS_ASSIGN_OR_RETURN(std::vector<std::string> caps, generate_captions(c, config.captions));
    generated.push_back(std::move(caps));
  }
  std::vector<int> per_category(data.categories.size(), 0);
  std::vector<std::string> keys, column_values;  // per example
  for (const DatasetEntry& e : report.entries) {
    const auto it = std::find(data.categories.begin(), data.categories.end(), e.category);
    if (it == data.categories.end()) continue;  // validation already refused these
    Example ex;
    ex.image_name = e.image_name;
    ex.relative_path = e.relative_path;
    ex.category = int(it - data.categories.begin());
    if (auto l = e.extra.find("license"); l != e.extra.end()) ex.license = l->second;
    if (!caption_column.empty()) {
      const auto c = e.extra.find(caption_column);
      if (c != e.extra.end() && !c->second.empty()) ex.captions = {c->second};
    }
    if (ex.captions.empty()) ex.captions = generated[ex.category];
    std::string key = ex.image_name, value;
    if (!o.group_column.empty()) {
      const auto g = e.extra.find(o.group_column);
      if (g != e.extra.end() && !g->second.empty()) key = value = g->second;
    }
    keys.push_back(std::move(key));
    column_values.push_back(std::move(value));
    ++per_category[ex.category];
    data.examples.push_back(std::move(ex));
  }
  if (!o.linked.empty()) {
    std::map<std::string, size_t> row_of;
    for (size_t i = 0; i < data.examples.size(); ++i) row_of[data.examples[i].image_name] = i;
    std::vector<std::vector<size_t>> groups;
    for (const std::vector<std::string>& names : o.linked) {
      std::vector<size_t> rows;
      for (const std::string& name : names) {
        if (auto it = row_of.find(name); it != row_of.end()) rows.push_back(it->second);
      }
      if (rows.size() < 2) continue;
      ++data.linked_groups;
      data.linked_images += int(rows.size());
      groups.push_back(std::move(rows));
    }
    const std::vector<size_t> label = link_components(column_values, groups);
    std::map<size_t, std::string> part_key;  // component -> its smallest key
    for (size_t i = 0; i < keys.size(); ++i) {
      auto [it, inserted] = part_key.try_emplace(label[i], keys[i]);
      if (!inserted && keys[i] < it->second) it->second = keys[i];
    }
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = part_key[label[i]];
  }
  for (size_t i = 0; i < data.examples.size(); ++i) {
    Example& ex = data.examples[i];
    ex.held_out = is_held_out(keys[i], o.held_out);
    (ex.held_out ? data.held_out : data.train).push_back(int(i));
  }
  for (size_t c = 0; c < data.categories.size(); ++c) {
    if (per_category[c] == 0) {
      return Status::invalid_argument("category " + quote_for_message(data.categories[c]) +
                                      " has no usable images in " + o.data_dir +
                                      " (leave it out with --categories)");
    }
  }
  if (data.train.size() < 2 || data.held_out.empty()) {
    return Status::invalid_argument(
        "the split leaves " + std::to_string(data.train.size()) + " training and " +
        std::to_string(data.held_out.size()) +
        " held-out images: at least 2 and 1 are needed (more images, or another --held-out)");
  }

  const int n = int(data.examples.size());
  data.cache.resize(n);
  data.eval_pixels.resize(n);
  const int S = o.image_size;
  std::atomic<int> next{0}, done{0};
  std::vector<Status> errors(n);
  auto work = [&] {
    for (int i; (i = next++) < n;) {
      const Example& ex = data.examples[i];
      StatusOr<Image> img = decode_image_file(o.data_dir + "/" + ex.relative_path, config.decode);
      if (!img.is_ok()) {
        errors[i] = img.status();
      } else if (ex.held_out || o.eval_pixels_for_all) {
        data.eval_pixels[i].resize(size_t(3) * S * S);
        errors[i] = clip_preprocess(*img, o.preprocess, data.eval_pixels[i]);
      } else {
        const int shorter = std::min(img->width, img->height);
        const double scale = std::min(1.0, 2.0 * S / shorter);
        const int w = std::max(1, int(std::lround(img->width * scale)));
        const int h = std::max(1, int(std::lround(img->height * scale)));
        data.cache[i] = scale < 1.0 ? resize_bicubic(*img, w, h) : std::move(*img);
      }
      const int d = ++done;
      if (progress != nullptr) progress(d, n);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, o.threads); ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  for (int i = 0; i < n; ++i) {
    if (!errors[i].is_ok()) return errors[i];
  }
  return data;
}

}  // namespace xrs::train
