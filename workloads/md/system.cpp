#include "system.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <type_traits>

#include <gosok/core/error.hpp>
#include <gosok/core/strings.hpp>
#include "random.hpp"

namespace gosok::md {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::size_t a = 0;
  while (true) {
    a = s.find_first_not_of(" \t\r", a);
    if (a == std::string::npos) break;
    const std::size_t b = s.find_first_of(" \t\r", a);
    out.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
    if (b == std::string::npos) break;
    a = b;
  }
  return out;
}

/// Reads a data file line by line, keeping the line number for messages.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : m_path(path), m_in(path) {
    if (!m_in) throw InputError(path.string() + ": cannot open the LAMMPS data file");
  }
  bool next(std::string& line) {
    if (!std::getline(m_in, line)) return false;
    ++m_line;
    return true;
  }
  /// The next non-blank line with its comment removed; throws at end of file.
  std::string content(const std::string& what) {
    std::string line;
    while (next(line)) {
      const std::string t = trim(line.substr(0, line.find('#')));
      if (!t.empty()) return t;
    }
    fail("file ends inside the " + what + " section");
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw InputError(fmt::format("{}:{}: {}", m_path.string(), m_line, message));
  }
  template <class T>
  T number(const std::string& word, const std::string& what) const {
    // strtod/strtoll rather than streams: a data file has millions of numbers.
    const char* begin = word.c_str();
    char* end = nullptr;
    errno = 0;
    T value{};
    if constexpr (std::is_floating_point_v<T>) {
      value = static_cast<T>(std::strtod(begin, &end));
      // strtod reads "nan" and "inf": such a value would only show up as a NaN run.
      if (end != begin && !std::isfinite(value)) fail("'" + word + "' is not a finite " + what);
    } else {
      value = static_cast<T>(std::strtoll(begin, &end, 10));
    }
    if (end == begin || *end != '\0' || errno == ERANGE) fail("'" + word + "' is not a valid " + what);
    return value;
  }

 private:
  std::filesystem::path m_path;
  std::ifstream m_in;
  long m_line = 0;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

