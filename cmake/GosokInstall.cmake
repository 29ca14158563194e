# install(EXPORT) and a package config, so that a center's project can
#   find_package(gosok) ; target_link_libraries(app PRIVATE gosok::framework)
include(CMakePackageConfigHelpers)

set(gosok_export_targets gosok_base gosok_framework)
if(TARGET gosok_scheduler)
  list(APPEND gosok_export_targets gosok_scheduler gosok_regression)
endif()
if(TARGET gosok_workflow)
  list(APPEND gosok_export_targets gosok_workflow)
endif()
install(TARGETS ${gosok_export_targets} EXPORT gosokTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(gosok_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/gosok)
install(EXPORT gosokTargets NAMESPACE gosok:: DESTINATION ${gosok_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/gosokConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/gosokConfig.cmake INSTALL_DESTINATION ${gosok_cmake_dir}
                              PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gosokConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gosokConfig.cmake ${PROJECT_BINARY_DIR}/gosokConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/GosokKokkosFix.cmake ${PROJECT_SOURCE_DIR}/cmake/GosokHelpers.cmake
              ${PROJECT_SOURCE_DIR}/cmake/GosokExecutables.cmake
        DESTINATION ${gosok_cmake_dir})
install(DIRECTORY job_templates site_configs regression DESTINATION ${CMAKE_INSTALL_DATADIR}/gosok OPTIONAL)
