#include "capi/graph_rewrite.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>
#include <vector>

namespace deepkit {
namespace capi {
namespace {

// Field numbers of tensorflow.GraphDef, NodeDef, its attr map's entries and AttrValue.
constexpr uint32_t kGraphNode = 1;
constexpr uint32_t kNodeName = 1, kNodeOp = 2, kNodeDevice = 4, kNodeAttr = 5;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;
constexpr uint32_t kAttrValueType = 6, kAttrValueLastOneof = 10;  // oneof value: fields 1-10
constexpr uint64_t kDtDouble = 2;                                   // types.proto

enum WireType { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

// One field of a message as it lies in the bytes.
struct Field {
  uint32_t number = 0;
  int wire_type = 0;
  std::string_view bytes;    // the whole field, tag included: what a copy writes
  std::string_view payload;  // a length-delimited field's content
  uint64_t value = 0;        // a varint field's value
};

// Reads the fields of one message in order; false + *error on malformed bytes. Never reads
// past the message, whatever its lengths say.
class Reader {
 public:
  explicit Reader(std::string_view message) : data_(message) {}
  bool done() const { return pos_ == data_.size(); }

  bool next(Field* field, std::string* error) {
    const size_t start = pos_;
    uint64_t tag;
    if (!varint(&tag, error)) return false;
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return fail("bad field number", error);
    field->number = static_cast<uint32_t>(tag >> 3);
    field->wire_type = static_cast<int>(tag & 7);
    field->payload = {};
    field->value = 0;
    switch (field->wire_type) {
      case kVarint:
        if (!varint(&field->value, error)) return false;
        break;
      case kFixed64:
      case kFixed32: {
        const size_t width = field->wire_type == kFixed64 ? 8 : 4;
        if (data_.size() - pos_ < width) return fail("fixed-width field past the end", error);
        pos_ += width;
        break;
      }
      case kLength: {
        uint64_t length;
        if (!varint(&length, error)) return false;
        if (length > data_.size() - pos_) return fail("length past the end", error);
        field->payload = data_.substr(pos_, static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        break;
      }
      default:  // groups (3, 4) are proto2 only; 6 and 7 do not exist
        return fail("unsupported wire type " + std::to_string(field->wire_type), error);
    }
    field->bytes = data_.substr(start, pos_ - start);
    return true;
  }

 private:
  bool varint(uint64_t* value, std::string* error) {
    *value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ == data_.size()) return fail("varint past the end", error);
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return fail("varint longer than 10 bytes", error);
  }

  static bool fail(const std::string& what, std::string* error) {
    *error = what;
    return false;
  }