System read_lammps_data(const std::filesystem::path& path, const std::string& style_option) {
  Reader r(path);
  System sys;
  std::string line;
  r.next(line);  // title
  long natoms = -1, nbonds = 0, nangles = 0, ndihedrals = 0, nimpropers = 0;
  bool have_box[3] = {false, false, false};
  std::string section, hint;
  // Header: "<count> <keyword>" or "<lo> <hi> <x|y|z>lo <..>hi" until the first section.
  while (r.next(line)) {
    const auto hash = line.find('#');
    const std::string t = trim(line.substr(0, hash));
    if (t.empty()) continue;
    const auto w = words(t);
    if (ends_with(t, "xlo xhi") || ends_with(t, "ylo yhi") || ends_with(t, "zlo zhi")) {
      const int d = t[t.size() - 7] - 'x';
      sys.box.lo[d] = r.number<double>(w[0], "box bound");
      sys.box.hi[d] = r.number<double>(w[1], "box bound");
      have_box[d] = true;
    } else if (ends_with(t, "xy xz yz")) {
      r.fail("triclinic boxes are not supported (gosok md needs an orthogonal periodic box)");
    } else if (ends_with(t, "atom types")) {
      sys.atom_types = r.number<int>(w[0], "count");
    } else if (ends_with(t, "bond types")) {
      sys.bond_types = r.number<int>(w[0], "count");
    } else if (ends_with(t, "angle types")) {
      sys.angle_types = r.number<int>(w[0], "count");
    } else if (ends_with(t, "dihedral types") || ends_with(t, "improper types")) {
      continue;
    } else if (w.size() == 2 && w[1] == "atoms") {
      natoms = r.number<long>(w[0], "count");
    } else if (w.size() == 2 && w[1] == "bonds") {
      nbonds = r.number<long>(w[0], "count");
    } else if (w.size() == 2 && w[1] == "angles") {
      nangles = r.number<long>(w[0], "count");
    } else if (w.size() == 2 && w[1] == "dihedrals") {
      ndihedrals = r.number<long>(w[0], "count");
    } else if (w.size() == 2 && w[1] == "impropers") {
      nimpropers = r.number<long>(w[0], "count");
    } else if (std::isalpha(static_cast<unsigned char>(t[0]))) {
      section = t;
      if (hash != std::string::npos) hint = trim(line.substr(hash + 1));
      break;
    } else {
      r.fail("unrecognised header line '" + t + "'");
    }
  }
  if (natoms < 0) r.fail("the header does not say how many atoms there are");
  // The header's counts are the contract: each atom, bond and angle needs a line of the
  // file, so a count the file cannot hold is refused before anything is allocated.
  std::error_code size_error;
  const auto bytes = static_cast<long>(std::filesystem::file_size(path, size_error));
  for (const auto& [count, what] :
       {std::pair<long, const char*>{natoms, "atoms"}, {nbonds, "bonds"}, {nangles, "angles"}}) {
    if (count < 0) r.fail(fmt::format("the header's count of {} is negative ({})", what, count));
    // The shortest line of a section ("1 1 0 0 0" for an atom) has 8 characters and a newline.
    if (!size_error && count > bytes / 9) {
      r.fail(
          fmt::format("the header says {} {}, but the file ({} bytes) is too small to hold them", count, what, bytes));
    }
  }
  for (int d = 0; d < 3; ++d) {
    if (!have_box[d]) r.fail(fmt::format("the header has no {}lo {}hi line", "xyz"[d], "xyz"[d]));
  }
  if (ndihedrals > 0 || nimpropers > 0) r.fail("dihedrals and impropers are not supported");
  if (sys.atom_types < 1) r.fail("the file needs at least one atom type");

  const std::size_t n = static_cast<std::size_t>(natoms);
  sys.id.resize(n);
  sys.type.resize(n);
  sys.x.resize(n);
  sys.v.assign(n, {0.0, 0.0, 0.0});
  sys.image.assign(n, {0, 0, 0});
  sys.mass.assign(static_cast<std::size_t>(sys.atom_types), 0.0);
  std::map<long, std::size_t> index;  // atom id -> position in the arrays
  bool have_atoms = false, have_masses = false;

  std::string style = style_option;
  while (!section.empty()) {
    if (section == "Masses") {
      for (int k = 0; k < sys.atom_types; ++k) {
        const auto w = words(r.content(section));
        if (w.size() < 2) r.fail("a Masses line needs a type and a mass");
        const int t = r.number<int>(w[0], "atom type");
        if (t < 1 || t > sys.atom_types) r.fail(fmt::format("atom type {} is outside 1..{}", t, sys.atom_types));
        sys.mass[static_cast<std::size_t>(t - 1)] = r.number<double>(w[1], "mass");
      }
      have_masses = true;
    } else if (section == "Atoms") {
      for (std::size_t k = 0; k < n; ++k) {
        const auto w = words(r.content(section));
        if (style == "auto") {
          if (hint == "atomic" || hint == "bond" || hint == "angle" || hint == "molecular") {
            style = hint;
          } else if (w.size() == 5 || w.size() == 8) {
            style = "atomic";
          } else if (w.size() == 6 || w.size() == 9) {
            style = "bond";
          } else {
            r.fail("cannot tell the atom style from " + std::to_string(w.size()) +
                   " columns; set data.atom_style to atomic or bond");
          }
        }
        // bond, angle and molecular share the columns id molecule type x y z.
        const bool bond = style != "atomic";
        const std::size_t base = bond ? 3 : 2;
        if (w.size() != base + 3 && w.size() != base + 6) {
          r.fail(fmt::format("an Atoms line of style {} has {} or {} columns, not {}", style, base + 3, base + 6,
                             w.size()));
        }
        sys.id[k] = r.number<long>(w[0], "atom id");
        if (bond) {
          if (sys.molecule.empty()) sys.molecule.resize(n);
          sys.molecule[k] = r.number<long>(w[1], "molecule id");
        }
        const int t = r.number<int>(w[base - 1], "atom type");
        if (t < 1 || t > sys.atom_types) r.fail(fmt::format("atom type {} is outside 1..{}", t, sys.atom_types));
        sys.type[k] = t - 1;
        for (int d = 0; d < 3; ++d) sys.x[k][d] = r.number<double>(w[base + d], "coordinate");
        if (w.size() == base + 6) {
          for (int d = 0; d < 3; ++d) sys.image[k][d] = r.number<int>(w[base + 3 + d], "image flag");
        }
        if (!index.emplace(sys.id[k], k).second) r.fail(fmt::format("atom id {} appears twice", sys.id[k]));
      }
      have_atoms = true;
    } else if (section == "Velocities") {
      if (!have_atoms) r.fail("the Velocities section must come after Atoms");
      for (std::size_t k = 0; k < n; ++k) {
        const auto w = words(r.content(section));
        if (w.size() != 4) r.fail("a Velocities line has 4 columns: id vx vy vz");
        auto it = index.find(r.number<long>(w[0], "atom id"));
        if (it == index.end()) r.fail("velocity for an unknown atom id " + w[0]);
        for (int d = 0; d < 3; ++d) sys.v[it->second][d] = r.number<double>(w[1 + d], "velocity");
      }
    } else if (section == "Bonds") {
      for (long k = 0; k < nbonds; ++k) {
        const auto w = words(r.content(section));
        if (w.size() != 4) r.fail("a Bonds line has 4 columns: id type atom1 atom2");
        System::Bond b{r.number<int>(w[1], "bond type") - 1, r.number<long>(w[2], "atom id"),
                       r.number<long>(w[3], "atom id")};
        if (b.type < 0 || b.type >= sys.bond_types) r.fail("bond type " + w[1] + " is outside the declared types");
        sys.bonds.push_back(b);
      }
    } else if (section == "Angles") {
      for (long k = 0; k < nangles; ++k) {
        const auto w = words(r.content(section));
        if (w.size() != 5) r.fail("an Angles line has 5 columns: id type atom1 atom2 atom3");
        System::Angle a{r.number<int>(w[1], "angle type") - 1, r.number<long>(w[2], "atom id"),
                        r.number<long>(w[3], "atom id"), r.number<long>(w[4], "atom id")};
        if (a.type < 0 || a.type >= sys.angle_types) r.fail("angle type " + w[1] + " is outside the declared types");
        sys.angles.push_back(a);
      }
    } else if (ends_with(section, "Coeffs")) {
      // Force-field parameters come from the gosok input; skip the lines.
      long lines = 0;
      if (section == "Pair Coeffs") lines = sys.atom_types;
      if (section == "PairIJ Coeffs") lines = sys.atom_types * (sys.atom_types + 1) / 2;
      if (section == "Bond Coeffs") lines = sys.bond_types;
      if (section == "Angle Coeffs") lines = sys.angle_types;
      for (long k = 0; k < lines; ++k) r.content(section);
    } else {
      r.fail("unsupported section '" + section + "'");
    }
    section.clear();
    while (r.next(line)) {
      const auto hash = line.find('#');
      const std::string t = trim(line.substr(0, hash));
      if (t.empty()) continue;
      section = t;
      hint = hash != std::string::npos ? trim(line.substr(hash + 1)) : "";
      break;
    }
  }
  if (!have_atoms && natoms > 0) r.fail("the file has no Atoms section");
  // A file cut short (or a missing section) would run without its bonds or angles.
  if (static_cast<long>(sys.bonds.size()) != nbonds) {
    r.fail(fmt::format("the header says {} bonds, but the file has {} (no Bonds section: is the file cut short?)",
                       nbonds, sys.bonds.size()));
  }
  if (static_cast<long>(sys.angles.size()) != nangles) {
    r.fail(fmt::format("the header says {} angles, but the file has {} (no Angles section: is the file cut short?)",
                       nangles, sys.angles.size()));
  }
  if (!have_masses) r.fail("the file has no Masses section (gosok needs the mass of every atom type)");
  for (const auto& b : sys.bonds) {
    if (!index.count(b.a) || !index.count(b.b)) r.fail(fmt::format("a bond names a missing atom ({} {})", b.a, b.b));
  }
  for (const auto& a : sys.angles) {
    if (!index.count(a.a) || !index.count(a.b) || !index.count(a.c)) r.fail("an angle names a missing atom");
  }
  if (!sys.bonds.empty() && sys.molecule.empty()) sys.molecule.assign(n, 0);
  return sys;
}

