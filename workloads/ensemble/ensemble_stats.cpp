// ensemble-stats: the ensemble mean and spread of one gridded field over the members of an
// ensemble (each member's results folder holds a gosok gridded series, e.g. weather.h5),
// written as a gridded series of its own (ensemble_stats.h5: netCDF-4 layout, CF
// attributes), a summary (diagnostics.json, as every workload writes it) and a picture (ensemble.png: the mean above,
// the spread below, height upwards). A workflow's summary step after an ensemble.
//
// Each rank takes a band of rows (z) of every member's field; mean and spread come from
// Welford's one-pass update over the members in order, so every cell's result is the same
// on any number of ranks, bit for bit.
#include <fmt/format.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/core/math.hpp>
#include <gosok/io/diagnostics_series.hpp>
#include <gosok/io/gridded_series.hpp>
#include <gosok/io/hdf5_file.hpp>
#include <gosok/io/png_image.hpp>
#include <gosok/parallel/gather.hpp>
#include <gosok/workload/workload.hpp>

namespace gosok::ensemble {

// The one place this workload picks where it runs.
using exec_space = Kokkos::DefaultExecutionSpace;
using Field = Kokkos::View<double*, exec_space::memory_space>;  // a band of rows, (k, i) flattened
using HostField = Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

/// Welford's running mean and sum of squared deviations, adding the n-th value of each cell.
struct Welford {
  Field mean, m2, value;
  double n;
  KOKKOS_INLINE_FUNCTION void operator()(long c) const {
    const double delta = value(c) - mean(c);
    mean(c) += delta / n;
    m2(c) += delta * (value(c) - mean(c));
  }
};

/// The sample standard deviation from the sum of squared deviations of n values.
struct Spread {
  Field m2;
  double n;
  KOKKOS_INLINE_FUNCTION void operator()(long c) const { m2(c) = n > 1 ? math::sqrt(m2(c) / (n - 1)) : 0.0; }
};

class EnsembleStats final : public Workload {
 public:
  void setup(RunContext& ctx, bool restarting) override;
  void step(RunContext& ctx) override;
  bool finished(const RunContext& ctx) const override { return ctx.step >= 1; }
  double progress(const RunContext& ctx) const override { return ctx.step >= 1 ? 1.0 : 0.0; }
  void write_checkpoint(RunContext&, const std::filesystem::path&) override {
    throw InputError("ensemble-stats does not checkpoint (it is one pass over the members)");
  }
  int finish(RunContext& ctx) override;

 private:
  std::filesystem::path member_file(long m) const { return m_dir / std::to_string(m) / m_file; }
  void write_picture(RunContext& ctx, const std::vector<double>& mean, const std::vector<double>& spread);

