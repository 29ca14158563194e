// thermal: a warm bubble (+3 K) rising through a neutral atmosphere at rest.
#include "case.hpp"

namespace gosok::weather {

struct Thermal : CaseBase {
  KOKKOS_INLINE_FUNCTION Hydrostatic background(double z) const { return hydrostatic_constant_theta(z); }
  KOKKOS_INLINE_FUNCTION Perturbation perturbation(double x, double z) const {
    Perturbation p;
    p.theta = ellipse_cosine(x, z, 3.0, constants::xlen / 2, 2000., 2000., 2000.);
    return p;
  }
};

void register_thermal(CaseRegistry& registry) {
  registry.add<Thermal>("thermal", "rising warm bubble (+3 K, 2 km radius) in a neutral atmosphere");
}

}  // namespace gosok::weather