void write_lammps_data(const System& s, const std::filesystem::path& path, const std::string& title) {
  std::ofstream out(path);
  if (!out) throw RunError("cannot write the data file " + path.string());
  const bool molecular = s.molecular();
  out << "LAMMPS data file: " << title << "\n\n";
  out << s.size() << " atoms\n" << s.atom_types << " atom types\n";
  if (molecular) {
    out << s.bonds.size() << " bonds\n" << s.bond_types << " bond types\n";
    if (!s.angles.empty() || s.angle_types > 0)
      out << s.angles.size() << " angles\n" << s.angle_types << " angle types\n";
  }
  out << "\n";
  for (int d = 0; d < 3; ++d) out << fmt::format("{} {} {}lo {}hi\n", s.box.lo[d], s.box.hi[d], "xyz"[d], "xyz"[d]);
  out << "\nMasses\n\n";
  for (int t = 0; t < s.atom_types; ++t) out << fmt::format("{} {}\n", t + 1, s.mass[static_cast<std::size_t>(t)]);
  out << "\nAtoms # " << (!molecular ? "atomic" : (s.angles.empty() ? "bond" : "angle")) << "\n\n";
  for (long k = 0; k < s.size(); ++k) {
    const auto i = static_cast<std::size_t>(k);
    out << s.id[i] << ' ';
    if (molecular) out << s.molecule[i] << ' ';
    out << fmt::format("{} {} {} {} {} {} {}\n", s.type[i] + 1, s.x[i][0], s.x[i][1], s.x[i][2], s.image[i][0],
                       s.image[i][1], s.image[i][2]);
  }
  out << "\nVelocities\n\n";
  for (long k = 0; k < s.size(); ++k) {
    const auto i = static_cast<std::size_t>(k);
    out << fmt::format("{} {} {} {}\n", s.id[i], s.v[i][0], s.v[i][1], s.v[i][2]);
  }
  if (!s.bonds.empty()) {
    out << "\nBonds\n\n";
    long k = 1;
    for (const auto& b : s.bonds) out << fmt::format("{} {} {} {}\n", k++, b.type + 1, b.a, b.b);
  }
  if (!s.angles.empty()) {
    out << "\nAngles\n\n";
    long k = 1;
    for (const auto& a : s.angles) out << fmt::format("{} {} {} {} {}\n", k++, a.type + 1, a.a, a.b, a.c);
  }
  out.close();
  if (!out) throw RunError("writing the data file " + path.string() + " failed");
}

