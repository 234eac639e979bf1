# install.cmake - what `cmake --install build --prefix P` (and `make install
# PREFIX=P`) puts under P:
#   include/          taskfarm.h, taskfarm_version.h
#   <libdir>/         libtaskfarm.so.0.2 (+ links), libtaskfarm.a,
#                     libtaskfarm_mpi.so.0.2 when MPI was found
#   <libdir>/pkgconfig/taskfarm.pc, taskfarm-mpi.pc
#   <libdir>/cmake/taskfarm/   the package: taskfarm::taskfarm (shared),
#                     taskfarm::taskfarm_static, taskfarm::mpi
#   share/modulefiles/taskfarm/<version>.lua   for `module load taskfarm`
#   lib/python3.X/site-packages/taskfarm/   the Python module, when built
#   bin/              the tutorial's programs, with -DTF_INSTALL_EXAMPLES=ON
include(CMakePackageConfigHelpers)
set(TF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/taskfarm)

install(FILES ${PROJECT_SOURCE_DIR}/include/taskfarm.h
              ${PROJECT_BINARY_DIR}/include/taskfarm_version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(TARGETS taskfarm taskfarm_static EXPORT taskfarm-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT taskfarm-targets NAMESPACE taskfarm:: DESTINATION ${TF_CMAKE_DIR})
# A set of its own, so that a consumer without MPI can still load the rest.
if(TARGET taskfarm_mpi)
  install(TARGETS taskfarm_mpi EXPORT taskfarm-mpi-targets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT taskfarm-mpi-targets NAMESPACE taskfarm::
          DESTINATION ${TF_CMAKE_DIR})
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/taskfarm-config.cmake.in
  ${PROJECT_BINARY_DIR}/taskfarm-config.cmake INSTALL_DESTINATION ${TF_CMAKE_DIR})
# 0.x: another minor version may have another ABI, so 0.2 accepts 0.2.x only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/taskfarm-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/taskfarm-config.cmake
              ${PROJECT_BINARY_DIR}/taskfarm-config-version.cmake
        DESTINATION ${TF_CMAKE_DIR})

# The pkg-config files and the modulefile hold absolute paths, and the
# prefix may be given only at install time (--prefix P): so they are
# written then, by write-installed.cmake, and installed from there.
set(TF_GEN ${PROJECT_BINARY_DIR}/installed)
install(CODE "
  set(TF_SRC \"${CMAKE_CURRENT_LIST_DIR}\")
  set(TF_GEN \"${TF_GEN}\")
  set(TF_VERSION \"${PROJECT_VERSION}\")
  set(TF_THREADS_LIBS \"${CMAKE_THREAD_LIBS_INIT}\")
  set(TF_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(TF_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(TF_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(TF_MANDIR \"${CMAKE_INSTALL_MANDIR}\")
  set(TF_PYTHONDIR \"${TF_PYTHON_INSTALL_DIR}\")
  include(\"${CMAKE_CURRENT_LIST_DIR}/write-installed.cmake\")
")
install(FILES ${TF_GEN}/taskfarm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(TARGET taskfarm_mpi)
  install(FILES ${TF_GEN}/taskfarm-mpi.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
install(FILES ${TF_GEN}/taskfarm.lua
        DESTINATION ${CMAKE_INSTALL_DATADIR}/modulefiles/taskfarm
        RENAME ${PROJECT_VERSION}.lua)
