// gravity_waves: a stably stratified atmosphere (N = 0.02 1/s) in a 15 m/s wind, forced by
// a small steady updraft source near the ground that launches internal gravity waves.
#include "case.hpp"

namespace gosok::weather {

struct GravityWaves : CaseBase {
  double bv_frequency = 0.02;  // 1/s
  double wind = 15.0;          // m/s

  KOKKOS_INLINE_FUNCTION Hydrostatic background(double z) const { return hydrostatic_constant_bv(z, bv_frequency); }
  KOKKOS_INLINE_FUNCTION Perturbation perturbation(double, double) const {
    Perturbation p;
    p.u = wind;
    return p;
  }
  // miniWeather's source: 0.01 m/s^2 on a 500 m cos^2 ellipse at (xlen/8, 1 km). (Its C
  // loops add it once per variable before the w update, i.e. three times; we add it once.)
  static constexpr bool has_w_forcing = true;
  KOKKOS_INLINE_FUNCTION double w_forcing(double x, double z) const {
    return ellipse_cosine(x, z, 0.01, constants::xlen / 8, 1000., 500., 500.);
  }
};

void register_gravity_waves(CaseRegistry& registry) {
  registry.add<GravityWaves>("gravity_waves", "forced internal gravity waves in a stratified 15 m/s flow (N = 0.02/s)");
}

}  // namespace gosok::weather