System make_fcc_lattice(double density, int nx, int ny, int nz, double mass) {
  System s;
  const double a = std::cbrt(4.0 / density);
  const int cells[3] = {nx, ny, nz};
  for (int d = 0; d < 3; ++d) {
    s.box.lo[d] = 0.0;
    s.box.hi[d] = a * cells[d];
  }
  s.mass = {mass};
  const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  long id = 1;
  for (int k = 0; k < nz; ++k) {
    for (int j = 0; j < ny; ++j) {
      for (int i = 0; i < nx; ++i) {
        for (const auto& b : basis) {
          s.id.push_back(id++);
          s.type.push_back(0);
          s.x.push_back({(i + b[0]) * a, (j + b[1]) * a, (k + b[2]) * a});
        }
      }
    }
  }
  s.v.assign(s.id.size(), {0.0, 0.0, 0.0});
  s.image.assign(s.id.size(), {0, 0, 0});
  return s;
}

System make_chain_melt(long chains, long length, double density, double mass, bool with_angles) {
  System s;
  const long total = chains * length;
  const double side = std::cbrt(static_cast<double>(total) / density);
  long n = static_cast<long>(std::ceil(std::cbrt(static_cast<double>(total)) - 1e-9));
  const double a = side / static_cast<double>(n);
  for (int d = 0; d < 3; ++d) {
    s.box.lo[d] = 0.0;
    s.box.hi[d] = side;
  }
  s.mass = {mass};
  s.bond_types = 1;
  s.angle_types = with_angles ? 1 : 0;
  for (long p = 0; p < total; ++p) {
    // Serpentine path: rows alternate direction, layers alternate the row order, so
    // consecutive sites are always lattice neighbours.
    const long layer = p / (n * n), within = p % (n * n);
    const long row = within / n;
    const long j = layer % 2 == 0 ? row : n - 1 - row;
    long i = within % n;
    if ((layer * n + row) % 2 == 1) i = n - 1 - i;
    s.id.push_back(p + 1);
    s.molecule.push_back(p / length + 1);
    s.type.push_back(0);
    s.x.push_back({(static_cast<double>(i) + 0.5) * a, (static_cast<double>(j) + 0.5) * a,
                   (static_cast<double>(layer) + 0.5) * a});
    if (p % length != 0) s.bonds.push_back({0, p, p + 1});
    if (with_angles && p % length >= 2) s.angles.push_back({0, p - 1, p, p + 1});
  }
  s.v.assign(s.id.size(), {0.0, 0.0, 0.0});
  s.image.assign(s.id.size(), {0, 0, 0});
  return s;
}

void assign_velocities(System& s, double temperature, std::uint64_t seed) {
  const long n = s.size();
  if (n < 2) return;
  double p[3] = {0, 0, 0}, mtotal = 0;
  for (long k = 0; k < n; ++k) {
    const auto i = static_cast<std::size_t>(k);
    const auto id = static_cast<std::uint64_t>(s.id[i]);
    for (int d = 0; d < 3; ++d) {
      // Box–Muller from two uniforms of this atom's stream.
      const double u1 = 1.0 - uniform01(seed, id, 0, 2 * d);
      const double u2 = uniform01(seed, id, 0, 2 * d + 1);
      s.v[i][d] = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    }
    const double m = s.mass[static_cast<std::size_t>(s.type[i])];
    for (int d = 0; d < 3; ++d) p[d] += m * s.v[i][d];
    mtotal += m;
  }
  double mv2 = 0;
  for (long k = 0; k < n; ++k) {
    const auto i = static_cast<std::size_t>(k);
    const double m = s.mass[static_cast<std::size_t>(s.type[i])];
    for (int d = 0; d < 3; ++d) {
      s.v[i][d] -= p[d] / mtotal;
      mv2 += m * s.v[i][d] * s.v[i][d];
    }
  }
  const double scale = std::sqrt(temperature * static_cast<double>(3 * n - 3) / mv2);
  for (auto& v : s.v) {
    for (int d = 0; d < 3; ++d) v[d] *= scale;
  }
}

}  // namespace gosok::md
