#include "view/fields.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <limits>
#include <optional>
#include <utility>

namespace pgcdc::view {

namespace {

// json::ParseDom's nesting limit (core/json_dom.cc): the same documents fail.
constexpr size_t kMaxDepth = 512;

int SlotOf(Query& q, const std::vector<std::string>& path) {
  if (IsEnvelopeField(path)) return -1;
  const size_t first = path.size() > 1 && path[0] == "payload" ? 1 : 0;
  const std::vector<std::string> p(path.begin() + static_cast<std::ptrdiff_t>(first), path.end());
  for (size_t i = 0; i < q.fields.size(); ++i) {
    if (q.fields[i] == p) return static_cast<int>(i);
  }
  q.fields.push_back(p);
  return static_cast<int>(q.fields.size() - 1);
}

void Number(Query& q, Expr& e) {
  if (e.kind == ExprKind::kField) e.field = SlotOf(q, e.path);
  for (auto& a : e.args) Number(q, a);
}

void Number(Query& q, std::optional<Expr>& e) {
  if (e) Number(q, *e);
}

}  // namespace

bool IsEnvelopeField(const std::vector<std::string>& path) {
  return path.size() == 1 &&
         (path[0] == "channel" || path[0] == "operation" || path[0] == "source");
}

void AssignFields(Query& q) {
  q.fields.clear();
  for (auto& c : q.columns) Number(q, c.expr);
  for (auto& a : q.aggregates) Number(q, a.arg);
  for (auto& g : q.group_by) Number(q, g);
  Number(q, q.where);
  Number(q, q.having);
  q.event_time_field = q.event_time.empty() ? -1 : SlotOf(q, q.event_time);
  if (!q.join) return;
  Join& j = *q.join;
  for (auto& k : j.left_keys) Number(q, k);
  for (auto& k : j.right_keys) Number(q, k);
  Number(q, j.left_filter);
  Number(q, j.right_filter);
  Number(q, j.residual);
  j.left_slot_fields.clear();
  j.right_slot_fields.clear();
  for (const auto& p : j.left_slots) j.left_slot_fields.push_back(SlotOf(q, p));
  for (const auto& p : j.right_slots) j.right_slot_fields.push_back(SlotOf(q, p));
}

// Walks the token stream against a trie of the referenced paths. `frames_`
// holds, per open container, the trie node it stands for (-1: nothing
// referenced below it); `pending_` is the node the next value stands for.
class FieldExtractor::Handler {
 public:
  // Names and limits of Boost.JSON's handler concept, as its document
  // builder sets them (boost/json/detail/handler.hpp).
  // NOLINTBEGIN(readability-identifier-naming)
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();
  // NOLINTEND(readability-identifier-naming)

  using ec_t = boost::system::error_code;
  using sv_t = boost::json::string_view;

  explicit Handler(const std::vector<std::vector<std::string>>& fields)
      : values_(fields.size()), set_(fields.size(), 0) {
    nodes_.emplace_back();  // the document's root
    for (size_t slot = 0; slot < fields.size(); ++slot) {
      int n = 0;
      for (const auto& name : fields[slot]) n = Child(n, name);
      nodes_[static_cast<size_t>(n)].slot = static_cast<int>(slot);
    }
  }

