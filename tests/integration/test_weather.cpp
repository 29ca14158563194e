// The weather workload through the real gosok binary: atomic checkpoints, clear errors for
// bad checkpoints, a restart's records and segments, ensemble members, and output that
// ncdump, cdo and xarray read. Its answers (conservation and the published energy bound on
// every case, the same answer on 1, 2 and 4 ranks, bitwise restart on 1 and 2 ranks) are
// checked by the quick regression suite, regression/quick.toml, with their tolerances and
// reasons (tests/integration/test_regress_quick.sh).
#include <hdf5.h>

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace fs = std::filesystem;
using gosok::test::mpiexec;
using gosok::test::Result;
using gosok::test::run;
using gosok::test::TempDir;

namespace {

/// Runs `gosok run weather` on `ranks` ranks (1: without a launcher) with --set overrides.
Result weather(int ranks, const fs::path& out, const std::vector<std::string>& sets,
               const std::vector<std::string>& extra = {}, double timeout = 300) {
  std::vector<std::string> argv = ranks > 1 ? mpiexec(ranks) : std::vector<std::string>{};
  argv.insert(argv.end(), {gosok::test::gosok_binary(), "run", "weather", "--results", out.string()});
  for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv, timeout);
}

nlohmann::json diagnostics(const fs::path& out) {
  return nlohmann::json::parse(gosok::test::read_file(out / "diagnostics.json"));
}

/// A whole dataset, read with the serial HDF5 driver (no MPI needed).
std::vector<double> read_dataset(const fs::path& file, const std::string& name, std::vector<hsize_t>* shape = nullptr) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  REQUIRE(d >= 0);
  hid_t space = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  hsize_t n = 1;
  for (hsize_t e : dims) n *= e;
  std::vector<double> data(n);
  if (n > 0) REQUIRE(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  if (shape) *shape = dims;
  return data;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

/// An integer array attribute of the root group (serial HDF5).
std::vector<std::int64_t> root_int_array(const fs::path& file, const std::string& name) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t a = H5Aopen(f, name.c_str(), H5P_DEFAULT);
  REQUIRE(a >= 0);
  hid_t space = H5Aget_space(a);
  std::vector<std::int64_t> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  REQUIRE(H5Aread(a, H5T_NATIVE_INT64, values.data()) >= 0);
  H5Sclose(space);
  H5Aclose(a);
  H5Fclose(f);
  return values;
}

/// (kind, step) of every diagnostics record.
std::vector<std::pair<std::string, long>> record_kinds(const fs::path& out) {
  std::vector<std::pair<std::string, long>> kinds;
  const nlohmann::json d = diagnostics(out);
  for (const auto& r : d["records"]) kinds.emplace_back(r["kind"].get<std::string>(), r["step"].get<long>());
  return kinds;
}

}  // namespace

