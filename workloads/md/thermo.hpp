#pragma once

// Thermodynamic output: LAMMPS' thermo quantities, thermo.dat and the H5MD observables.
//
// Vocabulary: a *thermo row* is one step's temperature, energies per atom and pressure,
// defined as LAMMPS defines them (lj units, thermo_modify norm yes). The *thermo log*
// records each step's row once: in the run's log, in thermo.dat (rank 0) and as *pending*
// observables, which flush() appends to the trajectory's /observables (at every frame and
// checkpoint, so frames and observables share their steps). On restart the log keeps the
// rows that existed at the checkpoint and drops what the interrupted run wrote after it.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gosok/io/h5md.hpp>
#include "coefficients.hpp"
#include "forces.hpp"
#include "md_types.hpp"

namespace gosok::md {

struct ThermoRow {
  long step = 0;
  double time = 0, temp = 0, epair = 0, emol = 0, etotal = 0, press = 0, ke = 0;

  /// A diagnostics record of kind `kind` ("initial", "final"): step, time, temp, e_pair,
  /// e_mol, etotal, press, ke.
  nlohmann::json to_json(const std::string& kind) const;
  /// As stored in a checkpoint: step, time, temp, epair, emol, etotal, press, ke.
  std::vector<double> to_vector() const;
  /// Throws InputError naming `what` when `v` does not have the 8 entries.
  static ThermoRow from_vector(const std::vector<double>& v, const std::string& what);
};

/// The row of the current state; `tally` holds this rank's energies and virial from the
/// last force evaluation with energies. Collective.
ThermoRow measure_thermo(MPI_Comm world, const ParticleArrays& p, const TypeTable<double>& mass, const Tally& tally,
                         long natoms, double volume, long step, double time);

class ThermoLog {
 public:
  /// thermo.dat at `path`; without `restarted` a new file, else the existing one cut back
  /// to the rows that restore() gave (rank 0 writes).
  void open(const std::filesystem::path& path, bool restarted);
  /// What a checkpoint says existed: rows in thermo.dat, entries of each observable.
  void restore(long rows, long observations) {
    m_rows = rows;
    m_observations = observations;
  }
  /// Records `row` unless a row of its step is recorded already.
  void record(const ThermoRow& row);
  /// Appends the pending rows to the trajectory's observables.
  void flush(H5mdWriter& trajectory);

  long last_step() const { return m_last_step; }
  /// Marks `row` as recorded without writing it (a restart's first row is in the files).
  void resume(const ThermoRow& row);
  long rows() const { return m_rows; }
  long observations() const { return m_observations; }
  /// A new trajectory file has no observables yet.
  void new_trajectory() { m_observations = 0; }
  const ThermoRow& last() const { return m_last; }

 private:
  std::filesystem::path m_path;
  std::vector<ThermoRow> m_pending;  // rows not yet in the trajectory
  long m_last_step = -1;
  long m_rows = 0;          // rows in thermo.dat
  long m_observations = 0;  // entries of each observable in the trajectory
  ThermoRow m_last;
};

}  // namespace gosok::md
