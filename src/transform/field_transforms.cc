// Field transforms: drop_columns, rename_fields, mask, filter.
#include <openssl/evp.h>

#include <algorithm>

#include "core/json.h"
#include "transform/builtins.h"
#include "transform/payload.h"
#include "transform/stream_plan.h"

namespace pgcdc::transform {

namespace {

class DropColumns final : public Transform {
 public:
  explicit DropColumns(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  std::string_view Type() const override { return "drop_columns"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    if (columns_.empty()) return Verdict::kKeep;
    auto targets = ctx.FieldTargets();
    if (!targets) return Fail(targets.error());
    bool changed = false;
    for (JsonObject* obj : *targets) {
      for (const auto& c : columns_) changed |= obj->Erase(c);
    }
    if (changed) ctx.MarkChanged();
    return Verdict::kKeep;
  }

  bool AddTo(StreamPlan& plan) const override {
    for (const auto& c : columns_) plan.Drop(c);
    return true;
  }

 private:
  std::vector<std::string> columns_;
};

class RenameFields final : public Transform {
 public:
  explicit RenameFields(std::vector<std::pair<std::string, std::string>> mapping)
      : mapping_(std::move(mapping)) {}
  std::string_view Type() const override { return "rename_fields"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    auto targets = ctx.FieldTargets();
    if (!targets) return Fail(targets.error());
    bool changed = false;
    for (JsonObject* obj : *targets) {
      for (const auto& [from, to] : mapping_) changed |= obj->Rename(from, to);
    }
    if (changed) ctx.MarkChanged();
    return Verdict::kKeep;
  }

 private:
  std::vector<std::pair<std::string, std::string>> mapping_;
};

// Appends `"<lowercase hex SHA-256 of salt + text>"` (a JSON string) to
// `out`; false when OpenSSL fails.
bool AppendSha256HexJson(std::string_view salt, std::string_view text, std::string& out) {
  // Fetched once: an implicit fetch per digest costs more than the hashing.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // One context per thread, reinitialised per digest (creating one per value
  // costs several allocations).
  struct Ctx {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(md); }
  };
  thread_local Ctx ctx;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = ctx.md != nullptr && sha256 != nullptr &&
                  EVP_DigestInit_ex2(ctx.md, sha256, nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.md, salt.data(), salt.size()) == 1 &&
                  EVP_DigestUpdate(ctx.md, text.data(), text.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.md, digest, &len) == 1;
  if (!ok) return false;
  out.push_back('"');
  json::AppendHex(out, std::string_view(reinterpret_cast<const char*>(digest), len));
  out.push_back('"');
  return true;
}

// Byte length of the UTF-8 sequence starting with `lead` (1 for stray bytes).
size_t Utf8Len(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

std::string Partial(std::string_view text) {
  size_t runes = 0, first_len = 0, last_start = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min(Utf8Len(static_cast<unsigned char>(text[i])), text.size() - i);
    if (runes == 0) first_len = n;
    last_start = i;
    ++runes;
    i += n;
  }
  if (runes < 3) return std::string(runes, '*');
  std::string out(text.substr(0, first_len));
  out.append(runes - 2, '*');
  out.append(text.substr(last_start));
  return out;
}

class Mask final : public Transform {
 public:
  Mask(std::vector<MaskField> fields, std::string salt)
      : fields_(std::move(fields)), salt_(std::move(salt)) {}
  std::string_view Type() const override { return "mask"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    auto targets = ctx.FieldTargets();
    if (!targets) return Fail(targets.error());
    bool changed = false;
    std::string scratch, raw;
    for (const auto& f : fields_) {
      // The same value in `row` and `old` (typical for UPDATEs) is masked once.
      std::string_view prev_in, prev_out;
      for (JsonObject* obj : *targets) {
        JsonObject::Member* m = obj->Find(f.field);
        if (m == nullptr || (!m->child && m->raw == "null")) continue;
        std::string_view masked_json;
        if (!m->child && prev_out.data() != nullptr && m->raw == prev_in) {
          masked_json = prev_out;
        } else {
          raw.clear();
          AppendMasked(f.mode, salt_, JsonObject::ValueText(*m, scratch), raw);
          masked_json = ctx.arena().Intern(raw);
          if (!m->child) {
            prev_in = m->raw;
            prev_out = masked_json;
          } else {
            prev_out = {};
          }
        }
        obj->Set(m->key, masked_json);
        changed = true;
      }
    }
    if (changed) ctx.MarkChanged();
    return Verdict::kKeep;
  }

