// The spelling of each value of a small enum (values 0, 1, 2, … in
// declaration order) as one table, for the `XxxName(E)` functions that name
// states, kinds and reasons in logs, metric labels, JSON and errors, and for
// the parsers that read those names back:
//
//   constexpr EnumNames<Zone, Zone::kRed> kZoneNames({"green", "yellow", "red"}, "green");
//   std::string_view ZoneName(Zone zone) { return kZoneNames(zone); }
//
// The table must name every value from 0 up to `kLast` (checked at compile
// time). A value outside it (a cast from a bad integer) gets `fallback`.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pgcdc {

template <class E, E kLast>
class EnumNames {
  static_assert(std::is_enum_v<E>);

 public:
  static constexpr size_t kCount = static_cast<size_t>(std::to_underlying(kLast)) + 1;

  template <size_t N>
  constexpr EnumNames(const std::string_view (&names)[N], std::string_view fallback)
      : fallback_(fallback) {
    static_assert(N == kCount, "one name per enumerator, in declaration order");
    for (size_t i = 0; i < N; ++i) names_[i] = names[i];
  }

  constexpr std::string_view operator()(E value) const {
    using Unsigned = std::make_unsigned_t<std::underlying_type_t<E>>;
    const auto i = static_cast<size_t>(static_cast<Unsigned>(std::to_underlying(value)));
    return i < kCount ? names_[i] : fallback_;
  }

  // The value named `name` (compared with `eq`), if any.
  template <class Eq = std::equal_to<>>
  constexpr std::optional<E> Find(std::string_view name, Eq eq = {}) const {
    for (size_t i = 0; i < kCount; ++i) {
      if (eq(name, names_[i])) return static_cast<E>(i);
    }
    return std::nullopt;
  }

 private:
  std::array<std::string_view, kCount> names_{};
  std::string_view fallback_;
};

}  // namespace pgcdc
