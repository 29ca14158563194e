// injection: a narrow, fast (50 m/s), slightly cold (298 K) jet enters through the left
// boundary near the model top into a neutral atmosphere at rest. Mass enters with it; the
// dynamics accounts for the inflow so the mass budget still closes to round-off.
#include "case.hpp"

namespace gosok::weather {

struct Injection : CaseBase {
  KOKKOS_INLINE_FUNCTION Hydrostatic background(double z) const { return hydrostatic_constant_theta(z); }
  KOKKOS_INLINE_FUNCTION Perturbation perturbation(double, double) const { return {}; }
  Inflow inflow() const {
    Inflow jet;
    jet.active = true;
    jet.z_center = 3 * constants::zlen / 4;
    jet.half_width = constants::zlen / 16;
    jet.u = 50.0;
    jet.theta = 298.0;
    return jet;
  }
};

void register_injection(CaseRegistry& registry) {
  registry.add<Injection>("injection", "a cold 50 m/s jet entering through the left boundary near the top");
}

}  // namespace gosok::weather
