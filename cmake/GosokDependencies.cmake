# Every external dependency, found once, with a message that says which Debian package
# provides it when it is missing (scripts/install-deps installs them all).

function(gosok_require found_var what package)
  if(NOT ${found_var})
    message(FATAL_ERROR "gosok needs ${what}, which was not found. On Debian 12 install "
                        "'${package}' (scripts/install-deps installs every dependency).")
  endif()
endfunction()

find_package(MPI COMPONENTS CXX)
gosok_require(MPI_CXX_FOUND "MPI (C++ bindings)" "libopenmpi-dev")

find_package(Kokkos CONFIG)
gosok_require(Kokkos_FOUND "Kokkos" "libtrilinos-kokkos-dev")
include(GosokKokkosFix)

set(HDF5_PREFER_PARALLEL TRUE)
# HL: the dimension-scale API (H5DS) that makes output readable as netCDF-4.
find_package(HDF5 COMPONENTS C HL)
gosok_require(HDF5_FOUND "HDF5" "libhdf5-openmpi-dev")
if(NOT HDF5_HL_LIBRARIES)
  message(FATAL_ERROR "gosok needs the HDF5 high-level library (hdf5_hl) for dimension scales; "
                      "install 'libhdf5-openmpi-dev'.")
endif()
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "gosok needs a parallel (MPI) HDF5, but the HDF5 found at "
                      "'${HDF5_INCLUDE_DIRS}' is serial. Install 'libhdf5-openmpi-dev'.")
endif()

find_package(Boost 1.71 COMPONENTS program_options)
gosok_require(Boost_FOUND "Boost.Program_options" "libboost-program-options-dev")

find_package(SQLite3)
gosok_require(SQLite3_FOUND "SQLite 3" "libsqlite3-dev")

find_package(PostgreSQL)
gosok_require(PostgreSQL_FOUND "libpq (the PostgreSQL client library)" "libpq-dev")

find_package(tomlplusplus CONFIG)
gosok_require(tomlplusplus_FOUND "toml++" "libtomlplusplus-dev")

find_package(fmt CONFIG)
gosok_require(fmt_FOUND "fmt" "libfmt-dev")

find_package(nlohmann_json 3 CONFIG)
gosok_require(nlohmann_json_FOUND "nlohmann-json" "nlohmann-json3-dev")

# PNG pictures of fields (framework/io/png_image).
find_package(PNG)
gosok_require(PNG_FOUND "libpng" "libpng-dev")

if(GOSOK_ENABLE_TESTS)
  find_package(Catch2 3 CONFIG)
  gosok_require(Catch2_FOUND "Catch2 v3" "catch2 (from bookworm-backports)")
endif()

# One imported target for HDF5 whatever CMake version found it.
if(NOT TARGET HDF5::HDF5)
  message(FATAL_ERROR "FindHDF5 did not define HDF5::HDF5 (CMake >= 3.19 needed)")
endif()
# FindHDF5's HDF5::HDF5 carries only the C libraries; add the high-level one to it.
target_link_libraries(HDF5::HDF5 INTERFACE ${HDF5_HL_LIBRARIES})