  bool AddTo(StreamPlan& plan) const override {
    for (const auto& f : fields_) {
      plan.Rewrite(f.field,
                   [mode = f.mode, salt = salt_](std::string_view value, std::string& out) {
                     AppendMasked(mode, salt, value, out);
                   });
    }
    return true;
  }

  // Appends the masked form of the JSON value `value` (not null).
  static void AppendMasked(MaskMode mode, std::string_view salt, std::string_view value,
                           std::string& out) {
    switch (mode) {
      case MaskMode::kRedact:
        out.append("\"***REDACTED***\"");
        break;
      case MaskMode::kHash: {
        const size_t at = out.size();
        if (!AppendSha256HexJson(salt, StringifyJson(value), out)) {
          out.resize(at);
          out.append("\"\"");
        }
        break;
      }
      case MaskMode::kPartial:
        json::AppendString(out, Partial(StringifyJson(value)));
        break;
    }
  }

 private:
  std::vector<MaskField> fields_;
  std::string salt_;
};

char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiUpper(x) == AsciiUpper(y);
         });
}

class Filter final : public Transform {
 public:
  explicit Filter(FilterOptions options) : o_(std::move(options)) {}
  std::string_view Type() const override { return "filter"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    if (!o_.operations.empty()) {
      for (const auto& op : o_.operations) {
        if (EqualsIgnoreCase(op, ctx.event().operation)) return Verdict::kKeep;
      }
      return Verdict::kDrop;
    }
    auto image = ctx.PrimaryImage();
    if (!image) return Fail(image.error());
    if (*image == nullptr) return Verdict::kDrop;
    const JsonObject::Member* m = (*image)->Find(o_.field);
    if (m == nullptr) return Verdict::kDrop;
    std::string scratch;
    const std::string value = StringifyJson(JsonObject::ValueText(*m, scratch));
    if (o_.equals) return value == *o_.equals ? Verdict::kKeep : Verdict::kDrop;
    return std::find(o_.in.begin(), o_.in.end(), value) != o_.in.end() ? Verdict::kKeep
                                                                       : Verdict::kDrop;
  }

  bool AddTo(StreamPlan& plan) const override {
    if (o_.operations.empty()) return false;  // field filters need the document
    plan.Filter([ops = o_.operations](const Event& e) {
      for (const auto& op : ops) {
        if (EqualsIgnoreCase(op, e.operation)) return true;
      }
      return false;
    });
    return true;
  }

 private:
  FilterOptions o_;
};

}  // namespace

TransformPtr MakeDropColumns(std::vector<std::string> columns) {
  return std::make_shared<DropColumns>(std::move(columns));
}

TransformPtr MakeRenameFields(std::vector<std::pair<std::string, std::string>> mapping) {
  return std::make_shared<RenameFields>(std::move(mapping));
}

Result<MaskMode> ParseMaskMode(std::string_view name) {
  if (name == "hash") return MaskMode::kHash;
  if (name == "redact") return MaskMode::kRedact;
  if (name == "partial") return MaskMode::kPartial;
  return Fail(ErrorCode::kConfig,
              "unknown mask mode \"" + std::string(name) + "\" (use hash, redact or partial)");
}

TransformPtr MakeMask(std::vector<MaskField> fields, std::string salt) {
  return std::make_shared<Mask>(std::move(fields), std::move(salt));
}

Result<TransformPtr> MakeFilter(FilterOptions options) {
  const bool by_ops = !options.operations.empty();
  const bool by_field = !options.field.empty();
  if (by_ops == by_field) {
    return Fail(ErrorCode::kConfig,
                "filter needs either operations or a field (with in or equals), not both");
  }
  if (by_field && options.equals.has_value() == !options.in.empty()) {
    return Fail(ErrorCode::kConfig,
                "filter on field \"" + options.field + "\" needs exactly one of in or equals");
  }
  return std::make_shared<Filter>(std::move(options));
}

}  // namespace pgcdc::transform
