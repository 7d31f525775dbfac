// A restricted unpickler for PyTorch checkpoints: it turns the bytes of a `data.pkl` (Python
// pickle, protocols 2 to 5) into a graph of plain values without running anything.
//
// Python's unpickler imports and calls whatever a pickle names (`os system`, `builtins eval`):
// loading an untrusted checkpoint that way executes code. This one is a small virtual machine
// over the Value type below that knows a fixed allowlist of globals and refuses every other one
// with kUnsupported, naming it, the moment its GLOBAL / STACK_GLOBAL opcode is read:
//
//   collections.OrderedDict                      -> an empty kDict (REDUCE with no arguments)
//   torch._utils._rebuild_tensor_v2              -> a kTensor (storage, offset, size, stride, ...)
//   torch._utils._rebuild_parameter[_with_state] -> the tensor it wraps
//   torch.<X>Storage (Half, Float, BFloat16, Double, Long, Int, Short, Char, Byte, Bool)
//                                                -> storage types, used in persistent ids
//   torch.jit._pickle.build_{int,double,bool,tensor,generic}list, restore_type_tag
//                                                -> their first argument (TorchScript helpers)
//   __torch__.<module> <Class>                   -> TorchScript module classes: NEWOBJ makes a
//                                                   kObject whose BUILD state is kept as is
//
// A persistent id (BINPERSID) must be the tuple ('storage', torch.<X>Storage, key, location,
// numel) and becomes a kStorage; nothing is read from the storage here (see torchscript.cpp).
//
// Failures: kCorruption for malformed pickles (unknown opcode, truncated argument, stack
// underflow, missing MARK, memo index never stored, wrong argument types), kUnsupported for
// globals outside the allowlist and pickle features a checkpoint does not use (INST, EXT1, ...),
// kResourceExhausted when a limit below is exceeded. Every message starts with
// "offset N (OPCODE)" locating the opcode at fault.
//
// Thread-safety: unpickle() is a pure function; a Document is immutable and may be shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "clip/checkpoint/tensor_archive.h"
#include "core/status.h"

namespace xrs::pickle {

enum class Kind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,  // BINUNICODE and friends: UTF-8 bytes as written
  kTuple,
  kList,
  kDict,
  kGlobal,   // an allowlisted global (callable or storage type)
  kObject,   // an instance of a __torch__ class
  kStorage,  // a persistent storage reference
  kTensor,   // a rebuilt tensor (a view of a storage)
};

struct Value;

// Which allowlisted global a kGlobal is.
enum class Global {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,           // (tensor, requires_grad, backward_hooks)
  kRebuildParameterWithState,  // (tensor, requires_grad, backward_hooks, state)
  kStorageType,                // storage_dtype says which
  kJitIdentity,                // torch.jit._pickle helpers: value = first argument
  kTorchClass,                 // __torch__.*
};

struct Value {
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  // kString: the text; kGlobal and kObject: the qualified name "module.Name".
  std::string text;
  std::vector<const Value*> items;  // kTuple, kList
  // kDict: (key, value) in insertion order; a repeated key means the later pair wins.
  std::vector<std::pair<const Value*, const Value*>> entries;
  const Value* state = nullptr;          // kObject: the BUILD argument (nullptr before BUILD)
  Global global = Global::kOrderedDict;  // kGlobal
  // kStorage: storage_dtype, storage_key, storage_location, storage_numel (elements).
  // kGlobal with Global::kStorageType: storage_dtype.
  DType storage_dtype = DType::kF32;
  std::string storage_key;
  std::string storage_location;
  int64_t storage_numel = 0;
  // kTensor: a view of `storage` (a kStorage) at element offset tensor_offset with the given
  // sizes and strides (in elements); rank = tensor_shape.size() = tensor_strides.size().
  const Value* storage = nullptr;
  int64_t tensor_offset = 0;
  std::vector<int64_t> tensor_shape;
  std::vector<int64_t> tensor_strides;
};

// The unpickled graph. Values may be shared (memo) and may form cycles; all of them are owned
// here, so walkers must bound their depth.
class Document {
 public:
  const Value& root() const { return *root_; }
  size_t value_count() const { return arena_->size(); }

 private:
  friend class Machine;
  std::unique_ptr<std::deque<Value>> arena_ = std::make_unique<std::deque<Value>>();
  const Value* root_ = nullptr;
};

struct Limits {
  size_t max_values = size_t(1) << 20;  // values created (each costs about 300 bytes)
  size_t max_stack = size_t(1) << 20;   // stack entries
  size_t max_marks = 1024;              // open MARKs, i.e. nesting of tuples/lists/dicts
  size_t max_memo = size_t(1) << 22;    // memo entries
  size_t max_string = size_t(1) << 24;  // bytes in one string or GLOBAL line
  size_t max_rank = 64;                 // tensor dimensions
};

StatusOr<Document> unpickle(std::span<const std::byte> bytes, const Limits& limits = {});

}  // namespace xrs::pickle
