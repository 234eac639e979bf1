# write-installed.cmake - run by `cmake --install` (see install.cmake):
# writes taskfarm.pc, taskfarm-mpi.pc and the modulefile for the prefix
# being installed to, CMAKE_INSTALL_PREFIX at that moment.
set(TF_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(dir LIBDIR INCLUDEDIR BINDIR MANDIR)
  if(IS_ABSOLUTE "${TF_${dir}}")
    set(TF_FULL_${dir} "${TF_${dir}}")
  else()
    set(TF_FULL_${dir} "${TF_PREFIX}/${TF_${dir}}")
  endif()
endforeach()
# The Python module's directory, on PYTHONPATH, when it was built.
set(TF_MODULE_PYTHON "")
if(TF_PYTHONDIR)
  set(TF_MODULE_PYTHON "prepend_path(\"PYTHONPATH\", \"${TF_PREFIX}/${TF_PYTHONDIR}\")")
endif()
# The static library's own link flags (pthreads needs none in glibc >= 2.34).
string(STRIP "${TF_THREADS_LIBS} -lm" TF_PRIVATE_LIBS)
configure_file("${TF_SRC}/taskfarm.pc.in" "${TF_GEN}/taskfarm.pc" @ONLY)
configure_file("${TF_SRC}/taskfarm-mpi.pc.in" "${TF_GEN}/taskfarm-mpi.pc" @ONLY)
configure_file("${TF_SRC}/taskfarm.lua.in" "${TF_GEN}/taskfarm.lua" @ONLY)
