// JsonTree: one JSON document parsed into a flat array of nodes that keeps
// every number's exact spelling (a DOM would turn `1.50`, `1e+100` and
// `12345678901234567890` into doubles). `pgcdc verify` reads sink events
// with it and compares values by their decimal text (see canonical.h).
//
// The tokenizer is Boost.JSON's basic_parser (RFC 8259, UTF-8 checked,
// depth capped at 512); it is compiled only in json_tree.cc. Strings and keys
// are stored unescaped in one text buffer; nodes refer to it by offset, so a
// tree reused for many documents stops allocating once it has grown.
//
// Threading: one tree per thread; Parse() replaces the previous document.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::verify {

enum class NodeKind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

// Index of a node; kNone for "absent".
using NodeId = uint32_t;
inline constexpr NodeId kNone = UINT32_MAX;

struct JsonNode {
  NodeKind kind = NodeKind::kNull;
  bool boolean = false;
  uint32_t key_offset = 0;  // member key within the parent object (unescaped)
  uint32_t key_size = 0;
  uint32_t offset = 0;  // string (unescaped) or number text
  uint32_t size = 0;
  NodeId first = kNone;  // first child of an array or object
  NodeId next = kNone;   // next sibling
  uint32_t count = 0;    // children of an array or object
};

class JsonTree {
 public:
  JsonTree();
  ~JsonTree();
  JsonTree(JsonTree&&) noexcept;
  JsonTree& operator=(JsonTree&&) noexcept;

  // Parses exactly one document (surrounding whitespace allowed). On error
  // the tree is empty and the kParse message names the byte offset.
  Status Parse(std::string_view text);

  bool empty() const { return nodes_.empty(); }
  NodeId root() const { return nodes_.empty() ? kNone : 0; }
  const JsonNode& node(NodeId id) const { return nodes_[id]; }
  NodeKind kind(NodeId id) const { return nodes_[id].kind; }
  // The unescaped string, or the number's text.
  std::string_view text(NodeId id) const {
    return std::string_view(text_).substr(nodes_[id].offset, nodes_[id].size);
  }
  std::string_view key(NodeId id) const {
    return std::string_view(text_).substr(nodes_[id].key_offset, nodes_[id].key_size);
  }

  // The member `name` of object `object` (the first when repeated), or kNone
  // (also when `object` is kNone or not an object).
  NodeId Find(NodeId object, std::string_view name) const;
  // The string member `name`, or "" when it is absent or not a string.
  std::string_view FindString(NodeId object, std::string_view name) const;
  bool IsObject(NodeId id) const { return id != kNone && nodes_[id].kind == NodeKind::kObject; }

 private:
  friend class TreeBuilder;
  struct Parser;
  std::vector<JsonNode> nodes_;
  std::string text_;
  std::unique_ptr<Parser> parser_;
};

}  // namespace pgcdc::verify