TEST_CASE("weather: a restart keeps the diagnostics records its checkpoint saw", "[weather][restart]") {
  TempDir dir;
  // The restart of regression/quick.toml's weather-restart case (whose fields, times and
  // diagnostics the suite compares bitwise): the records are the uninterrupted run's, the
  // first part's own "final" (for a frame the restart dropped) gone, one "final", the last.
  const std::vector<std::string> sets{"case=gravity_waves", "nx=40", "nz=20", "end_time=1000",
                                      "run.output_interval=10"};
  auto straight = sets;
  straight.push_back("run.max_steps=40");
  REQUIRE(weather(1, dir / "a", straight).exit_code == 0);
  auto first = sets;
  first.push_back("run.max_steps=20");
  REQUIRE(weather(1, dir / "b", first, {"--checkpoint-every", "20"}).exit_code == 0);
  const Result r = weather(1, dir / "b", first, {"--restart", (dir / "b" / "checkpoint.h5").string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto ka = record_kinds(dir / "a"), kb = record_kinds(dir / "b");
  CHECK(ka == kb);
  CHECK(std::count_if(kb.begin(), kb.end(), [](const auto& k) { return k.first == "final"; }) == 1);
}

TEST_CASE("weather: a restart on another rank count records both segments", "[weather][restart][mpi]") {
  TempDir dir;
  const std::vector<std::string> sets{"case=thermal", "nx=40", "nz=20", "end_time=1000", "run.output_every=5"};
  auto half = sets;
  half.push_back("run.max_steps=15");
  REQUIRE(weather(2, dir / "b", half, {"--checkpoint-every", "15"}).exit_code == 0);
  const Result r =
      weather(1, dir / "b", half, {"--checkpoint-every", "15", "--restart", (dir / "b" / "checkpoint.h5").string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(root_int_array(dir / "b" / "weather.h5", "mpi_ranks") == std::vector<std::int64_t>{2, 1});
  CHECK(root_int_array(dir / "b" / "weather.h5", "segment_first_step") == std::vector<std::int64_t>{0, 15});
  CHECK(root_int_array(dir / "b" / "checkpoint.h5", "mpi_ranks") == std::vector<std::int64_t>{2, 1});
  const auto d = diagnostics(dir / "b");
  CHECK(d["ranks"] == 1);
  CHECK(d["segments"] == nlohmann::json::parse(R"([{"first_step": 0, "ranks": 2}, {"first_step": 15, "ranks": 1}])"));
  // Every output record has its frame: records at t = 0 and every 5 steps to 30, one final.
  const auto kinds = record_kinds(dir / "b");
  std::vector<hsize_t> shape;
  read_dataset(dir / "b" / "weather.h5", "theta", &shape);
  const auto frames = std::count_if(kinds.begin(), kinds.end(), [](const auto& k) { return k.first != "diagnostics"; });
  CHECK(static_cast<hsize_t>(frames) == shape[0]);
  CHECK(kinds.back() == std::pair<std::string, long>{"final", 30});
}

#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("weather: SIGKILL while writing a checkpoint leaves the previous one intact", "[weather][restart]") {
  TempDir dir;
  const std::vector<std::string> sets{"case=thermal", "nx=40", "nz=20", "end_time=1000", "run.max_steps=10"};
  REQUIRE(weather(1, dir / "out", sets, {"--checkpoint-every", "10"}).exit_code == 0);
  const auto checkpoint = dir / "out" / "checkpoint.h5";
  const std::string before = gosok::test::read_file(checkpoint);

  auto killed = sets;
  killed.push_back("run.kill_in_checkpoint=1");  // SIGKILL inside the first checkpoint write
  const Result r = weather(1, dir / "out", killed, {"--checkpoint-every", "5", "--restart", checkpoint.string()});
  INFO(r.output);
  REQUIRE(r.exit_code != 0);
  REQUIRE(r.exit_code != 2);  // killed, not refused as bad input
  CHECK(gosok::test::read_file(checkpoint) == before);

  const Result again = weather(1, dir / "out", sets, {"--restart", checkpoint.string()});
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(diagnostics(dir / "out")["records"].back()["step"] == 20);
}
#endif

TEST_CASE("weather: a corrupt or mismatched checkpoint is a clear input error (exit 2)", "[weather][restart]") {
  TempDir dir;
  const std::vector<std::string> sets{"case=thermal", "nx=40", "nz=20", "end_time=1000", "run.max_steps=4"};
  REQUIRE(weather(1, dir / "good", sets, {"--checkpoint-every", "4"}).exit_code == 0);
  const auto checkpoint = (dir / "good" / "checkpoint.h5").string();

  SECTION("corrupt file") {
    gosok::test::write_file(dir / "bad.h5", "this is not an HDF5 file\n");
    const Result r = weather(1, dir / "r", sets, {"--restart", (dir / "bad.h5").string()});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("not a readable HDF5 file") != std::string::npos);
  }
  SECTION("truncated file") {
    const std::string bytes = gosok::test::read_file(checkpoint);
    gosok::test::write_file(dir / "cut.h5", bytes.substr(0, bytes.size() / 2));
    const Result r = weather(1, dir / "r", sets, {"--restart", (dir / "cut.h5").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
  }
  SECTION("another case") {
    auto other = sets;
    other[0] = "case=collision";
    const Result r = weather(1, dir / "r", other, {"--restart", checkpoint});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("checkpoint is of case 'thermal'") != std::string::npos);
  }
  SECTION("another grid") {
    auto other = sets;
    other[1] = "nx=48";
    const Result r = weather(1, dir / "r", other, {"--restart", checkpoint});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("nx = 40") != std::string::npos);
  }
  SECTION("not a weather checkpoint") {
    const Result r = weather(1, dir / "r", sets, {"--restart", (dir / "good" / "weather.h5").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("not a weather checkpoint") != std::string::npos);
  }
}

TEST_CASE("weather: ensemble members differ from each other, never with the rank count", "[weather][ensemble]") {
  TempDir dir;
  const std::vector<std::string> sets{"case=thermal", "nx=40", "nz=20", "end_time=0"};
  auto theta0 = [&](const std::string& out) { return read_dataset(dir / out / "weather.h5", "theta"); };
  REQUIRE(weather(1, dir / "control", sets).exit_code == 0);
  REQUIRE(weather(1, dir / "m1", sets, {"--member", "1", "--seed", "7"}).exit_code == 0);
  REQUIRE(weather(1, dir / "m2", sets, {"--member", "2", "--seed", "7"}).exit_code == 0);
  REQUIRE(weather(1, dir / "m1s8", sets, {"--member", "1", "--seed", "8"}).exit_code == 0);
  REQUIRE(weather(2, dir / "m1np2", sets, {"--member", "1", "--seed", "7"}).exit_code == 0);
  const auto c = theta0("control"), a = theta0("m1"), b = theta0("m2"), s8 = theta0("m1s8"), a2 = theta0("m1np2");
  CHECK(max_abs_difference(a, c) > 1e-3);
  CHECK(max_abs_difference(a, c) <= 0.0101);  // amplitude 0.01 K
  CHECK(max_abs_difference(a, b) > 1e-3);
  CHECK(max_abs_difference(a, s8) > 1e-3);
  CHECK(std::memcmp(a.data(), a2.data(), a.size() * sizeof(double)) == 0);
}

TEST_CASE("weather: collision under mpirun -np 2 writes a file ncdump reads", "[weather][mpi][netcdf]") {
  TempDir dir;
  // The issue's acceptance command, with its defaults (200 x 100 cells, 1000 s).
  std::vector<std::string> argv = mpiexec(2);
  argv.insert(argv.end(), {gosok::test::gosok_binary(), "run", "weather", "--set", "case=collision", "--results",
                           (dir / "out").string()});
  const Result run_result = run(argv, 600);
  INFO(run_result.output);
  REQUIRE(run_result.exit_code == 0);
  CHECK(run_result.output.find("dmass/mass") != std::string::npos);
  const auto final = diagnostics(dir / "out")["records"].back();
  CHECK(std::abs(final["mass_rel_change"].get<double>()) < 1e-13);
  CHECK(final["non_finite"].get<double>() == 0);

  const Result dump = run({"ncdump", "-h", (dir / "out" / "weather.h5").string()}, 60);
  INFO(dump.output);
  REQUIRE(dump.exit_code == 0);  // 127: ncdump missing (Debian package netcdf-bin)
  for (const char* expected :
       {"t = UNLIMITED", "z = 100", "x = 200", "double dens(t, z, x)", "double uwnd(t, z, x)", "double wwnd(t, z, x)",
        "double theta(t, z, x)", "double t(t)", "double x(x)", "double z(z)", "theta:units = \"K\"", "x:long_name",
        ":gosok_version", ":case = \"collision\"", ":mpi_ranks = 2"}) {
    CHECK(dump.output.find(expected) != std::string::npos);
  }
}

TEST_CASE("weather: cdo and xarray read the CF metadata", "[weather][netcdf]") {
  TempDir dir;
  const Result r = weather(
      1, dir / "out",
      {"case=thermal", "nx=40", "nz=20", "end_time=20", "run.output_every=5", "start_date=2024-03-01 06:00:00"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string file = (dir / "out" / "weather.h5").string();
  // cdo (Debian package cdo): z is the vertical axis (20 height levels, not a second
  // horizontal one), x the 40-point grid, and the times are dates from start_date.
  const Result cdo = run({"cdo", "sinfon", file}, 60);
  INFO(cdo.output);
  REQUIRE(cdo.exit_code == 0);  // 127: cdo missing
  for (const char* expected : {"points=40", "height", "levels=20", "RefTime =  2024-03-01 06:00:00",
                               "2024-03-01 06:00:08", "2024-03-01 06:00:20", "potential_temperature"}) {
    CHECK(cdo.output.find(expected) != std::string::npos);
  }
  CHECK(cdo.output.find("0000-00-00") == std::string::npos);
  // xarray (python3-xarray with netCDF4): decoded times, coordinates with CF attributes, and
  // full fields equal to background + departure (the background depends on z only).
  const std::string script = R"(
import sys
import numpy as np
import xarray as xr
ds = xr.open_dataset(sys.argv[1])
assert str(ds.t.values[0]).startswith("2024-03-01T06:00:00"), ds.t.values
assert (ds.t.values[-1] - ds.t.values[0]) / np.timedelta64(1, "s") == 20.0
assert ds.z.attrs["axis"] == "Z" and ds.z.attrs["positive"] == "up" and ds.z.attrs["standard_name"] == "height"
assert ds.x.attrs["axis"] == "X" and ds.t.attrs["standard_name"] == "time"
assert ds.potential_temperature.attrs["standard_name"] == "air_potential_temperature"
assert ds.density.attrs["standard_name"] == "air_density"
for full, departure in (("potential_temperature", "theta"), ("density", "dens")):
    background = ds[full] - ds[departure]
    spread = float((background.max("x") - background.min("x")).max())
    assert spread < 1e-9 * float(abs(ds[full]).max()), (full, spread)
    assert float(background.min()) > 0, full
# The background density is the 3-point Gauss average of the hydrostatic profile over each
# cell (theta = 300 K; miniWeather takes the cell-centre value): equal to round-off, and
# distinguishable from the cell-centre value by far more than that.
def rho(z):
    exner = 1.0 - 9.8 * z / (1004.0 * 300.0)
    p = 1.0e5 * exner ** (1004.0 / 287.0)
    return (p / 27.5629410929725921310572974482) ** (1.0 / 1.40027894002789400278940027894) / 300.0
dz = 10000.0 / ds.sizes["z"]
nodes = (0.112701665379258311482073460022, 0.5, 0.887298334620741688517926539980)
weights = (0.277777777777777777777777777779, 0.444444444444444444444444444444, 0.277777777777777777777777777779)
base = (ds.z.values - 0.5 * dz)
gauss = sum(w * rho(base + q * dz) for q, w in zip(nodes, weights))
centre = rho(ds.z.values)
background = (ds.density - ds.dens).isel(t=0, x=0).values
assert np.abs(background / gauss - 1).max() < 1e-12, np.abs(background / gauss - 1).max()
assert np.abs(background / centre - 1).max() > 1e-7, np.abs(background / centre - 1).max()
print("xarray ok", ds.sizes)
)";
  const Result py = run({"/usr/bin/python3", "-c", script, file}, 120);
  INFO(py.output);
  CHECK(py.exit_code == 0);
}

TEST_CASE("weather: a final step shorter than 1e-6 dt is not taken", "[weather]") {
  // 40 x 20 cells: dt = 5/3 s; 30 steps add up to 50 s less 1.4e-14 s. miniWeather would
  // take a 31st step of 1.4e-14 s, whose hyperviscosity (scaled by 1/dt) is a full dose
  // (docs/user-guide/weather.md); gosok ends at step 30.
  TempDir dir;
  const Result r = weather(1, dir / "out", {"case=thermal", "nx=40", "nz=20", "end_time=50"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto last = diagnostics(dir / "out")["records"].back();
  CHECK(last["step"] == 30);
  CHECK(std::abs(last["time"].get<double>() - 50.0) < 1e-6 * 5.0 / 3.0);
  CHECK(last["time"].get<double>() != 50.0);
}

TEST_CASE("weather: a start_date that is not a date is refused", "[weather]") {
  TempDir dir;
  const Result r = weather(1, dir / "out", {"start_date=yesterday"});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("start_date = 'yesterday'") != std::string::npos);
  CHECK(r.output.find("YYYY-MM-DD hh:mm:ss") != std::string::npos);
}