  std::filesystem::path m_dir;
  std::string m_file, m_variable, m_image;
  long m_members = 0, m_pixels = 4;
  hsize_t m_record = 0, m_nz = 0, m_nx = 0, m_k0 = 0, m_nk = 0;
  double m_record_time = 0;
  std::vector<double> m_x, m_z;
  std::string m_units = "1", m_long_name;
  Field m_mean, m_m2;
};

void EnsembleStats::setup(RunContext& ctx, bool) {
  const Input& in = ctx.input;
  m_dir = in.get_string("members_dir");
  m_members = in.get_int("members");
  m_file = in.get_string("file");
  m_variable = in.get_string("variable");
  m_image = in.get_string("image");
  m_pixels = in.get_int("pixels");
  for (long m = 0; m < m_members; ++m) {
    if (!std::filesystem::exists(member_file(m))) {
      throw InputError(fmt::format("ensemble-stats: member {} has no {} (members_dir = {}, members = {})", m,
                                   member_file(m).string(), m_dir.string(), m_members));
    }
  }
  MPI_Comm comm = ctx.runtime.comm();
  H5File first = H5File::open_read(comm, member_file(0));
  const std::string dset = "/" + m_variable;
  if (!first.exists(dset)) {
    throw InputError(fmt::format("ensemble-stats: {} has no variable '{}'", member_file(0).string(), m_variable));
  }
  const auto shape = first.dataset_shape(dset);
  if (shape.size() != 3) {
    throw InputError(
        fmt::format("ensemble-stats: {} in {} is not a (time, z, x) field", m_variable, member_file(0).string()));
  }
  const long record = in.get_int("record");
  if (record >= static_cast<long>(shape[0])) {
    throw InputError(fmt::format("ensemble-stats: record = {}, but {} holds {} record(s)", record,
                                 member_file(0).string(), shape[0]));
  }
  m_record = record < 0 ? shape[0] - 1 : static_cast<hsize_t>(record);
  m_nz = shape[1];
  m_nx = shape[2];
  if (m_nz < static_cast<hsize_t>(ctx.runtime.size())) {
    throw InputError(
        fmt::format("ensemble-stats: {} rows of cells cannot be shared by {} ranks", m_nz, ctx.runtime.size()));
  }
  m_x = first.read_vector("/x");
  m_z = first.read_vector("/z");
  m_record_time = first.read_vector("/t").at(m_record);
  H5Id var(h5_check_id(H5Dopen2(first.id(), dset.c_str(), H5P_DEFAULT), "open " + dset));
  if (has_attribute(var, "units")) m_units = read_string_attribute(var, "units");
  if (has_attribute(var, "long_name")) m_long_name = read_string_attribute(var, "long_name");
  const auto rank = static_cast<hsize_t>(ctx.runtime.rank()), size = static_cast<hsize_t>(ctx.runtime.size());
  m_k0 = m_nz * rank / size;
  m_nk = m_nz * (rank + 1) / size - m_k0;
  m_mean = Field("ensemble::mean", m_nk * m_nx);
  m_m2 = Field("ensemble::m2", m_nk * m_nx);
  log().info("ensemble-stats: {} of {} members at record {} (t = {} s), {} x {} cells, from {}", m_variable, m_members,
             m_record, m_record_time, m_nx, m_nz, m_dir.string());
}

void EnsembleStats::step(RunContext& ctx) {
  MPI_Comm comm = ctx.runtime.comm();
  const auto cells = static_cast<long>(m_nk * m_nx);
  std::vector<double> host(static_cast<std::size_t>(cells));
  Field value("ensemble::value", static_cast<std::size_t>(cells));
  for (long m = 0; m < m_members; ++m) {
    H5File file = H5File::open_read(comm, member_file(m));
    const auto shape = file.dataset_shape("/" + m_variable);
    if (shape.size() != 3 || shape[1] != m_nz || shape[2] != m_nx || shape[0] <= m_record) {
      throw InputError(fmt::format("ensemble-stats: {} does not match member 0's {} ({} records of {} x {})",
                                   member_file(m).string(), m_variable, m_record + 1, m_nz, m_nx));
    }
    const double t = file.read_vector("/t").at(m_record);
    if (std::abs(t - m_record_time) > 1e-9 * std::max(1.0, std::abs(t))) {
      log().warn("ensemble-stats: member {}'s record {} is at t = {} s, member 0's at {} s", m, m_record, t,
                 m_record_time);
    }
    file.read_block("/" + m_variable, {m_record, m_k0, 0}, {1, m_nk, m_nx}, host.data());
    Kokkos::deep_copy(value, HostField(host.data(), host.size()));
    Kokkos::parallel_for("ensemble::accumulate", Kokkos::RangePolicy<exec_space>(0, cells),
                         Welford{m_mean, m_m2, value, static_cast<double>(m + 1)});
  }
  Kokkos::parallel_for("ensemble::spread", Kokkos::RangePolicy<exec_space>(0, cells),
                       Spread{m_m2, static_cast<double>(m_members)});
  Kokkos::fence();
  ctx.time = m_record_time;
}

int EnsembleStats::finish(RunContext& ctx) {
  MPI_Comm comm = ctx.runtime.comm();
  std::vector<double> mean(m_nk * m_nx), spread(m_nk * m_nx);
  Kokkos::deep_copy(HostField(mean.data(), mean.size()), m_mean);
  Kokkos::deep_copy(HostField(spread.data(), spread.size()), m_m2);
  const std::string symbol = m_variable == "theta" ? "theta'" : m_variable;
  GriddedSeriesFile::Axis x{"x", "m", "horizontal distance (cell centre)", m_x};
  GriddedSeriesFile::Axis z{"z", "m", "height (cell centre)", m_z};
  GriddedSeriesFile::Axis t{"t", "s", "simulated time of the members' record", {}};
  const std::vector<GriddedSeriesFile::Variable> variables = {
      {m_variable + "_mean", m_units, "ensemble mean of " + (m_long_name.empty() ? m_variable : m_long_name)},
      {m_variable + "_spread", m_units,
       "ensemble spread (sample standard deviation over the members) of " +
           (m_long_name.empty() ? m_variable : m_long_name)}};
  if (ctx.runtime.rank() == 0) std::filesystem::create_directories(ctx.output_dir);
  MPI_Barrier(comm);
  auto out = GriddedSeriesFile::create(comm, ctx.output_dir / "ensemble_stats.h5", t, {z, x}, variables);
  write_provenance(out.file().id(), "ensemble-stats", ctx.segments, ctx.input.to_toml());
  write_attribute(out.file().id(), "title", "gosok ensemble-stats: " + symbol + " of " + m_dir.string());
  write_attribute(out.file().id(), "Conventions", std::string("CF-1.8"));
  write_attribute(out.file().id(), "members", static_cast<std::int64_t>(m_members));
  write_attribute(out.file().id(), "members_dir", m_dir.string());
  write_attribute(out.file().id(), "record", static_cast<std::int64_t>(m_record));
  out.append(m_record_time, {m_k0, 0}, {m_nk, m_nx}, {mean.data(), spread.data()});
  out.close();

  const auto all_mean = gather_to_root(comm, mean);
  const auto all_spread = gather_to_root(comm, spread);
  if (ctx.runtime.rank() == 0) {
    const auto [lo, hi] = std::minmax_element(all_mean.begin(), all_mean.end());
    const auto top = static_cast<std::size_t>(hi - all_mean.begin());
    const double spread_max = *std::max_element(all_spread.begin(), all_spread.end());
    // The header says what was summarised; the one record is the summary of the members'
    // record `record` (at its time).
    DiagnosticsSeries series(ctx.output_dir / "diagnostics.json",
                             {{"workload", "ensemble-stats"},
                              {"ranks", ctx.runtime.size()},
                              {"segments", segments_json(ctx.segments)},
                              {"members", m_members},
                              {"variable", m_variable},
                              {"units", m_units},
                              {"record", m_record},
                              {"nx", m_nx},
                              {"nz", m_nz},
                              {"image", m_image}},
                             true);
    series.append({{"kind", "final"},
                   {"step", ctx.step},
                   {"time", m_record_time},
                   {"mean_min", *lo},
                   {"mean_max", *hi},
                   {"mean_max_x", m_x[top % m_nx]},
                   {"mean_max_z", m_z[top / m_nx]},
                   {"spread_max", spread_max}});
    log().info(
        "ensemble-stats: mean {} in [{:.4g}, {:.4g}] {} (largest at x = {:.0f} m, z = {:.0f} m), spread up to "
        "{:.3g} {}",
        symbol, *lo, *hi, m_units, m_x[top % m_nx], m_z[top / m_nx], spread_max, m_units);
    if (!m_image.empty()) write_picture(ctx, all_mean, all_spread);
  }
  return 0;
}

// The mean (top, blue-white-red, symmetric about 0) over the spread (bottom, white to dark
// red, from 0), height upwards, each cell `m_pixels` square, a grey line between them.
void EnsembleStats::write_picture(RunContext& ctx, const std::vector<double>& mean, const std::vector<double>& spread) {
  const int px = static_cast<int>(m_pixels), nx = static_cast<int>(m_nx), nz = static_cast<int>(m_nz);
  const int gap = std::max(2, px);
  RgbImage image(nx * px, 2 * nz * px + gap, 160);
  double amplitude = 0, spread_max = 0;
  for (double v : mean) amplitude = std::max(amplitude, std::abs(v));
  for (double v : spread) spread_max = std::max(spread_max, v);
  for (int y = 0; y < nz * px; ++y) {
    const int k = nz - 1 - y / px;
    for (int xp = 0; xp < nx * px; ++xp) {
      const auto c = static_cast<std::size_t>(k) * m_nx + static_cast<std::size_t>(xp / px);
      std::uint8_t rgb[3];
      diverging_colour(amplitude > 0 ? mean[c] / amplitude : 0.0, rgb);
      image.set(xp, y, rgb);
      sequential_colour(spread_max > 0 ? spread[c] / spread_max : 0.0, rgb);
      image.set(xp, nz * px + gap + y, rgb);
    }
  }
  const std::string symbol = m_variable == "theta" ? "theta'" : m_variable;
  write_png(ctx.output_dir / m_image, image,
            {{"Title", fmt::format("ensemble mean and spread of {} ({} members)", symbol, m_members)},
             {"Description",
              fmt::format("top: mean {} at t = {} s, blue -{:.3g} {} .. white 0 .. red +{:.3g} {}; bottom: spread, "
                          "white 0 .. dark red {:.3g} {}; x to the right, height upwards",
                          symbol, m_record_time, amplitude, m_units, amplitude, m_units, spread_max, m_units)},
             {"Software", "gosok ensemble-stats"}});
}

void register_workload(WorkloadRegistry& registry) {
  registry.add("ensemble-stats", [] { return std::make_unique<EnsembleStats>(); });
}

}  // namespace gosok::ensemble
