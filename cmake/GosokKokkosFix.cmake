# Debian's libtrilinos-kokkos-dev (Kokkos 3.4) computes Kokkos::kokkos's include directory
# four levels above its config file, which gives /usr/lib/include; the headers are in
# /usr/include/trilinos (what Kokkos_INCLUDE_DIRS says). Repair the imported target here
# rather than editing system files. A correct Kokkos (4.x, CUDA, ...) is left alone.
if(TARGET Kokkos::kokkos)
  get_target_property(_gosok_kk_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  set(_gosok_kk_bad FALSE)
  foreach(_dir IN LISTS _gosok_kk_inc)
    if(NOT _dir MATCHES "^\\$<" AND NOT EXISTS "${_dir}")
      set(_gosok_kk_bad TRUE)
    endif()
  endforeach()
  if(_gosok_kk_bad)
    set(_gosok_kk_good "")
    foreach(_dir IN LISTS Kokkos_INCLUDE_DIRS)
      if(EXISTS "${_dir}/Kokkos_Core.hpp")
        list(APPEND _gosok_kk_good "${_dir}")
      endif()
    endforeach()
    if(NOT _gosok_kk_good AND EXISTS "/usr/include/trilinos/Kokkos_Core.hpp")
      set(_gosok_kk_good "/usr/include/trilinos")
    endif()
    if(NOT _gosok_kk_good)
      message(FATAL_ERROR "Kokkos::kokkos points at missing include directories "
                          "(${_gosok_kk_inc}) and Kokkos_Core.hpp was not found elsewhere.")
    endif()
    message(STATUS "gosok: repairing Kokkos::kokkos include path ${_gosok_kk_inc} -> ${_gosok_kk_good}")
    set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_gosok_kk_good}")
    # The same config lists a compile flag among its link libraries; drop it so that link
    # lines stay clean.
    get_target_property(_gosok_kk_libs Kokkos::kokkos INTERFACE_LINK_LIBRARIES)
    list(FILTER _gosok_kk_libs EXCLUDE REGEX "^-D")
    set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_LINK_LIBRARIES "${_gosok_kk_libs}")
  endif()
endif()

# A CUDA (or other device) Kokkos compiles through its own wrapper. gosok keeps the host
# compiler for the project, so that code without Kokkos (configuration, the scheduler, the
# toml++ parser, which nvcc cannot compile) stays host-only, and hands just the targets
# that use Kokkos to Kokkos' compiler launcher. Kokkos decides every device flag.
set(GOSOK_KOKKOS_LAUNCHER OFF)
set(GOSOK_NVCC_EVERYWHERE OFF)  # nvcc_wrapper is the project's compiler: every target is nvcc's
if(COMMAND kokkos_check AND COMMAND kokkos_compilation)
  kokkos_check(DEVICES CUDA RETURN_VALUE _gosok_kk_cuda)
  if(_gosok_kk_cuda AND CMAKE_CXX_COMPILER MATCHES "nvcc_wrapper")
    set(GOSOK_NVCC_EVERYWHERE ON)
  elseif(_gosok_kk_cuda AND NOT CMAKE_CXX_COMPILER MATCHES "clang")
    set(GOSOK_KOKKOS_LAUNCHER ON)
    message(STATUS "gosok: Kokkos has CUDA; Kokkos targets compile through kokkos_compilation")
  endif()
endif()

function(gosok_uses_kokkos target)
  if(GOSOK_KOKKOS_LAUNCHER)
    kokkos_compilation(TARGET ${target})
    set_target_properties(${target} PROPERTIES GOSOK_DEVICE_CODE ON)
  endif()
endfunction()
