#include "thermo.hpp"

#include <fmt/format.h>

#include <fstream>
#include <string>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/parallel/reduce.hpp>

namespace gosok::md {

namespace impl {

/// sum m v^2 over the owned atoms.
struct KineticSum {
  Vec3View v;
  IndexView type;
  TypeTable<double>::view_type mass;
  KOKKOS_INLINE_FUNCTION void operator()(const long i, double& sum) const {
    sum += mass(type(i)) * (v(i, 0) * v(i, 0) + v(i, 1) * v(i, 1) + v(i, 2) * v(i, 2));
  }
};

}  // namespace impl

nlohmann::json ThermoRow::to_json(const std::string& kind) const {
  return {{"kind", kind},  {"step", step},     {"time", time},   {"temp", temp}, {"e_pair", epair},
          {"e_mol", emol}, {"etotal", etotal}, {"press", press}, {"ke", ke}};
}

std::vector<double> ThermoRow::to_vector() const {
  return {static_cast<double>(step), time, temp, epair, emol, etotal, press, ke};
}

ThermoRow ThermoRow::from_vector(const std::vector<double>& v, const std::string& what) {
  if (v.size() != 8) throw InputError(fmt::format("{} has {} entries, not 8", what, v.size()));
  return {static_cast<long>(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
}

ThermoRow measure_thermo(MPI_Comm world, const ParticleArrays& p, const TypeTable<double>& mass, const Tally& tally,
                         long natoms, double volume, long step, double time) {
  double mv2 = 0;
  Kokkos::parallel_reduce("md::kinetic", RangePolicy(0, p.n_owned), impl::KineticSum{p.v, p.type, mass.view()}, mv2);
  std::vector<double> sums{mv2, tally.pair, tally.bond + tally.angle, tally.virial};
  global_sum_inplace(world, sums);
  const double n = static_cast<double>(natoms);
  const double dof = 3.0 * n - 3.0;
  ThermoRow row;
  row.step = step;
  row.time = time;
  // LAMMPS: temp = sum m v^2 / (dof k_B); pe per atom (thermo_modify norm yes in lj
  // units); press = (dof k_B T + virial) / (3 V) with dof k_B T = sum m v^2.
  row.temp = sums[0] / dof;
  row.ke = 0.5 * row.temp * dof / n;
  row.epair = sums[1] / n;
  row.emol = sums[2] / n;
  row.etotal = row.ke + row.epair + row.emol;
  row.press = (row.temp * dof + sums[3]) / (3.0 * volume);
  return row;
}

void ThermoLog::open(const std::filesystem::path& path, bool restarted) {
  m_path = path;
  const long rows = m_rows;
  if (!restarted) m_rows = 0;
  m_pending.clear();
  const std::string header = "# Step Time Temp E_pair E_mol TotEng Press\n";
  if (log().rank() != 0) return;
  if (!restarted) {
    std::ofstream(m_path) << header;
    return;
  }
  // Keep the rows that existed at the checkpoint; the interrupted run may have written
  // more (its last state, rows past the checkpoint).
  std::ifstream in(m_path);
  std::string text = header, line;
  long kept = 0;
  while (std::getline(in, line) && kept < rows) {
    if (line.empty() || line[0] == '#') continue;
    text += line + "\n";
    ++kept;
  }
  in.close();
  std::ofstream(m_path) << text;
}

void ThermoLog::record(const ThermoRow& row) {
  if (row.step == m_last_step) return;
  m_last_step = row.step;
  ++m_rows;
  m_last = row;
  m_pending.push_back(row);
  log().info("md: {:>8} {:>14.8g} {:>14.8g} {:>14.8g} {:>14.8g} {:>14.8g}", row.step, row.temp, row.epair, row.emol,
             row.etotal, row.press);
  if (log().rank() == 0) {
    std::ofstream out(m_path, std::ios::app);
    out << fmt::format("{} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g}\n", row.step, row.time, row.temp, row.epair,
                       row.emol, row.etotal, row.press);
  }
}

void ThermoLog::resume(const ThermoRow& row) {
  m_last_step = row.step;
  m_last = row;
  m_pending.clear();
}

void ThermoLog::flush(H5mdWriter& trajectory) {
  std::vector<long> steps;
  std::vector<double> times;
  std::vector<std::vector<double>> values(6);
  for (const auto& r : m_pending) {
    steps.push_back(r.step);
    times.push_back(r.time);
    values[0].push_back(r.temp);
    values[1].push_back(r.epair);
    values[2].push_back(r.emol);
    values[3].push_back(r.etotal);
    values[4].push_back(r.press);
    values[5].push_back(r.ke);
  }
  trajectory.write_observables(
      {"temperature", "pair_energy", "molecular_energy", "total_energy", "pressure", "kinetic_energy"}, steps, times,
      values, {"epsilon k_B-1", "epsilon", "epsilon", "epsilon", "epsilon sigma-3", "epsilon"});
  m_observations += static_cast<long>(m_pending.size());
  m_pending.clear();
}

}  // namespace gosok::md
