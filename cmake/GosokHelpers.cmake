# Project-wide helpers: warnings, workload registration, tests.

set(GOSOK_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(GOSOK_WARNINGS_AS_ERRORS)
  list(APPEND GOSOK_WARNING_FLAGS -Werror)
endif()

# Code generation for the CPU that builds gosok. A supercomputer builds per partition, and
# the kernels (weather's fluxes above all) vectorise only with the machine's vector unit:
# the portable default x86-64 code runs the weather benchmark at a quarter of the speed.
# Set GOSOK_ARCH_FLAGS="" for a binary that runs on any x86-64. With a host-only Kokkos
# every gosok target gets them alike, so that inline Kokkos code is compiled one way
# throughout. With a device backend, targets whose code nvcc compiles (those of
# gosok_uses_kokkos, or all of them when nvcc_wrapper is the project's compiler) get none:
# nvcc hands host flags to its preprocessing of device code too, where -march=native on a
# CPU with AVX-512 FP16 makes GCC's avx512fp16intrin.h collide with CUDA's half-precision
# headers, and their kernels run on the device anyway. Host-only targets (configuration,
# the scheduler) keep them.
set(GOSOK_ARCH_FLAGS "-march=native" CACHE STRING "CPU code-generation flags for gosok's own targets")
separate_arguments(GOSOK_ARCH_FLAG_LIST NATIVE_COMMAND "${GOSOK_ARCH_FLAGS}")

# The targets whose code has fault-injection hooks for the test suite (and the tests that
# use them) see GOSOK_TEST_HOOKS when GOSOK_ENABLE_TEST_HOOKS is on.
function(gosok_test_hooks target)
  if(GOSOK_ENABLE_TEST_HOOKS)
    target_compile_definitions(${target} PRIVATE GOSOK_TEST_HOOKS=1)
  endif()
endfunction()

function(gosok_target_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GOSOK_WARNING_FLAGS}>)
  if(GOSOK_ARCH_FLAG_LIST AND NOT GOSOK_NVCC_EVERYWHERE)
    target_compile_options(
      ${target} PRIVATE
      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<NOT:$<BOOL:$<TARGET_PROPERTY:GOSOK_DEVICE_CODE>>>>:${GOSOK_ARCH_FLAG_LIST}>)
  endif()
endfunction()

# gosok_add_workload(NAME <name> REGISTER <qualified register function> SOURCES ...
#                    INPUT <qualified input register function> INPUT_SOURCES ...)
# SOURCES, the workload's kernels, become an object library linked into gosok-run.
# INPUT_SOURCES declare the workload's input (name, description, schema and checks) with no
# Kokkos, MPI or HDF5 - they link gosok::base only - and are linked into both gosok and
# gosok-run, so that `gosok submit` on a login node checks a job's input with the very
# schema `gosok run` uses. framework/cli generates the translation units that call the
# register functions, so registration needs neither static initialisers nor a hand-kept list.
function(gosok_add_workload)
  cmake_parse_arguments(W "" "NAME;REGISTER;INPUT" "SOURCES;INPUT_SOURCES" ${ARGN})
  if(NOT W_INPUT OR NOT W_INPUT_SOURCES)
    message(FATAL_ERROR "gosok_add_workload(NAME ${W_NAME}): INPUT and INPUT_SOURCES (the Kokkos-free "
                        "translation unit that declares the workload's input) are required")
  endif()
  set(input_target gosok_workload_${W_NAME}_input)
  add_library(${input_target} OBJECT ${W_INPUT_SOURCES})
  target_link_libraries(${input_target} PUBLIC gosok::base)
  target_include_directories(${input_target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  gosok_target_defaults(${input_target})
  set_property(GLOBAL APPEND PROPERTY GOSOK_WORKLOAD_INPUT_TARGETS ${input_target})
  set_property(GLOBAL APPEND PROPERTY GOSOK_WORKLOAD_INPUT_FUNCTIONS ${W_INPUT})

  set(target gosok_workload_${W_NAME})
  add_library(${target} OBJECT ${W_SOURCES})
  target_link_libraries(${target} PUBLIC gosok::framework)
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  gosok_target_defaults(${target})
  gosok_uses_kokkos(${target})
  set_property(GLOBAL APPEND PROPERTY GOSOK_WORKLOAD_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY GOSOK_WORKLOAD_REGISTER_FUNCTIONS ${W_REGISTER})
endfunction()
