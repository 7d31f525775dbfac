// Fuzz target: the restricted unpickler (clip/checkpoint/pickle.h pickle::unpickle).
//
// Input: pickle bytes (a checkpoint's data.pkl). Each input is unpickled with the default limits
// and with tiny ones (so that every limit is reached). Checked: failures locate the opcode
// ("offset N (OPCODE): ..."); a document that unpickles has at most max_values values, a root,
// and a well-formed graph: no null children, tensors over storages with rank <= max_rank, as
// many strides as sizes, none negative; storages and globals as pickle.h describes them.
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>

#include "clip/checkpoint/pickle.h"
#include "fuzz_support.h"

namespace {

namespace pk = xrs::pickle;

// The graph may share values and hold cycles: each value is checked once.
void check_value(const pk::Value* value, const pk::Limits& limits, std::set<const pk::Value*>* seen,
                 int depth) {
  XRS_FUZZ_CHECK(value != nullptr, "null value in the graph");
  // Deeper graphs are legal; checking every value once needs no more than this.
  if (depth > 200 || !seen->insert(value).second) return;
  switch (value->kind) {
    case pk::Kind::kTuple:
    case pk::Kind::kList:
      for (const pk::Value* item : value->items) check_value(item, limits, seen, depth + 1);
      break;
    case pk::Kind::kDict:
      for (const auto& [key, item] : value->entries) {
        check_value(key, limits, seen, depth + 1);
        check_value(item, limits, seen, depth + 1);
      }
      break;
    case pk::Kind::kObject:
      XRS_FUZZ_CHECK(value->text.starts_with("__torch__."), value->text);
      if (value->state != nullptr) check_value(value->state, limits, seen, depth + 1);
      break;
    case pk::Kind::kString:
      XRS_FUZZ_CHECK(value->text.size() <= limits.max_string, "string over the limit");
      break;
    case pk::Kind::kStorage:
      XRS_FUZZ_CHECK(value->storage_numel >= 0, "negative storage size");
      break;
    case pk::Kind::kTensor:
      XRS_FUZZ_CHECK(value->storage != nullptr && value->storage->kind == pk::Kind::kStorage,
                     "tensor without a storage");
      XRS_FUZZ_CHECK(value->tensor_shape.size() == value->tensor_strides.size(), "rank");
      XRS_FUZZ_CHECK(value->tensor_shape.size() <= limits.max_rank, "rank over the limit");
      XRS_FUZZ_CHECK(value->tensor_offset >= 0, "negative offset");
      for (size_t d = 0; d < value->tensor_shape.size(); ++d) {
        XRS_FUZZ_CHECK(value->tensor_shape[d] >= 0 && value->tensor_strides[d] >= 0,
                       "negative size or stride");
      }
      check_value(value->storage, limits, seen, depth + 1);
      break;
    case pk::Kind::kNone:
    case pk::Kind::kBool:
    case pk::Kind::kInt:
    case pk::Kind::kFloat:
    case pk::Kind::kGlobal:
      break;
  }
}

void run(std::span<const std::byte> bytes, const pk::Limits& limits) {
  const xrs::StatusOr<pk::Document> doc = pk::unpickle(bytes, limits);
  xrs::fuzz::note(doc.is_ok() ? std::to_string(doc->value_count()) + " values"
                              : doc.status().to_string());
  if (!doc.is_ok()) {
    XRS_FUZZ_CHECK(doc.status().message().starts_with("offset "), doc.status().message());
    return;
  }
  XRS_FUZZ_CHECK(doc->value_count() <= limits.max_values, "more values than the limit");
  std::set<const pk::Value*> seen;
  check_value(&doc->root(), limits, &seen, 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  run(bytes, pk::Limits{});
  pk::Limits tiny;
  tiny.max_values = 64;
  tiny.max_stack = 32;
  tiny.max_marks = 4;
  tiny.max_memo = 16;
  tiny.max_string = 16;
  tiny.max_rank = 3;
  run(bytes, tiny);
  return 0;
}