  std::string_view data_;
  size_t pos_ = 0;
};

void append_varint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void append_bytes_field(std::string* out, uint32_t number, std::string_view payload) {
  append_varint(out, (static_cast<uint64_t>(number) << 3) | kLength);
  append_varint(out, payload.size());
  out->append(payload.data(), payload.size());
}

// What a rewritten op becomes: TensorFlow's attr names -> the Dk op's, and the attrs that
// give TensorFlow's element types (deepkit.model.frozen._CPU_PRODUCTS).
struct Product {
  const char* tf_op;
  const char* dk_op;
  const char* transpose_a;
  const char* transpose_b;
  std::vector<std::string_view> type_attrs;
};

const std::vector<Product>& products() {
  static const std::vector<Product> table = {
      {"MatMul", "DkMatMul", "transpose_a", "transpose_b", {"T"}},
      {"BatchMatMul", "DkBatchMatMul", "adj_x", "adj_y", {"T"}},
      {"BatchMatMulV2", "DkBatchMatMul", "adj_x", "adj_y", {"T"}},
      {"BatchMatMulV3", "DkBatchMatMul", "adj_x", "adj_y", {"Ta", "Tb", "Tout"}},
  };
  return table;
}

bool is_gradient_hint(std::string_view key) {
  return key == "grad_a" || key == "grad_b" || key == "grad_x" || key == "grad_y";
}

// TensorFlow's internal attrs (_class: colocation), which any op may carry.
bool is_internal(std::string_view key) { return !key.empty() && key[0] == '_'; }

// One entry of a NodeDef's attr map.
struct Attr {
  std::string_view key;
  std::string_view value;  // the serialized AttrValue
};

bool read_attr(std::string_view entry, Attr* attr, std::string* error) {
  Reader reader(entry);
  *attr = Attr{};
  Field f;
  while (!reader.done()) {
    if (!reader.next(&f, error)) return false;
    if (f.wire_type != kLength) continue;
    if (f.number == kEntryKey) attr->key = f.payload;
    if (f.number == kEntryValue) attr->value = f.payload;
  }
  return true;
}

// *is_double: the AttrValue's value (the last field of its oneof, as protobuf reads it) is
// `type: DT_DOUBLE`. False + *error on malformed bytes.
bool read_double_type(std::string_view value, bool* is_double, std::string* error) {
  Reader reader(value);
  uint32_t last = 0;
  uint64_t type = 0;
  Field f;
  while (!reader.done()) {
    if (!reader.next(&f, error)) return false;
    if (f.number > kAttrValueLastOneof) continue;
    last = f.number;
    if (f.number == kAttrValueType && f.wire_type == kVarint) type = f.value;
  }
  *is_double = last == kAttrValueType && type == kDtDouble;
  return true;
}

// The parts of a NodeDef the rewrite decides on.
struct Node {
  std::string_view name, op, device;
  std::vector<Attr> attrs;
};

bool read_node(std::string_view message, Node* node, std::string* error) {
  Reader reader(message);
  Field f;
  while (!reader.done()) {
    if (!reader.next(&f, error)) return false;
    if (f.wire_type != kLength) continue;
    if (f.number == kNodeName) node->name = f.payload;
    if (f.number == kNodeOp) node->op = f.payload;
    if (f.number == kNodeDevice) node->device = f.payload;
    if (f.number == kNodeAttr) {
      node->attrs.emplace_back();
      if (!read_attr(f.payload, &node->attrs.back(), error)) return false;
    }
  }
  return true;
}

// *product: what the node turns into, nullptr where it stays as it is. False + *error on a
// malformed AttrValue.
bool choose_product(const Node& node, const Product** product, std::string* error) {
  *product = nullptr;
  const auto& table = products();
  const auto match = std::find_if(table.begin(), table.end(),
                                  [&](const Product& p) { return node.op == p.tf_op; });
  if (match == table.end() || !placed_on_cpu(std::string(node.device))) return true;
  size_t doubles = 0;
  for (const Attr& attr : node.attrs) {
    const auto& types = match->type_attrs;
    if (std::find(types.begin(), types.end(), attr.key) != types.end()) {
      bool is_double = false;
      if (!read_double_type(attr.value, &is_double, error)) return false;
      if (!is_double) return true;
      ++doubles;
    } else if (attr.key != match->transpose_a && attr.key != match->transpose_b &&
               !is_gradient_hint(attr.key) && !is_internal(attr.key)) {
      return true;  // an attr from a later TensorFlow: leave the node as it is
    }
  }
  if (doubles == match->type_attrs.size()) *product = &*match;
  return true;
}

// The NodeDef `message` as `product`: op renamed, attrs renamed or dropped, the rest copied.
// read_node has walked the same bytes, so no field is malformed here.
std::string rewrite_node(std::string_view message, const Product& product) {
  std::string out, unused;
  Reader reader(message);
  Field f;
  bool op_written = false;
  while (!reader.done() && reader.next(&f, &unused)) {
    if (f.number == kNodeOp && f.wire_type == kLength) {
      if (!op_written) append_bytes_field(&out, kNodeOp, product.dk_op);
      op_written = true;
      continue;
    }
    Attr attr;
    if (f.number != kNodeAttr || f.wire_type != kLength || !read_attr(f.payload, &attr, &unused)) {
      out.append(f.bytes.data(), f.bytes.size());
      continue;
    }
    const char* renamed = attr.key == product.transpose_a   ? "transpose_a"
                          : attr.key == product.transpose_b ? "transpose_b"
                                                            : nullptr;
    if (renamed == nullptr) {
      if (is_internal(attr.key)) out.append(f.bytes.data(), f.bytes.size());
      continue;  // element types and gradient hints: the Dk ops do not declare them
    }
    if (attr.key == renamed) {
      out.append(f.bytes.data(), f.bytes.size());
      continue;
    }
    std::string entry;  // the key renamed, every other field of the entry as it was
    append_bytes_field(&entry, kEntryKey, renamed);
    Reader fields(f.payload);
    Field e;
    while (!fields.done() && fields.next(&e, &unused)) {
      if (e.number == kEntryKey && e.wire_type == kLength) continue;
      entry.append(e.bytes.data(), e.bytes.size());
    }
    append_bytes_field(&out, kNodeAttr, entry);
  }
  return out;
}

// The messages that hold NodeDefs: a GraphDef's nodes and library, a library's functions
// (the bodies of while loops and other control flow v2), a function's nodes.
enum class Level { kGraph, kLibrary, kFunction };
constexpr uint32_t kGraphLibrary = 2, kLibraryFunction = 1, kFunctionNode = 3;

// `message` at `level` with its products rewritten, appended to *out.
bool rewrite_message(std::string_view message, Level level, std::string* out, int* rewritten,
                     std::string* error) {
  Reader reader(message);
  Field f;
  std::string problem;
  const uint32_t node_field = level == Level::kGraph ? kGraphNode : kFunctionNode;
  for (int nodes = 0; !reader.done();) {
    if (!reader.next(&f, &problem)) {
      *error = "malformed GraphDef after " + std::to_string(nodes) + " nodes: " + problem;
      return false;
    }
    const bool nested = f.wire_type == kLength &&
                        ((level == Level::kGraph && f.number == kGraphLibrary) ||
                         (level == Level::kLibrary && f.number == kLibraryFunction));
    if (nested) {
      std::string inner;
      const Level next = level == Level::kGraph ? Level::kLibrary : Level::kFunction;
      if (!rewrite_message(f.payload, next, &inner, rewritten, error)) return false;
      append_bytes_field(out, f.number, inner);
      continue;
    }
    Node node;
    const Product* product = nullptr;
    const bool is_node = level != Level::kLibrary && f.number == node_field;
    if (is_node && f.wire_type == kLength &&
        !(read_node(f.payload, &node, &problem) && choose_product(node, &product, &problem))) {
      const std::string name = node.name.empty() ? "" : " (" + std::string(node.name) + ")";
      *error = "malformed GraphDef: node " + std::to_string(nodes) + name + ": " + problem;
      return false;
    }
    nodes += is_node;
    if (product == nullptr) {
      out->append(f.bytes.data(), f.bytes.size());
      continue;
    }
    append_bytes_field(out, f.number, rewrite_node(f.payload, *product));
    ++*rewritten;
  }
  return true;
}

}  // namespace

bool placed_on_cpu(const std::string& device) {
  if (device.empty()) return true;
  std::string last = device.substr(device.rfind('/') + 1);  // npos + 1 == 0: the whole string
  for (char& c : last) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (last.compare(0, 7, "DEVICE:") == 0) last = last.substr(7);
  return last.substr(0, last.find(':')) == "CPU";
}

bool specialise_for_cpu(const std::string& graph_def, std::string* out, int* rewritten,
                        std::string* error) {
  out->clear();
  *rewritten = 0;
  return rewrite_message(graph_def, Level::kGraph, out, rewritten, error);
}

}  // namespace capi
}  // namespace deepkit
