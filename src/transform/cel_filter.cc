// cel_filter: keep events for which a CEL expression is true (docs/cel.md).
#include <atomic>

#include "cel/cel.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/time.h"
#include "transform/builtins.h"
#include "transform/payload.h"

namespace pgcdc::transform {

namespace {

constexpr int64_t kErrorLogIntervalNs = 10'000'000'000;  // one warning per 10 s

metrics::Counter& EvalErrors() {
  static metrics::Counter& c = metrics::DefaultCounter(
      "pgcdc_cel_eval_errors_total", "cel_filter evaluations that failed (the event was kept).");
  return c;
}

class CelFilter final : public Transform {
 public:
  CelFilter(cel::Declarations decls, cel::Program program)
      : decls_(std::move(decls)), program_(std::move(program)), act_(decls_) {
    for (auto& [slot, name] : {std::pair<int*, const char*>{&channel_, "channel"},
                               {&operation_, "operation"},
                               {&source_, "source"},
                               {&id_, "id"},
                               {&table_, "table"},
                               {&schema_, "schema_name"},
                               {&has_record_, "has_record"},
                               {&row_, "row"},
                               {&old_, "old"},
                               {&payload_, "payload"}}) {
      *slot = decls_.Slot(name);
    }
    needs_id_ = program_.References(id_);
    needs_doc_ = program_.References(table_) || program_.References(schema_) ||
                 program_.References(has_record_);
    needs_payload_ =
        program_.References(row_) || program_.References(old_) || program_.References(payload_);
    EvalErrors();
  }
  std::string_view Type() const override { return "cel_filter"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    const Event& e = ctx.event();
    MutexLock lock(mu_);
    act_.Clear();
    act_.BindString(channel_, e.channel);
    act_.BindString(operation_, e.operation);
    act_.BindString(source_, e.source);
    if (needs_id_) {
      id_text_.clear();
      e.id.AppendTo(id_text_);
      act_.BindString(id_, id_text_);
    }
    table_text_.clear();
    schema_text_.clear();
    bool structured = false;
    if (needs_doc_) {
      auto s = ctx.Structured();
      if (s && *s) {
        structured = true;
        JsonObject* root = *ctx.Root();
        if (const auto* m = root->Find("table"); m && !m->child && m->raw.starts_with('"')) {
          table_text_ = StringifyJson(m->raw);
        }
        if (const auto* m = root->Find("schema"); m && !m->child && m->raw.starts_with('"')) {
          schema_text_ = StringifyJson(m->raw);
        }
      }
    }
    act_.BindString(table_, table_text_);
    act_.BindString(schema_, schema_text_);
    act_.BindBool(has_record_, structured);
    if (needs_payload_) {
      act_.BindJson(payload_, ctx.PayloadText());
      act_.BindField(row_, payload_, "row");
      act_.BindField(old_, payload_, "old");
    }
    auto keep = program_.EvaluateBool(act_);
    act_.Clear();
    if (!keep) {
      EvalErrors().Inc();
      const int64_t now = NowUnixNanos();
      if (now - last_log_ns_ >= kErrorLogIntervalNs) {
        last_log_ns_ = now;
        log::Warn("cel_filter evaluation failed; event kept", {{"error", keep.error().message()},
                                                               {"expression", program_.source()},
                                                               {"channel", e.channel}});
      }
      return Verdict::kKeep;
    }
    return *keep ? Verdict::kKeep : Verdict::kDrop;
  }

 private:
  cel::Declarations decls_;
  cel::Program program_;
  int channel_ = -1, operation_ = -1, source_ = -1, id_ = -1, table_ = -1, schema_ = -1,
      has_record_ = -1, row_ = -1, old_ = -1, payload_ = -1;
  bool needs_id_ = false, needs_doc_ = false, needs_payload_ = false;

  Mutex mu_;
  cel::Activation act_ GUARDED_BY(mu_);
  std::string id_text_ GUARDED_BY(mu_);
  std::string table_text_ GUARDED_BY(mu_);
  std::string schema_text_ GUARDED_BY(mu_);
  int64_t last_log_ns_ GUARDED_BY(mu_) = 0;
};

}  // namespace

Result<TransformPtr> MakeCelFilter(std::string_view expression) {
  cel::Declarations decls = cel::Declarations::EventFilter();
  auto program = cel::Program::Compile(expression, decls, {.require_bool = true});
  if (!program) return Fail(program.error());
  return std::make_shared<CelFilter>(std::move(decls), std::move(*program));
}

}  // namespace pgcdc::transform
