# Project-wide helpers: warnings, workload registration, tests.

set(GOSOK_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(GOSOK_WARNINGS_AS_ERRORS)
  list(APPEND GOSOK_WARNING_FLAGS -Werror)
endif()

function(gosok_target_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GOSOK_WARNING_FLAGS}>)
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
