# `cmake --install` gives consumers headers, the library, a CMake package
# (find_package(sockkit CONFIG) -> sockkit::sockkit) and sockkit.pc for pkg-config.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SOCKKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sockkit)

install(TARGETS sockkit EXPORT sockkitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/sockkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT sockkitTargets NAMESPACE sockkit:: DESTINATION ${SOCKKIT_CMAKE_DIR})

configure_package_config_file(cmake/sockkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/sockkitConfig.cmake INSTALL_DESTINATION ${SOCKKIT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sockkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sockkitConfig.cmake
              ${PROJECT_BINARY_DIR}/sockkitConfigVersion.cmake
        DESTINATION ${SOCKKIT_CMAKE_DIR})

file(RELATIVE_PATH SOCKKIT_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/sockkit.pc.in ${PROJECT_BINARY_DIR}/sockkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sockkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
