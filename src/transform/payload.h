// The working document a chain's transforms share for one event.
//
// The payload (compact JSON text) is parsed lazily, one object level at a
// time: an object's members keep their values as raw JSON slices of the
// original text, and a nested object is only parsed when a transform asks
// for it (Child()) — or, when a transform asks for the row images, in the
// same pass as the top level. Untouched values are copied back byte for byte
// (unedited stretches of members in one piece), so numbers keep their exact
// text (12.50 stays 12.50, big integers keep every digit) and member order is
// preserved. Serialisation happens once, when the chain is done
// (PayloadContext::Commit).
//
// Not thread-safe: a PayloadContext belongs to the one call that created it.
#pragma once

#include <array>
#include <forward_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::transform {

// Stable storage for strings the document's views point into.
class Arena {
 public:
  std::string_view Intern(std::string s) { return strings_.emplace_front(std::move(s)); }
  void Clear() { strings_.clear(); }

 private:
  std::forward_list<std::string> strings_;  // no allocation until first use
};

// One level of a JSON object, members in document order.
class JsonObject {
 public:
  struct Member {
    std::string_view key;               // unescaped
    std::string_view raw;               // the value's JSON text; stale once `child` is set
    std::unique_ptr<JsonObject> child;  // parsed nested object (authoritative)
    // The key exactly as written (quotes included) when that is also how
    // json::AppendString renders `key`; empty otherwise (or after a rename).
    std::string_view key_json = {};
    // `raw` parsed ahead of time (root level only, see Parse); Child() moves
    // it into `child`. Never consulted for rendering.
    std::unique_ptr<JsonObject> prefetched = {};
  };

  JsonObject() = default;
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;
  ~JsonObject();
  // Objects and their member arrays are recycled per thread (a chain parses
  // the same few objects for every event).
  static void* operator new(size_t size);
  static void operator delete(void* p);

  // Parses the object `text` (views point into `text` or `arena`, which must
  // outlive the object). kParse error when `text` is not a JSON object.
  // With `prefetch_children`, object values one level down are parsed in the
  // same pass (so Child() on them costs nothing); they only become children
  // (and rendering-relevant) when Child() asks for them.
  static Result<std::unique_ptr<JsonObject>> Parse(std::string_view text, Arena& arena,
                                                   bool prefetch_children = false);

  Member* Find(std::string_view key);
  const Member* Find(std::string_view key) const;
  // Removes `key`, keeping the order of the others. False when absent.
  bool Erase(std::string_view key);
  // Replaces the value of `key` (in place) or appends it. `raw` must be valid
  // compact JSON with storage that outlives the object.
  void Set(std::string_view key, std::string_view raw);
  // Renames `from` to `to` in place; an existing `to` member is removed
  // first. False when `from` is absent (or equals `to`).
  bool Rename(std::string_view from, std::string_view to);
  // The nested object under `key`, parsed on first use; nullptr when the key
  // is absent or its value is not an object.
  Result<JsonObject*> Child(std::string_view key, Arena& arena);

  // Appends the object as compact JSON. Unedited stretches of members are
  // copied from the source text in one piece.
  void AppendTo(std::string& out) const;
  // True when AppendTo would reproduce the source text exactly (nothing
  // edited here or in a parsed child, keys and spacing already canonical).
  bool Pristine() const;
  // A member's current JSON text (renders a parsed child into `scratch`).
  static std::string_view ValueText(const Member& m, std::string& scratch);

  const std::vector<Member>& members() const { return members_; }

 private:
  static Result<std::unique_ptr<JsonObject>> ParseAt(std::string_view s, size_t& pos, Arena& arena,
                                                     bool prefetch_children, int value_depth);

  std::vector<Member> members_;
  std::string_view text_;  // the source text of this object
  bool canonical_ = true;  // source is compact with canonical keys
  bool edited_ = false;    // a member was erased, set or renamed
};

// "%v"-like text of a JSON value: a string's contents (unescaped), otherwise
// the JSON text itself (numbers exactly as written, true/false/null, compact
// objects and arrays).
std::string StringifyJson(std::string_view raw);

