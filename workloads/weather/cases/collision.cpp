// collision: a warm bubble rising from below and a cold bubble falling from above collide.
#include "case.hpp"

namespace gosok::weather {

struct Collision : CaseBase {
  KOKKOS_INLINE_FUNCTION Hydrostatic background(double z) const { return hydrostatic_constant_theta(z); }
  KOKKOS_INLINE_FUNCTION Perturbation perturbation(double x, double z) const {
    Perturbation p;
    p.theta = ellipse_cosine(x, z, 20.0, constants::xlen / 2, 2000., 2000., 2000.) +
              ellipse_cosine(x, z, -20.0, constants::xlen / 2, 8000., 2000., 2000.);
    return p;
  }
};

void register_collision(CaseRegistry& registry) {
  registry.add<Collision>("collision", "warm (+20 K) and cold (-20 K) bubbles colliding");
}

}  // namespace gosok::weather
