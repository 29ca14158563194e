// md's checkpoints: what a restart needs to continue a run bitwise on the same rank count.
//
// Vocabulary: the checkpoint holds the system's *shape* (box, type counts and masses, the
// topology layout), every owned atom's state — positions, velocities and forces (the forces
// carry the step's Langevin part, which cannot be recomputed), its *positions at the last
// build* (x_at_build, the displacement check's reference) and an *atom row* (id, type,
// image 3, topology row; exact in doubles up to 2^53) — each rank's block of atoms
// (`counts`), the build schedule (steps since the last build, builds so far) and how much
// output existed (thermo rows, trajectory frames and observables), which a restart cuts
// the files back to. A restart *replays the last build*: atoms are placed where they were
// at that build and migrated, sorted and given ghosts and lists exactly as it did, then
// moved to where they are now.
#include <fmt/format.h>

#include <unordered_map>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/io/checkpoint.hpp>
#include <gosok/parallel/gather.hpp>
#include <gosok/parallel/reduce.hpp>
#include "md.hpp"

namespace gosok::md {

namespace {

const CheckpointFormat format{"gosok md checkpoint", "an md checkpoint", 1};

constexpr int atom_row_fixed = 5;  // id, type, image 3; then the topology row

}  // namespace

void MolecularDynamics::write_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  // Thermo rows up to this step go to the trajectory first, so a restart finds them.
  m_thermo.flush(*m_h5md);
  const long n = m_p.n_owned;
  const int w = m_shape.topo.width();
  const int size = m_cart->size();
  const long first = exclusive_scan(m_world, n);
  std::vector<double> counts(static_cast<std::size_t>(size), 0.0);
  counts[static_cast<std::size_t>(ctx.runtime.rank())] = static_cast<double>(n);
  global_sum_inplace(m_world, counts);

  const auto h = m_p.download(n);
  const auto xhold = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                         Kokkos::subview(m_xhold, std::make_pair(0L, n), Kokkos::ALL));
  const int iw = atom_row_fixed + w;
  std::vector<double> atoms(static_cast<std::size_t>(n * iw));
  for (long i = 0; i < n; ++i) {
    double* r = &atoms[static_cast<std::size_t>(i * iw)];
    r[0] = static_cast<double>(h.id(i));
    r[1] = static_cast<double>(h.type(i));
    for (int c = 0; c < 3; ++c) r[2 + c] = static_cast<double>(h.image(i, c));
    for (int c = 0; c < w; ++c) r[atom_row_fixed + c] = static_cast<double>(h.extra(i, c));
  }
  CheckpointWriter out(m_world, path, format, "md", ctx.segments, ctx.input.to_toml());
  const Box3& box = m_shape.box;
  out.set("step", ctx.step);
  out.set("time", ctx.time);
  out.set("natoms", m_shape.natoms);
  out.set("ranks", size);
  out.set("atom_types", m_shape.atom_types);
  out.set("bond_types", m_shape.bond_types);
  out.set("angle_types", m_shape.angle_types);
  out.set("max_special", m_shape.topo.max_special);
  out.set("max_bonds", m_shape.topo.max_bonds);
  out.set("max_angles", m_shape.topo.max_angles);
  out.set("box_lo", std::vector<double>(box.lo.begin(), box.lo.end()));
  out.set("box_hi", std::vector<double>(box.hi.begin(), box.hi.end()));
  out.set("mass", m_shape.mass);
  out.set("neighbor_ago", m_ago);
  out.set("neighbor_builds", m_builds);
  out.set("first_thermo", m_first.to_vector());
  out.set("thermo_rows", m_thermo.rows());
  out.set("trajectory_frames", m_frames);
  out.set("trajectory_observations", m_thermo.observations());
  H5File& file = out.file();
  file.write_vector("counts", counts);
  const auto N = static_cast<hsize_t>(m_shape.natoms), start = static_cast<hsize_t>(first),
             cnt = static_cast<hsize_t>(n);
  file.write_block("x", {N, 3}, {start, 0}, {cnt, 3}, h.x.data());
  file.write_block("v", {N, 3}, {start, 0}, {cnt, 3}, h.v.data());
  file.write_block("f", {N, 3}, {start, 0}, {cnt, 3}, h.f.data());
  file.write_block("x_at_build", {N, 3}, {start, 0}, {cnt, 3}, xhold.data());
  file.write_block("atoms", {N, static_cast<hsize_t>(iw)}, {start, 0}, {cnt, static_cast<hsize_t>(iw)}, atoms.data());
  out.close();
}

