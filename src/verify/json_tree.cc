#include "verify/json_tree.h"

#include <boost/json/basic_parser_impl.hpp>

namespace pgcdc::verify {

namespace {
constexpr int kMaxDepth = 512;
}  // namespace

// Boost.JSON basic_parser handler that appends nodes to a JsonTree. Containers
// are linked as they close; `open_` holds, per open container, its node and
// its last child so far.
class TreeBuilder {
 public:
  // Names Boost.JSON's handler concept requires.
  // NOLINTBEGIN(readability-identifier-naming)
  static constexpr std::size_t max_array_size = UINT32_MAX;
  static constexpr std::size_t max_object_size = UINT32_MAX;
  static constexpr std::size_t max_string_size = UINT32_MAX;
  static constexpr std::size_t max_key_size = UINT32_MAX;
  // NOLINTEND(readability-identifier-naming)

  explicit TreeBuilder(JsonTree* tree) : tree_(tree) {}

  void Reset() {
    tree_->nodes_.clear();
    tree_->text_.clear();
    open_.clear();
    key_pending_ = false;
    part_started_ = false;
  }

  using ec_t = boost::system::error_code;
  using sv_t = boost::json::string_view;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) { return Open(NodeKind::kArray); }
  bool on_array_end(std::size_t n, ec_t&) { return Close(n); }
  bool on_object_begin(ec_t&) { return Open(NodeKind::kObject); }
  bool on_object_end(std::size_t n, ec_t&) { return Close(n); }
  bool on_string_part(sv_t s, std::size_t, ec_t&) { return Part(s); }
  bool on_string(sv_t s, std::size_t, ec_t&) {
    const auto [offset, size] = EndPart(s);
    JsonNode& n = Add(NodeKind::kString);
    n.offset = offset;
    n.size = size;
    return true;
  }
  bool on_key_part(sv_t s, std::size_t, ec_t&) { return Part(s); }
  bool on_key(sv_t s, std::size_t, ec_t&) {
    std::tie(key_offset_, key_size_) = EndPart(s);
    key_pending_ = true;
    return true;
  }
  bool on_number_part(sv_t s, ec_t&) { return Part(s); }
  bool on_int64(int64_t, sv_t s, ec_t&) { return Number(s); }
  bool on_uint64(uint64_t, sv_t s, ec_t&) { return Number(s); }
  bool on_double(double, sv_t s, ec_t&) { return Number(s); }
  bool on_bool(bool b, ec_t&) {
    Add(NodeKind::kBool).boolean = b;
    return true;
  }
  bool on_null(ec_t&) {
    Add(NodeKind::kNull);
    return true;
  }
  bool on_comment_part(sv_t, ec_t&) { return true; }
  bool on_comment(sv_t, ec_t&) { return true; }

 private:
  struct OpenContainer {
    NodeId node;
    NodeId last;
  };

  // Starts or continues a string, key or number whose text arrives in parts.
  bool Part(sv_t s) {
    if (!part_started_) {
      part_offset_ = static_cast<uint32_t>(tree_->text_.size());
      part_started_ = true;
    }
    tree_->text_.append(s.data(), s.size());
    return true;
  }
  std::pair<uint32_t, uint32_t> EndPart(sv_t s) {
    (void)Part(s);  // always true
    part_started_ = false;
    return {part_offset_, static_cast<uint32_t>(tree_->text_.size()) - part_offset_};
  }
  bool Number(sv_t s) {
    const auto [offset, size] = EndPart(s);
    JsonNode& n = Add(NodeKind::kNumber);
    n.offset = offset;
    n.size = size;
    return true;
  }

  // A new node, linked into the open container (with the pending key).
  JsonNode& Add(NodeKind kind) {
    auto& nodes = tree_->nodes_;
    const auto id = static_cast<NodeId>(nodes.size());
    JsonNode& n = nodes.emplace_back();
    n.kind = kind;
    if (key_pending_) {
      n.key_offset = key_offset_;
      n.key_size = key_size_;
      key_pending_ = false;
    }
    if (!open_.empty()) {
      OpenContainer& parent = open_.back();
      if (parent.last == kNone) {
        nodes[parent.node].first = id;
      } else {
        nodes[parent.last].next = id;
      }
      parent.last = id;
    }
    return nodes.back();
  }
  bool Open(NodeKind kind) {
    Add(kind);
    open_.push_back({static_cast<NodeId>(tree_->nodes_.size() - 1), kNone});
    return true;
  }
  bool Close(std::size_t n) {
    tree_->nodes_[open_.back().node].count = static_cast<uint32_t>(n);
    open_.pop_back();
    return true;
  }

  JsonTree* tree_;
  std::vector<OpenContainer> open_;
  bool key_pending_ = false;
  uint32_t key_offset_ = 0;
  uint32_t key_size_ = 0;
  bool part_started_ = false;
  uint32_t part_offset_ = 0;
};

struct JsonTree::Parser {
  explicit Parser(JsonTree* tree) : parser(Options(), tree) {}
  static boost::json::parse_options Options() {
    boost::json::parse_options o;
    o.max_depth = kMaxDepth;
    return o;
  }
  boost::json::basic_parser<TreeBuilder> parser;
};

JsonTree::JsonTree() : parser_(std::make_unique<Parser>(this)) {}
JsonTree::~JsonTree() = default;
JsonTree::JsonTree(JsonTree&& other) noexcept
    : nodes_(std::move(other.nodes_)),
      text_(std::move(other.text_)),
      parser_(std::make_unique<Parser>(this)) {}
JsonTree& JsonTree::operator=(JsonTree&& other) noexcept {
  nodes_ = std::move(other.nodes_);
  text_ = std::move(other.text_);
  return *this;
}

Status JsonTree::Parse(std::string_view text) {
  if (text.size() >= UINT32_MAX) return Fail(ErrorCode::kParse, "document larger than 4 GiB");
  auto& p = parser_->parser;
  p.reset();
  p.handler().Reset();
  boost::system::error_code ec;
  const size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = boost::json::error::extra_data;
  if (ec) {
    p.handler().Reset();
    return Fail(ErrorCode::kParse,
                "invalid JSON at byte " + std::to_string(n) + ": " + ec.message());
  }
  return Ok();
}

NodeId JsonTree::Find(NodeId object, std::string_view name) const {
  if (!IsObject(object)) return kNone;
  for (NodeId c = nodes_[object].first; c != kNone; c = nodes_[c].next) {
    if (key(c) == name) return c;
  }
  return kNone;
}

std::string_view JsonTree::FindString(NodeId object, std::string_view name) const {
  const NodeId n = Find(object, name);
  return n != kNone && nodes_[n].kind == NodeKind::kString ? text(n) : std::string_view();
}

}  // namespace pgcdc::verify
