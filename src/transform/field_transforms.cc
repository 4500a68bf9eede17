// Field transforms: drop_columns, rename_fields, mask, filter.
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "core/json.h"
#include "transform/builtins.h"
#include "transform/payload.h"

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

std::string Sha256Hex(std::string_view salt, std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Fetched once: an implicit fetch per digest costs more than the hashing.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md != nullptr && sha256 != nullptr && EVP_DigestInit_ex(md, sha256, nullptr) == 1 &&
            EVP_DigestUpdate(md, salt.data(), salt.size()) == 1 &&
            EVP_DigestUpdate(md, text.data(), text.size()) == 1 &&
            EVP_DigestFinal_ex(md, digest, &len) == 1;
  EVP_MD_CTX_free(md);
  if (!ok) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

// Byte length of the UTF-8 sequence starting with `lead` (1 for stray bytes).
size_t Utf8Len(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

std::string Partial(std::string_view text) {
  std::vector<std::string_view> runes;
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min(Utf8Len(static_cast<unsigned char>(text[i])), text.size() - i);
    runes.push_back(text.substr(i, n));
    i += n;
  }
  if (runes.size() < 3) return std::string(runes.size(), '*');
  std::string out(runes.front());
  out.append(runes.size() - 2, '*');
  out.append(runes.back());
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
    std::string scratch;
    for (JsonObject* obj : *targets) {
      for (const auto& f : fields_) {
        JsonObject::Member* m = obj->Find(f.field);
        if (m == nullptr || (!m->child && m->raw == "null")) continue;
        std::string masked;
        switch (f.mode) {
          case MaskMode::kRedact:
            masked = "***REDACTED***";
            break;
          case MaskMode::kHash:
            masked = Sha256Hex(salt_, StringifyJson(JsonObject::ValueText(*m, scratch)));
            break;
          case MaskMode::kPartial:
            masked = Partial(StringifyJson(JsonObject::ValueText(*m, scratch)));
            break;
        }
        std::string raw;
        json::AppendString(raw, masked);
        obj->Set(m->key, ctx.arena().Intern(std::move(raw)));
        changed = true;
      }
    }
    if (changed) ctx.MarkChanged();
    return Verdict::kKeep;
  }

 private:
  std::vector<MaskField> fields_;
  std::string salt_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
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