void MolecularDynamics::read_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  CheckpointReader in(ctx.runtime.comm(), path, format);
  Shape shape;
  shape.natoms = in.integer("natoms");
  const int ranks = static_cast<int>(in.integer("ranks"));
  shape.topo.max_special = static_cast<int>(in.integer("max_special"));
  shape.topo.max_bonds = static_cast<int>(in.integer("max_bonds"));
  shape.topo.max_angles = static_cast<int>(in.integer("max_angles"));
  const auto lo = in.reals("box_lo", 3), hi = in.reals("box_hi", 3);
  for (int d = 0; d < 3; ++d) {
    shape.box.lo[d] = lo[static_cast<std::size_t>(d)];
    shape.box.hi[d] = hi[static_cast<std::size_t>(d)];
  }
  shape.atom_types = static_cast<int>(in.integer("atom_types"));
  shape.bond_types = static_cast<int>(in.integer("bond_types"));
  shape.angle_types = static_cast<int>(in.integer("angle_types"));
  if (shape.atom_types < 1) in.fail("checkpoint attribute 'atom_types' is not positive");
  shape.mass = in.reals("mass", static_cast<std::size_t>(shape.atom_types));
  const long ago = in.integer("neighbor_ago");
  const long builds = in.integer("neighbor_builds");
  const ThermoRow first_thermo = ThermoRow::from_vector(in.reals("first_thermo"), path.string() + ": first_thermo");
  const long thermo_rows = in.integer("thermo_rows");
  m_frames = in.integer("trajectory_frames");
  const long observations = in.integer("trajectory_observations");
  ctx.step = in.integer("step");
  ctx.time = in.real("time");
  ctx.segments = continue_segments(in.segments(), ctx.step, ctx.runtime.size());
  const int w = shape.topo.width(), iw = atom_row_fixed + w;
  const auto N = static_cast<hsize_t>(shape.natoms);
  const auto counts_shape = in.dataset("counts", {CheckpointReader::any});
  for (const char* vec : {"x", "v", "f", "x_at_build"}) in.dataset(vec, {N, 3});
  in.dataset("atoms", {N, static_cast<hsize_t>(iw)});
  configure(ctx, shape);
  m_thermo.restore(thermo_rows, observations);

  // On the same rank count each rank reads back its own block in its own order, so the
  // continuation is bitwise identical; otherwise every rank reads all atoms and keeps
  // those in its sub-box (the same physics; sums in another order).
  const auto counts = in.file().read_vector("counts");
  const int size = m_cart->size(), rank = ctx.runtime.rank();
  const bool same_ranks = ranks == size && static_cast<int>(counts_shape[0]) == size;
  long first = 0, n = shape.natoms;
  if (same_ranks) {
    for (int r = 0; r < rank; ++r) first += static_cast<long>(counts[static_cast<std::size_t>(r)]);
    n = static_cast<long>(counts[static_cast<std::size_t>(rank)]);
  } else {
    log().warn("md: checkpoint written on {} ranks, restarting on {}: the continuation is not bitwise identical", ranks,
               size);
  }
  std::vector<double> x(static_cast<std::size_t>(3 * n)), v(x.size()), f(x.size()), xhold(x.size()),
      atoms(static_cast<std::size_t>(n * iw));
  const auto offset = static_cast<hsize_t>(first), cnt = static_cast<hsize_t>(n);
  in.file().read_block("x", {offset, 0}, {cnt, 3}, x.data());
  in.file().read_block("v", {offset, 0}, {cnt, 3}, v.data());
  in.file().read_block("f", {offset, 0}, {cnt, 3}, f.data());
  in.file().read_block("x_at_build", {offset, 0}, {cnt, 3}, xhold.data());
  in.file().read_block("atoms", {offset, 0}, {cnt, static_cast<hsize_t>(iw)}, atoms.data());
  in.close();

  std::unordered_map<long, std::size_t> row_of;  // atom id -> row read from the file
  std::vector<long> keep;
  for (long i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const long atom = static_cast<long>(atoms[k * static_cast<std::size_t>(iw)]);
    if (atom < 1 || atom > shape.natoms || !row_of.emplace(atom, k).second) {
      in.fail("checkpoint holds an invalid or repeated atom id");
    }
    if (same_ranks || m_comm->owns({xhold[3 * k], xhold[3 * k + 1], xhold[3 * k + 2]})) keep.push_back(i);
  }
  const long nk = static_cast<long>(keep.size());
  m_p.reserve(nk);
  const auto h = m_p.host_arrays();
  for (long j = 0; j < nk; ++j) {
    const auto i = static_cast<std::size_t>(keep[static_cast<std::size_t>(j)]);
    const double* r = &atoms[i * static_cast<std::size_t>(iw)];
    for (int c = 0; c < 3; ++c) {
      h.x(j, c) = xhold[3 * i + static_cast<std::size_t>(c)];
      h.v(j, c) = v[3 * i + static_cast<std::size_t>(c)];
      h.image(j, c) = static_cast<int>(r[2 + c]);
    }
    h.id(j) = static_cast<long>(r[0]);
    h.type(j) = static_cast<int>(r[1]);
    if (h.type(j) < 0 || h.type(j) >= shape.atom_types) in.fail("checkpoint holds an atom with an invalid type");
    for (int c = 0; c < w; ++c) h.extra(j, c) = static_cast<long>(r[atom_row_fixed + c]);
  }
  m_p.upload(h, nk);
  if (global_sum(m_world, nk) != shape.natoms) in.fail("checkpoint atoms do not add up to natoms");
  rebuild();
  m_ago = ago;
  m_builds = builds;

  // Current positions and the stored forces, by atom id in the rebuilt order; the stored
  // forces replace the recomputed ones.
  const long owned = m_p.n_owned;
  auto ids = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_p.id);
  Kokkos::View<double*[3], Kokkos::LayoutRight, Kokkos::HostSpace> now("md::restart_x", owned),
      stored("md::restart_f", owned);
  for (long i = 0; i < owned; ++i) {
    const auto it = row_of.find(ids(i));
    if (it == row_of.end()) throw RunError(fmt::format("md: restart lost atom {} on rank {}", ids(i), rank));
    for (int c = 0; c < 3; ++c) {
      now(i, c) = x[3 * it->second + static_cast<std::size_t>(c)];
      stored(i, c) = f[3 * it->second + static_cast<std::size_t>(c)];
    }
  }
  Kokkos::deep_copy(Kokkos::subview(m_p.x, std::make_pair(0L, owned), Kokkos::ALL), now);
  m_comm->update_ghosts(exec_space(), m_p);
  start(ctx, true);
  Kokkos::deep_copy(Kokkos::subview(m_p.f, std::make_pair(0L, owned), Kokkos::ALL), stored);
  m_first = first_thermo;
  open_diagnostics(ctx, true);
}

}  // namespace gosok::md