// The strings of a JSON array of strings, e.g. an `_unchanged_toast_columns`
// value, each as StringifyJson gives it; malformed parts end the list.
std::vector<std::string> JsonStringList(std::string_view raw);

// INSERT, UPDATE, DELETE or SNAPSHOT: the operations whose payload carries a
// row image (what row sinks write; the rest they skip).
bool IsRowOperation(std::string_view operation);

// Returns the end offset of the JSON value starting at `pos` (leading
// whitespace skipped), or a kParse error. Validates structure and strings
// but not number grammar.
Result<size_t> SkipJsonValue(std::string_view text, size_t pos);

// Streaming edit of the row images (`row`, `old`) of a structured payload,
// without building a document: the fast path of chains made only of
// drop_columns, mask and operation filters (Chain::Apply). Each rule names an
// image key to drop, or to rewrite (rewrite(rule index, value JSON, out)
// appends the new value; never called for a null value). The result is
// byte-identical to the document path. kFallback (nothing written that
// matters) when the payload is not something this path handles exactly:
// not a compact structured object with plain keys, a CloudEvents envelope,
// a rule key occurring twice in an image, or malformed JSON — the caller
// then runs the document path, which also produces the exact error.
struct StreamEditRule {
  std::string_view key;
  bool drop = false;
};
enum class StreamEditResult { kUnchanged, kChanged, kFallback };
using StreamRewrite = void (*)(const void* context, size_t rule, std::string_view value,
                               std::string& out);
StreamEditResult StreamEditImages(std::string_view payload, const StreamEditRule* rules,
                                  size_t rule_count, StreamRewrite rewrite, const void* context,
                                  std::string& out);

// A chain's view of one event while its transforms run.
class PayloadContext {
 public:
  explicit PayloadContext(Event& event) : event_(event), text_(event.payload) {}
  PayloadContext(const PayloadContext&) = delete;
  PayloadContext& operator=(const PayloadContext&) = delete;

  Event& event() { return event_; }
  const Event& event() const { return event_; }

  // The payload as an object, parsed on first use; nullptr when the payload
  // is not a JSON object; kParse error when it is malformed.
  Result<JsonObject*> Root();
  // True when the payload is pgcdc's structured shape: an object with `op`
  // and `row` keys.
  Result<bool> Structured();
  // Objects field transforms act on: `row` and `old` (those that are objects)
  // for structured payloads — or `after`/`before` of a Debezium envelope, or
  // those inside a CloudEvents envelope's `data`, so per-adapter field
  // transforms still work after a global envelope — the root for other
  // objects, none otherwise.
  struct Targets {
    std::array<JsonObject*, 2> items{nullptr, nullptr};
    size_t count = 0;
    JsonObject** begin() { return items.data(); }
    JsonObject** end() { return items.data() + count; }
    size_t size() const { return count; }
  };
  Result<Targets> FieldTargets();
  // The primary row image for field filters: `row` of a structured payload
  // (DELETE payloads carry the deleted row there too), else the root.
  Result<JsonObject*> PrimaryImage();

  Arena& arena() { return arena_; }

  struct PayloadShape {
    JsonObject* object = nullptr;  // the object holding the images (or the fields)
    // Image keys, primary first ({"row","old"} / {"after","before"}); null = none.
    std::array<const char*, 2> images{nullptr, nullptr};
  };
  Result<PayloadShape> Shape();
  // Call after editing the document.
  void MarkChanged();
  // Replaces the whole payload (envelopes). `json` must be valid compact JSON.
  void ReplacePayload(std::string json);
  // The current payload text (serialises the document after edits; cached).
  std::string_view PayloadText();
  bool changed() const { return changed_; }

  // Stores the result in the event (payload + InvalidateJson) if changed.
  void Commit();

 private:
  Result<JsonObject*> ParseRoot(bool images);

  Event& event_;
  std::string_view text_;  // current base text: event_.payload or replaced_
  std::string replaced_;
  std::unique_ptr<JsonObject> root_;
  Arena arena_;
  std::string rendered_;
  bool parsed_ = false;
  bool changed_ = false;      // the payload differs from event_.payload
  bool doc_dirty_ = false;    // root_ was edited since text_
  bool rendered_ok_ = false;  // rendered_ reflects root_
};

}  // namespace pgcdc::transform
