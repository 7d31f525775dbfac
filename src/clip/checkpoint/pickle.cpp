// The restricted unpickler. Opcode semantics follow CPython's Lib/pickle.py and the protocol
// notes in Lib/pickletools.py; only the subset a PyTorch checkpoint uses is implemented.
#include "clip/checkpoint/pickle.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace xrs::pickle {
namespace {

// Opcodes, named as in pickletools.
// clang-format off
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BININT = 'J', BININT1 = 'K',
  BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINUNICODE = 'X', EMPTY_LIST = ']',
  APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', APPENDS = 'e', BINGET = 'h',
  LONG_BINGET = 'j', LIST = 'l', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't',
  SETITEMS = 'u', EMPTY_DICT = '}', EMPTY_TUPLE = ')', BINFLOAT = 'G', PROTO = 0x80,
  NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89,
  LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94, FRAME = 0x95,
};

// Every opcode of protocols 0-5; those missing from Machine::step are refused as unsupported
// rather than unknown.
constexpr std::pair<uint8_t, const char*> kOpcodeNames[] = {
  {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
  {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"},
  {'N', "NONE"}, {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"},
  {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"},
  {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"},
  {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"}, {'j', "LONG_BINGET"},
  {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"}, {'q', "BINPUT"},
  {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
  {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"},
  {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"},
  {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"},
  {0x8a, "LONG1"}, {0x8b, "LONG4"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"},
  {0x8e, "BINBYTES8"}, {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"},
  {0x92, "NEWOBJ_EX"}, {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"},
  {0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

constexpr const char* kKindNames[] = {"None", "bool", "int", "float", "str", "tuple", "list",
                                      "dict", "global", "object", "storage", "tensor"};
// clang-format on

const char* opcode_name(uint8_t op) {
  for (const auto& [code, name] : kOpcodeNames) {
    if (code == op) return name;
  }
  return nullptr;
}

const char* kind_name(Kind kind) {
  return kKindNames[static_cast<int>(kind)];
}

struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"HalfStorage", DType::kF16},      {"FloatStorage", DType::kF32},
    {"BFloat16Storage", DType::kBF16}, {"DoubleStorage", DType::kF64},
    {"LongStorage", DType::kI64},      {"IntStorage", DType::kI32},
    {"ShortStorage", DType::kI16},     {"CharStorage", DType::kI8},
    {"ByteStorage", DType::kU8},       {"BoolStorage", DType::kBool}};

constexpr const char* kJitIdentityHelpers[] = {"build_intlist",     "build_doublelist",
                                               "build_boollist",    "build_tensorlist",
                                               "build_genericlist", "restore_type_tag"};

}  // namespace

class Machine {
 public:
  Machine(std::span<const std::byte> in, const Limits& limits, Document* doc)
      : in_(in), limits_(limits), doc_(doc) {}

  Status run() {
    while (doc_->root_ == nullptr) {
      if (pos_ >= in_.size()) {
        return Status::corruption("offset " + std::to_string(pos_) +
                                  ": pickle ends without a STOP opcode (truncated)");
      }
      op_pos_ = pos_;
      op_ = uint8_t(in_[pos_++]);
      XRS_RETURN_IF_ERROR(step());
    }
    return Status::ok();
  }

 private:
  Status fail(StatusCode code, const std::string& message) const {
    const char* name = opcode_name(op_);
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", op_);
    return {code,
            "offset " + std::to_string(op_pos_) + " (" + (name ? name : buf) + "): " + message};
  }
  Status corrupt(const std::string& message) const {
    return fail(StatusCode::kCorruption, message);
  }

  // The next n argument bytes, or an error when the pickle ends first.
  StatusOr<const std::byte*> take(uint64_t n) {
    if (n > in_.size() - pos_) {
      return corrupt("needs " + std::to_string(n) + " argument bytes, only " +
                     std::to_string(in_.size() - pos_) + " remain (truncated)");
    }
    const std::byte* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  StatusOr<uint64_t> take_le(int n) {
    XRS_ASSIGN_OR_RETURN(const std::byte* p, take(n));
    uint64_t v = 0;
    for (int i = n; i-- > 0;) v = v << 8 | uint8_t(p[i]);
    return v;
  }
  StatusOr<std::string> take_string(uint64_t n) {
    if (n > limits_.max_string) {
      return fail(StatusCode::kResourceExhausted, "string of " + std::to_string(n) +
                                                      " bytes exceeds the limit of " +
                                                      std::to_string(limits_.max_string));
    }
    XRS_ASSIGN_OR_RETURN(const std::byte* p, take(n));
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  StatusOr<std::string> take_line() {
    const size_t limit = std::min(in_.size() - pos_, limits_.max_string);
    const void* nl = std::memchr(in_.data() + pos_, '\n', limit);
    if (nl == nullptr) return corrupt("argument line has no end (truncated or too long)");
    const size_t n = static_cast<const std::byte*>(nl) - (in_.data() + pos_);
    std::string line(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n + 1;
    return line;
  }

  StatusOr<Value*> make(Kind kind) {
    if (doc_->arena_->size() >= limits_.max_values) {
      return fail(StatusCode::kResourceExhausted,
                  "more than " + std::to_string(limits_.max_values) + " values");
    }
    Value& v = doc_->arena_->emplace_back();
    v.kind = kind;
    return &v;
  }
  Status push(Value* v) {
    if (stack_.size() >= limits_.max_stack) {
      return fail(StatusCode::kResourceExhausted,
                  "stack deeper than " + std::to_string(limits_.max_stack));
    }
    stack_.push_back(v);
    return Status::ok();
  }
  Status push_new(Kind kind) {
    XRS_ASSIGN_OR_RETURN(Value * v, make(kind));
    return push(v);
  }
  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  StatusOr<Value*> top() {
    if (stack_.size() <= fence()) return corrupt("stack underflow");
    return stack_.back();
  }
  StatusOr<Value*> pop() {
    XRS_ASSIGN_OR_RETURN(Value * v, top());
    stack_.pop_back();
    return v;
  }
  StatusOr<std::vector<const Value*>> pop_mark() {
    if (marks_.empty()) return corrupt("no MARK to pop to");
    std::vector<const Value*> items(stack_.begin() + marks_.back(), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Status push_tuple(std::vector<const Value*> items) {
    XRS_ASSIGN_OR_RETURN(Value * t, make(Kind::kTuple));
    t->items = std::move(items);
    return push(t);
  }
  StatusOr<Value*> top_of_kind(Kind kind) {
    XRS_ASSIGN_OR_RETURN(Value * v, top());
    if (v->kind != kind) {
      return corrupt(std::string("expects a ") + kind_name(kind) + " on the stack, found a " +
                     kind_name(v->kind));
    }
    return v;
  }
  Status set_items(Value* dict, const std::vector<const Value*>& kv) {
    if (kv.size() % 2 != 0) return corrupt("odd number of items for a dict");
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
    return Status::ok();
  }
  Status memo_put(uint64_t index) {
    XRS_ASSIGN_OR_RETURN(Value * v, top());
    if (memo_.size() >= limits_.max_memo && !memo_.contains(index)) {
      return fail(StatusCode::kResourceExhausted,
                  "memo larger than " + std::to_string(limits_.max_memo) + " entries");
    }
    memo_[index] = v;
    return Status::ok();
  }
  Status memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return corrupt("memo index " + std::to_string(index) + " never stored");
    return push(it->second);
  }
  Status push_int(int64_t v) {
    XRS_ASSIGN_OR_RETURN(Value * x, make(Kind::kInt));
    x->integer = v;
    return push(x);
  }
  Status push_long(uint64_t n) {  // LONG1 / LONG4: n bytes of little-endian two's complement
    if (n > 8) return fail(StatusCode::kUnsupported, "integer wider than 64 bits");
    XRS_ASSIGN_OR_RETURN(uint64_t raw, take_le(int(n)));
    if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1) raw |= ~uint64_t(0) << (8 * n);
    return push_int(static_cast<int64_t>(raw));
  }
  Status push_string(uint64_t n) {
    XRS_ASSIGN_OR_RETURN(Value * s, make(Kind::kString));
    XRS_ASSIGN_OR_RETURN(s->text, take_string(n));
    return push(s);
  }

  Status global(const std::string& module, const std::string& name);
  Status reduce();
  Status rebuild_tensor(const std::vector<const Value*>& args);
  Status newobj();
  Status build();
  Status persistent_id();
  Status step();

  std::span<const std::byte> in_;
  const Limits& limits_;
  Document* doc_;
  size_t pos_ = 0;     // next byte to read
  size_t op_pos_ = 0;  // where the current opcode is
  uint8_t op_ = 0;
  // Every Value lives in the document's arena and was created non-const; the stack and memo
  // hold mutable pointers so that SETITEMS, APPENDS and BUILD can fill containers in place.
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
};

Status Machine::global(const std::string& module, const std::string& name) {
  XRS_ASSIGN_OR_RETURN(Value * g, make(Kind::kGlobal));
  g->text = module + "." + name;
  bool allowed = true;
  if (module == "collections" && name == "OrderedDict") {
    g->global = Global::kOrderedDict;
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    g->global = Global::kRebuildTensorV2;
  } else if (module == "torch._utils" && name == "_rebuild_parameter") {
    g->global = Global::kRebuildParameter;
  } else if (module == "torch._utils" && name == "_rebuild_parameter_with_state") {
    g->global = Global::kRebuildParameterWithState;
  } else if (module == "__torch__" || module.starts_with("__torch__.")) {
    g->global = Global::kTorchClass;
  } else {
    allowed = false;
    if (module == "torch") {
      for (const StorageType& t : kStorageTypes) {
        if (name == t.name) {
          g->global = Global::kStorageType;
          g->storage_dtype = t.dtype;
          allowed = true;
        }
      }
    } else if (module == "torch.jit._pickle") {
      for (const char* helper : kJitIdentityHelpers) {
        if (name == helper) {
          g->global = Global::kJitIdentity;
          allowed = true;
        }
      }
    }
  }
  if (!allowed) {
    return fail(StatusCode::kUnsupported,
                "global '" + g->text +
                    "' is not allowed (a checkpoint needs only tensors, storages, "
                    "OrderedDict and __torch__ classes; nothing in it is ever run)");
  }
  return push(g);
}

Status Machine::rebuild_tensor(const std::vector<const Value*>& args) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  //                    [, metadata])
  if (args.size() != 6 && args.size() != 7) {
    return corrupt("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(args.size()));
  }
  const Value* storage = args[0];
  const Value* offset = args[1];
  const Value* size = args[2];
  const Value* stride = args[3];
  if (storage->kind != Kind::kStorage || offset->kind != Kind::kInt || size->kind != Kind::kTuple ||
      stride->kind != Kind::kTuple) {
    return corrupt("_rebuild_tensor_v2 expects (storage, int, tuple, tuple, ...), got (" +
                   std::string(kind_name(storage->kind)) + ", " + kind_name(offset->kind) + ", " +
                   kind_name(size->kind) + ", " + kind_name(stride->kind) + ", ...)");
  }
  if (size->items.size() != stride->items.size() || size->items.size() > limits_.max_rank) {
    return corrupt("tensor has " + std::to_string(size->items.size()) + " sizes and " +
                   std::to_string(stride->items.size()) + " strides (at most " +
                   std::to_string(limits_.max_rank) + " dimensions, equal counts)");
  }
  XRS_ASSIGN_OR_RETURN(Value * t, make(Kind::kTensor));
  t->storage = storage;
  t->tensor_offset = offset->integer;
  for (size_t d = 0; d < size->items.size(); ++d) {
    const Value* n = size->items[d];
    const Value* s = stride->items[d];
    if (n->kind != Kind::kInt || s->kind != Kind::kInt || n->integer < 0 || s->integer < 0) {
      return corrupt("tensor size and stride must be non-negative integers (dimension " +
                     std::to_string(d) + ")");
    }
    t->tensor_shape.push_back(n->integer);
    t->tensor_strides.push_back(s->integer);
  }
  if (t->tensor_offset < 0) return corrupt("negative storage offset");
  return push(t);
}

Status Machine::reduce() {
  XRS_ASSIGN_OR_RETURN(Value * args, pop());
  XRS_ASSIGN_OR_RETURN(Value * fn, pop());
  if (fn->kind != Kind::kGlobal || args->kind != Kind::kTuple) {
    return corrupt(std::string("expects a callable and an argument tuple, got a ") +
                   kind_name(fn->kind) + " and a " + kind_name(args->kind));
  }
  const std::vector<const Value*>& a = args->items;
  switch (fn->global) {
    case Global::kOrderedDict:
      if (!a.empty()) return fail(StatusCode::kUnsupported, "OrderedDict with arguments");
      return push_new(Kind::kDict);
    case Global::kRebuildTensorV2:
      return rebuild_tensor(a);
    case Global::kRebuildParameter:
    case Global::kRebuildParameterWithState:
      if (a.size() != (fn->global == Global::kRebuildParameter ? 3u : 4u) ||
          a[0]->kind != Kind::kTensor) {
        return corrupt("'" + fn->text + "' expects a tensor and " +
                       (fn->global == Global::kRebuildParameter ? "2" : "3") + " more arguments");
      }
      return push(const_cast<Value*>(a[0]));  // arena values are mutable (see stack_)
    case Global::kJitIdentity:
      if (a.empty()) return corrupt("'" + fn->text + "' needs an argument");
      return push(const_cast<Value*>(a[0]));
    case Global::kStorageType:
    case Global::kTorchClass:
      break;
  }
  return fail(StatusCode::kUnsupported, "calling '" + fn->text + "' is not supported");
}

Status Machine::newobj() {
  XRS_ASSIGN_OR_RETURN(Value * args, pop());
  XRS_ASSIGN_OR_RETURN(Value * cls, pop());
  if (cls->kind != Kind::kGlobal || cls->global != Global::kTorchClass) {
    return fail(StatusCode::kUnsupported,
                "only __torch__ classes can be instantiated, not a " +
                    (cls->kind == Kind::kGlobal ? "'" + cls->text + "'" : kind_name(cls->kind)));
  }
  if (args->kind != Kind::kTuple || !args->items.empty()) {
    return corrupt("'" + cls->text + "' must be created without arguments");
  }
  XRS_ASSIGN_OR_RETURN(Value * obj, make(Kind::kObject));
  obj->text = cls->text;
  return push(obj);
}

Status Machine::build() {
  XRS_ASSIGN_OR_RETURN(Value * state, pop());
  XRS_ASSIGN_OR_RETURN(Value * obj, top());
  if (obj->kind == Kind::kObject) {
    obj->state = state;
    return Status::ok();
  }
  // An OrderedDict's own attributes (a state dict's `_metadata`) carry no tensors.
  if (obj->kind == Kind::kDict) return Status::ok();
  return corrupt(std::string("cannot set the state of a ") + kind_name(obj->kind));
}

Status Machine::persistent_id() {
  XRS_ASSIGN_OR_RETURN(Value * pid, pop());
  const auto& f = pid->items;
  if (pid->kind != Kind::kTuple || f.size() != 5 || f[0]->kind != Kind::kString ||
      f[0]->text != "storage" || f[1]->kind != Kind::kGlobal ||
      f[1]->global != Global::kStorageType || f[2]->kind != Kind::kString ||
      f[3]->kind != Kind::kString || f[4]->kind != Kind::kInt || f[4]->integer < 0) {
    return corrupt("persistent id must be ('storage', torch.<Type>Storage, key, location, numel)");
  }
  XRS_ASSIGN_OR_RETURN(Value * s, make(Kind::kStorage));
  s->storage_dtype = f[1]->storage_dtype;
  s->storage_key = f[2]->text;
  s->storage_location = f[3]->text;
  s->storage_numel = f[4]->integer;
  return push(s);
}

Status Machine::step() {
  switch (op_) {
    case PROTO: {
      XRS_ASSIGN_OR_RETURN(uint64_t version, take_le(1));
      if (version <= 5) return Status::ok();
      return fail(StatusCode::kUnsupported, "pickle protocol " + std::to_string(version));
    }
    case FRAME:
      return take(8).status();  // frame lengths are only a buffering hint
    case STOP: {
      XRS_ASSIGN_OR_RETURN(Value * root, pop());
      doc_->root_ = root;
      return Status::ok();
    }
    case MARK:
      if (marks_.size() >= limits_.max_marks) {
        return fail(StatusCode::kResourceExhausted,
                    "more than " + std::to_string(limits_.max_marks) + " nested MARKs");
      }
      marks_.push_back(stack_.size());
      return Status::ok();
    case POP:
      return pop().status();
    case POP_MARK:
      return pop_mark().status();
    case DUP: {
      XRS_ASSIGN_OR_RETURN(Value * v, top());
      return push(v);
    }
    case NONE:
      return push_new(Kind::kNone);
    case NEWTRUE:
    case NEWFALSE: {
      XRS_ASSIGN_OR_RETURN(Value * b, make(Kind::kBool));
      b->boolean = op_ == NEWTRUE;
      return push(b);
    }
    case BININT: {
      XRS_ASSIGN_OR_RETURN(uint64_t v, take_le(4));
      return push_int(static_cast<int32_t>(static_cast<uint32_t>(v)));
    }
    case BININT1:
    case BININT2: {
      XRS_ASSIGN_OR_RETURN(uint64_t v, take_le(op_ == BININT1 ? 1 : 2));
      return push_int(static_cast<int64_t>(v));
    }
    case LONG1:
    case LONG4: {
      XRS_ASSIGN_OR_RETURN(uint64_t n, take_le(op_ == LONG1 ? 1 : 4));
      return push_long(n);
    }
    case BINFLOAT: {
      XRS_ASSIGN_OR_RETURN(const std::byte* p, take(8));
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = bits << 8 | uint8_t(p[i]);  // big-endian
      XRS_ASSIGN_OR_RETURN(Value * f, make(Kind::kFloat));
      std::memcpy(&f->real, &bits, 8);
      return push(f);
    }
    case SHORT_BINUNICODE:
    case BINUNICODE:
    case BINUNICODE8: {
      const int width = op_ == SHORT_BINUNICODE ? 1 : op_ == BINUNICODE ? 4 : 8;
      XRS_ASSIGN_OR_RETURN(uint64_t n, take_le(width));
      return push_string(n);
    }
    case EMPTY_TUPLE:
      return push_new(Kind::kTuple);
    case EMPTY_LIST:
      return push_new(Kind::kList);
    case EMPTY_DICT:
      return push_new(Kind::kDict);
    case TUPLE: {
      XRS_ASSIGN_OR_RETURN(auto items, pop_mark());
      return push_tuple(std::move(items));
    }
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      std::vector<const Value*> items(op_ - TUPLE1 + 1);
      for (size_t i = items.size(); i-- > 0;) {
        XRS_ASSIGN_OR_RETURN(items[i], pop());
      }
      return push_tuple(std::move(items));
    }
    case LIST:
    case DICT: {
      XRS_ASSIGN_OR_RETURN(auto items, pop_mark());
      XRS_ASSIGN_OR_RETURN(Value * c, make(op_ == LIST ? Kind::kList : Kind::kDict));
      if (op_ == LIST) {
        c->items = std::move(items);
      } else {
        XRS_RETURN_IF_ERROR(set_items(c, items));
      }
      return push(c);
    }
    case APPEND: {
      XRS_ASSIGN_OR_RETURN(Value * v, pop());
      XRS_ASSIGN_OR_RETURN(Value * list, top_of_kind(Kind::kList));
      list->items.push_back(v);
      return Status::ok();
    }
    case APPENDS: {
      XRS_ASSIGN_OR_RETURN(auto items, pop_mark());
      XRS_ASSIGN_OR_RETURN(Value * list, top_of_kind(Kind::kList));
      list->items.insert(list->items.end(), items.begin(), items.end());
      return Status::ok();
    }
    case SETITEM: {
      XRS_ASSIGN_OR_RETURN(Value * v, pop());
      XRS_ASSIGN_OR_RETURN(Value * k, pop());
      XRS_ASSIGN_OR_RETURN(Value * dict, top_of_kind(Kind::kDict));
      dict->entries.emplace_back(k, v);
      return Status::ok();
    }
    case SETITEMS: {
      XRS_ASSIGN_OR_RETURN(auto items, pop_mark());
      XRS_ASSIGN_OR_RETURN(Value * dict, top_of_kind(Kind::kDict));
      return set_items(dict, items);
    }
    case BINPUT:
    case LONG_BINPUT: {
      XRS_ASSIGN_OR_RETURN(uint64_t index, take_le(op_ == BINPUT ? 1 : 4));
      return memo_put(index);
    }
    case MEMOIZE:
      return memo_put(memo_.size());
    case BINGET:
    case LONG_BINGET: {
      XRS_ASSIGN_OR_RETURN(uint64_t index, take_le(op_ == BINGET ? 1 : 4));
      return memo_get(index);
    }
    case GLOBAL: {
      XRS_ASSIGN_OR_RETURN(std::string module, take_line());
      XRS_ASSIGN_OR_RETURN(std::string name, take_line());
      return global(module, name);
    }
    case STACK_GLOBAL: {
      XRS_ASSIGN_OR_RETURN(Value * name, pop());
      XRS_ASSIGN_OR_RETURN(Value * module, pop());
      if (name->kind != Kind::kString || module->kind != Kind::kString) {
        return corrupt("expects two strings (module, name)");
      }
      return global(module->text, name->text);
    }
    case REDUCE:
      return reduce();
    case NEWOBJ:
      return newobj();
    case BUILD:
      return build();
    case BINPERSID:
      return persistent_id();
    default:
      break;
  }
  if (opcode_name(op_) != nullptr) {
    return fail(StatusCode::kUnsupported, "this pickle opcode is not used by checkpoints");
  }
  return corrupt("unknown opcode (not a pickle, or damaged)");
}

StatusOr<Document> unpickle(std::span<const std::byte> bytes, const Limits& limits) {
  Document doc;
  Machine machine(bytes, limits, &doc);
  XRS_RETURN_IF_ERROR(machine.run());
  return doc;
}

}  // namespace xrs::pickle
