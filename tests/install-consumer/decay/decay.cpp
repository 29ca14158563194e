// A workload built against an installed gosok: u' = -k u by explicit Euler, summed over a
// Kokkos view of identical cells so that it runs a kernel; diagnostics.json holds u at the
// end and the exact (1 - k dt)^steps it must equal.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include <gosok/io/atomic_file.hpp>
#include <gosok/parallel/reduce.hpp>
#include <gosok/workload/workload.hpp>

namespace consumer {

class Decay final : public gosok::Workload {
 public:
  void setup(gosok::RunContext& ctx, bool) override {
    m_k = ctx.input.get_real("k");
    m_dt = ctx.input.get_real("dt");
    m_steps = ctx.input.get_int("steps");
    m_u = Kokkos::View<double*>("decay::u", 16);
    Kokkos::deep_copy(m_u, 1.0);
  }
  void step(gosok::RunContext& ctx) override {
    auto u = m_u;
    const double factor = 1.0 - m_k * m_dt;
    Kokkos::parallel_for(
        "decay::step", u.extent(0), KOKKOS_LAMBDA(const int i) { u(i) *= factor; });
    ctx.time += m_dt;
  }
  bool finished(const gosok::RunContext& ctx) const override { return ctx.step >= m_steps; }
  double progress(const gosok::RunContext& ctx) const override {
    return m_steps > 0 ? static_cast<double>(ctx.step) / static_cast<double>(m_steps) : 1.0;
  }
  int finish(gosok::RunContext& ctx) override {
    auto u = m_u;
    double sum = 0;
    Kokkos::parallel_reduce(
        "decay::sum", u.extent(0), KOKKOS_LAMBDA(const int i, double& s) { s += u(i); }, sum);
    const double mean = gosok::global_sum(ctx.runtime.comm(), sum / static_cast<double>(u.extent(0))) /
                        static_cast<double>(ctx.runtime.size());
    if (ctx.runtime.rank() == 0) {
      const nlohmann::json j{
          {"workload", "decay"}, {"u", mean}, {"exact", std::pow(1.0 - m_k * m_dt, static_cast<double>(ctx.step))}};
      gosok::write_text_atomically(ctx.output_dir / "diagnostics.json", j.dump(2) + "\n");
    }
    return 0;
  }

 private:
  double m_k = 0, m_dt = 0;
  long m_steps = 0;
  Kokkos::View<double*> m_u;
};

void register_workload(gosok::WorkloadRegistry& registry) {
  registry.add("decay", [] { return std::make_unique<Decay>(); });
}

}  // namespace consumer
