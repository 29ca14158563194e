# Project-wide helpers: warnings, workload registration, tests.

set(GOSOK_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(GOSOK_WARNINGS_AS_ERRORS)
  list(APPEND GOSOK_WARNING_FLAGS -Werror)
endif()

# Code generation for the CPU that builds gosok. A supercomputer builds per partition, and
# the kernels (weather's fluxes above all) vectorise only with the machine's vector unit:
# the portable default x86-64 code runs the weather benchmark at a quarter of the speed.
# Set GOSOK_ARCH_FLAGS="" for a binary that runs on any x86-64. Applied to every gosok
# target alike, so that inline Kokkos code is compiled one way throughout.
set(GOSOK_ARCH_FLAGS "-march=native" CACHE STRING "CPU code-generation flags for gosok's own targets")
separate_arguments(GOSOK_ARCH_FLAG_LIST NATIVE_COMMAND "${GOSOK_ARCH_FLAGS}")

function(gosok_target_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GOSOK_WARNING_FLAGS}>)
  if(GOSOK_ARCH_FLAG_LIST AND NOT GOSOK_KOKKOS_LAUNCHER)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GOSOK_ARCH_FLAG_LIST}>)
  endif()
endfunction()

# gosok_add_workload(NAME <name> REGISTER <qualified register function> SOURCES ...)
# Builds the workload as an object library linked into the gosok executable and records its
# register function; framework/cli generates the one translation unit that calls them all,
# so registration needs neither static initialisers nor a hand-kept list.
function(gosok_add_workload)
  cmake_parse_arguments(W "" "NAME;REGISTER" "SOURCES" ${ARGN})
  set(target gosok_workload_${W_NAME})
  add_library(${target} OBJECT ${W_SOURCES})
  target_link_libraries(${target} PUBLIC gosok::framework)
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  gosok_target_defaults(${target})
  gosok_uses_kokkos(${target})
  set_property(GLOBAL APPEND PROPERTY GOSOK_WORKLOAD_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY GOSOK_WORKLOAD_REGISTER_FUNCTIONS ${W_REGISTER})
endfunction()