  void Begin() {
    std::fill(set_.begin(), set_.end(), 0);
    frames_.clear();
    buf_.clear();
    pending_ = 0;
    needs_document_ = false;
  }
  // Fields the document did not have are NULL.
  void End() {
    for (size_t i = 0; i < values_.size(); ++i) {
      if (set_[i] == 0) values_[i].v = std::monostate{};
    }
  }
  bool needs_document() const { return needs_document_; }
  const std::vector<Value>& values() const { return values_; }

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) {
    const int n = Take();
    if (IsLeaf(n)) needs_document_ = true;  // read as JSON text: the document path renders it
    const bool inner = n >= 0 && !nodes_[static_cast<size_t>(n)].children.empty();
    frames_.push_back({inner ? n : -1, ++epoch_});
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) { return Pop(); }
  bool on_array_begin(ec_t&) {
    if (IsLeaf(Take())) needs_document_ = true;
    frames_.push_back({-1, 0});
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) { return Pop(); }
  bool on_key_part(sv_t s, std::size_t, ec_t&) {
    if (!frames_.empty() && frames_.back().node >= 0) buf_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv_t s, std::size_t, ec_t&) {
    pending_ = -1;
    if (frames_.empty() || frames_.back().node < 0) return true;
    std::string_view key(s.data(), s.size());
    if (!buf_.empty()) key = buf_.append(key);
    Match(frames_.back(), key);
    buf_.clear();
    return true;
  }
  bool on_string_part(sv_t s, std::size_t, ec_t&) {
    if (IsLeaf(pending_)) buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv_t s, std::size_t, ec_t&) {
    const int n = Take();
    if (!IsLeaf(n)) return true;
    std::string_view text(s.data(), s.size());
    if (!buf_.empty()) text = buf_.append(text);
    Value& v = Slot(n);
    if (auto* str = std::get_if<std::string>(&v.v)) {
      str->assign(text);  // keeps the previous event's buffer
    } else {
      v.v = std::string(text);
    }
    buf_.clear();
    return true;
  }
  bool on_number_part(sv_t, ec_t&) { return true; }
  bool on_int64(int64_t i, sv_t, ec_t&) { return Scalar(Value{i}); }
  bool on_uint64(uint64_t u, sv_t, ec_t&) {
    // As FromJson (view/expr.cc) converts a document's unsigned integer.
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Scalar(Value{static_cast<int64_t>(u)});
    }
    return Scalar(Value{static_cast<double>(u)});
  }
  bool on_double(double d, sv_t, ec_t&) { return Scalar(Value{d}); }
  bool on_bool(bool b, ec_t&) { return Scalar(Value{b}); }
  bool on_null(ec_t&) { return Scalar(Value{}); }
  bool on_comment_part(sv_t, ec_t&) { return true; }
  bool on_comment(sv_t, ec_t&) { return true; }

 private:
  struct Node {
    std::string name;
    int slot = -1;  // a referenced path ends here
    std::vector<int> children;
    uint64_t seen = 0;  // epoch of the object whose key last matched this node
  };
  struct Frame {
    int node;
    uint64_t epoch;  // tells one object's keys from another's
  };

  int Child(int parent, const std::string& name) {
    for (int c : nodes_[static_cast<size_t>(parent)].children) {
      if (nodes_[static_cast<size_t>(c)].name == name) return c;
    }
    nodes_.push_back({.name = name});
    const int c = static_cast<int>(nodes_.size() - 1);
    nodes_[static_cast<size_t>(parent)].children.push_back(c);
    return c;
  }
  void Match(const Frame& f, std::string_view key) {
    for (int c : nodes_[static_cast<size_t>(f.node)].children) {
      Node& child = nodes_[static_cast<size_t>(c)];
      if (child.name != key) continue;
      // A key twice in one object: a document keeps the last value.
      if (child.seen == f.epoch) needs_document_ = true;
      child.seen = f.epoch;
      pending_ = c;
      return;
    }
  }
  bool IsLeaf(int n) const { return n >= 0 && nodes_[static_cast<size_t>(n)].slot >= 0; }
  int Take() { return std::exchange(pending_, -1); }
  Value& Slot(int n) {
    const auto slot = static_cast<size_t>(nodes_[static_cast<size_t>(n)].slot);
    set_[slot] = 1;
    return values_[slot];
  }
  bool Scalar(Value v) {
    const int n = Take();
    if (IsLeaf(n)) Slot(n) = std::move(v);
    return true;
  }
  bool Pop() {
    frames_.pop_back();
    pending_ = -1;
    return true;
  }

  std::vector<Node> nodes_;
  std::vector<Value> values_;
  std::vector<char> set_;
  std::vector<Frame> frames_;
  std::string buf_;  // a key or string that arrives in parts
  int pending_ = -1;
  uint64_t epoch_ = 0;
  bool needs_document_ = false;
};

struct FieldExtractor::Parser {
  explicit Parser(const std::vector<std::vector<std::string>>& fields)
      : parser(Options(), fields) {}
  static boost::json::parse_options Options() {
    boost::json::parse_options o;
    o.max_depth = kMaxDepth;
    return o;
  }
  boost::json::basic_parser<Handler> parser;
};

FieldExtractor::FieldExtractor(const std::vector<std::vector<std::string>>& fields)
    : parser_(std::make_unique<Parser>(fields)) {}

FieldExtractor::~FieldExtractor() = default;

FieldExtractor::Outcome FieldExtractor::Extract(std::string_view payload) {
  auto& p = parser_->parser;
  p.reset();
  p.handler().Begin();
  boost::system::error_code ec;
  const size_t n = p.write_some(false, payload.data(), payload.size(), ec);
  if (ec || n < payload.size()) return Outcome::kInvalid;
  if (p.handler().needs_document()) return Outcome::kNeedsDocument;
  p.handler().End();
  return Outcome::kOk;
}

const std::vector<Value>& FieldExtractor::values() const {
  return parser_->parser.handler().values();
}

}  // namespace pgcdc::view
