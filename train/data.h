// Training data: the dataset folder read with the dataset module's own validation, captions
// (dataset/captions.h), a held-out split, and images decoded and preprocessed by the imaging
// module, so that training sees pixels the way serving does. No LibTorch here.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/status.h"
#include "dataset/dataset.h"
#include "imaging/clip_preprocess.h"
#include "imaging/image.h"

namespace xrs::train {

struct DataOptions {
  std::string data_dir;
  DatasetConfig config;      // categories, extensions, captions
  std::string group_column;  // split by this metadata.csv column; "" = by image
  // Groups of image names kept on one side of the split (near-duplicates; names that are not in
  // the dataset are ignored).
  std::vector<std::vector<std::string>> linked;
  double held_out = 0.2;  // fraction of groups held out
  int image_size = 224;   // S
  ClipPreprocessConfig preprocess;
  int threads = 2;  // decoding
  // Every example gets eval_pixels (the serving preprocessing), training ones too, and no crop
  // source: --trainable projections caches the towers' outputs of these fixed pixels.
  bool eval_pixels_for_all = false;
};

struct Example {
  std::string image_name;
  std::string relative_path;
  std::string license;  // the "license" column, when there is one
  int category = 0;     // index into TrainData::categories
  std::vector<std::string> captions;
  bool held_out = false;
};

struct TrainData {
  std::vector<std::string> categories;
  std::vector<Example> examples;
  std::vector<int> train, held_out;  // indices into examples
  // Training examples: the decoded image resized (Pillow bicubic) to a shorter side of 2S, the
  // source of the random crops. Held-out examples (every example with eval_pixels_for_all):
  // clip_preprocess's exact tensor (3*S*S).
  std::vector<Image> cache;
  std::vector<std::vector<float>> eval_pixels;
  int rows = 0;  // metadata.csv rows
  // DataOptions::linked as it applied: groups with at least two of the dataset's images, and
  // their images.
  int linked_groups = 0, linked_images = 0;
  std::string linked_source;  // where the groups came from, for the model card ("": none)
};

// The split: an example is held out when FNV-1a(key) mod 10000 < held_out * 10000, key = the
// group column's value (else the image name). Stable across runs, seeds and row order. With
// DataOptions::linked, the images joined through equal column values and linked groups (a chain
// across both is one part; core/disjoint_sets.h) share one key, the smallest of their keys, so a
// part is held out or trained on whole; images that no group links keep their own key.
bool is_held_out(const std::string& key, double held_out);

// Loads, validates (errors: the dataset's fatal problems, a caption column that metadata.csv
// lacks, a category with no usable images, an empty held-out or training split), and decodes.
// `progress` (may be null) is called with (done, total) while decoding.
StatusOr<TrainData> load_train_data(const DataOptions& options,
                                    void (*progress)(int done, int total) = nullptr);

// open_clip's training transform through the engine's preprocessing: a random crop of scale
// 0.9-1.0 of the area and aspect ratio 3/4-4/3 (log-uniform; torchvision's RandomResizedCrop.
// get_params, 10 tries, then the centre), resized to S x S (Pillow bicubic), RGB, normalised.
// No flip. `out` holds 3*S*S floats.
void random_resized_crop(const Image& image, int size, const ClipPreprocessConfig& preprocess,
                         std::mt19937_64& rng, float* out);

}  // namespace xrs::train
