// density_current: a cold bubble (-20 K) falls, hits the ground and spreads as a front.
#include "case.hpp"

namespace gosok::weather {

struct DensityCurrent : CaseBase {
  KOKKOS_INLINE_FUNCTION Hydrostatic background(double z) const { return hydrostatic_constant_theta(z); }
  KOKKOS_INLINE_FUNCTION Perturbation perturbation(double x, double z) const {
    Perturbation p;
    p.theta = ellipse_cosine(x, z, -20.0, constants::xlen / 2, 5000., 4000., 2000.);
    return p;
  }
};

void register_density_current(CaseRegistry& registry) {
  registry.add<DensityCurrent>("density_current", "cold bubble (-20 K) falling onto the ground and spreading");
}

}  // namespace gosok::weather
