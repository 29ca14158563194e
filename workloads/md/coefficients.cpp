#include "coefficients.hpp"

#include <fmt/format.h>

#include <cmath>

#include <gosok/core/error.hpp>

namespace gosok::md {

namespace {

double value_or(const Input& record, const char* key, double fallback) {
  return record.has(key) ? record.get_real(key) : fallback;
}

int checked_type(const std::string& what, const std::string& origin, long type, int types) {
  if (type < 1 || type > types) {
    throw InputError(
        fmt::format("{} ({}): type {} is outside 1..{}, the types the system has", what, origin, type, types));
  }
  return static_cast<int>(type - 1);
}

}  // namespace

CoeffInput CoeffInput::read(const Input& in) {
  CoeffInput c;
  c.pair_default = {in.get_real("pair.epsilon"), in.get_real("pair.sigma"), in.get_real("pair.cutoff")};
  c.bond_default = {in.get_real("bond.k"), in.get_real("bond.r0"), in.get_real("bond.epsilon"),
                    in.get_real("bond.sigma")};
  c.angle_default = {in.get_real("angle.k"), in.get_real("angle.theta0") * M_PI / 180.0};
  for (const auto& r : in.records("pair.coeff")) {
    const Input& v = r.values;
    c.pairs.push_back({static_cast<int>(v.get_int("i")), static_cast<int>(v.get_int("j")),
                       PairCoeff{v.get_real("epsilon"), value_or(v, "sigma", c.pair_default.sigma),
                                 value_or(v, "cutoff", c.pair_default.cutoff)},
                       r.origin});
  }
  for (const auto& r : in.records("bond.coeff")) {
    const Input& v = r.values;
    const BondCoeff& d = c.bond_default;
    c.bonds.push_back({static_cast<int>(v.get_int("type")), 0,
                       BondCoeff{value_or(v, "k", d.k), value_or(v, "r0", d.r0), value_or(v, "epsilon", d.epsilon),
                                 value_or(v, "sigma", d.sigma)},
                       r.origin});
  }
  for (const auto& r : in.records("angle.coeff")) {
    const Input& v = r.values;
    c.angles.push_back({static_cast<int>(v.get_int("type")), 0,
                        AngleCoeff{value_or(v, "k", c.angle_default.k),
                                   v.has("theta0") ? v.get_real("theta0") * M_PI / 180.0 : c.angle_default.theta0},
                        r.origin});
  }
  return c;
}

std::vector<PairCoeff> pair_table(const CoeffInput& in, int types) {
  const auto n = static_cast<std::size_t>(types);
  // The i-i coefficients that mixing starts from: the defaults, or an i-i record.
  std::vector<PairCoeff> self(n, in.pair_default);
  std::vector<PairCoeff> table(n * n);
  std::vector<bool> given(n * n, false);
  for (const auto& p : in.pairs) {
    auto i = static_cast<std::size_t>(checked_type("pair.coeff", p.origin, p.i, types));
    auto j = static_cast<std::size_t>(checked_type("pair.coeff", p.origin, p.j, types));
    if (i == j) self[i] = p.c;
    table[i * n + j] = table[j * n + i] = p.c;
    given[i * n + j] = given[j * n + i] = true;
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (given[i * n + j]) continue;
      table[i * n + j] = {std::sqrt(self[i].epsilon * self[j].epsilon), std::sqrt(self[i].sigma * self[j].sigma),
                          std::sqrt(self[i].cutoff * self[j].cutoff)};
    }
  }
  return table;
}

std::vector<BondCoeff> bond_table(const CoeffInput& in, int types) {
  std::vector<BondCoeff> table(static_cast<std::size_t>(types), in.bond_default);
  for (const auto& b : in.bonds)
    table[static_cast<std::size_t>(checked_type("bond.coeff", b.origin, b.i, types))] = b.c;
  return table;
}

std::vector<AngleCoeff> angle_table(const CoeffInput& in, int types) {
  std::vector<AngleCoeff> table(static_cast<std::size_t>(types), in.angle_default);
  for (const auto& a : in.angles) {
    table[static_cast<std::size_t>(checked_type("angle.coeff", a.origin, a.i, types))] = a.c;
  }
  return table;
}

}  // namespace gosok::md
