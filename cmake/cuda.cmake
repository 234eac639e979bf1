# cuda.cmake - the optional GPU example (examples/fibonacci/gpu).
#
# TF_BUILD_GPU is ON when CMake finds a CUDA compiler, OFF otherwise; the
# rest of the project never needs one. CMake looks for nvcc only on PATH,
# and the toolkit installs it in /usr/local/cuda/bin, often off PATH (a CI
# job's, a batch job's): so $CUDA_PATH/bin and /usr/local/cuda/bin come
# first, then PATH.
# CUDACXX or -DCMAKE_CUDA_COMPILER=... choose another.
#
# Sanitizer and fuzzer builds leave it OFF: their flags are the C
# compiler's, and the GPU example is not what they test.
include(CheckLanguage)

if(NOT DEFINED CMAKE_CUDA_COMPILER AND "$ENV{CUDACXX}" STREQUAL "")
  find_program(TF_NVCC nvcc HINTS "$ENV{CUDA_PATH}/bin" /usr/local/cuda/bin)
  if(TF_NVCC)
    set(ENV{CUDACXX} "${TF_NVCC}")
  endif()
endif()

# check_language() runs a whole CMake project to try nvcc (seconds): not
# when the answer would not be used.
set(tf_gpu_default OFF)
if(NOT TF_SANITIZE AND NOT TF_FUZZ AND (TF_BUILD_GPU OR NOT DEFINED TF_BUILD_GPU))
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(tf_gpu_default ON)
  endif()
endif()
option(TF_BUILD_GPU "Build the GPU example (needs a CUDA compiler)"
       ${tf_gpu_default})

if(TF_BUILD_GPU)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "TF_BUILD_GPU is ON but no CUDA compiler was found: "
                        "set CUDACXX, or -DTF_BUILD_GPU=OFF")
  endif()
  # Machine code for the GPU the example is measured on (the H200, compute
  # capability 9.0), plus its PTX, which the driver compiles for newer
  # GPUs. Left to itself, CMake takes nvcc's default (sm_75 with CUDA 13):
  # code for an older GPU, which an H200 runs only by compiling the PTX at
  # start-up. One architecture also keeps CI's compile short.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90-real 90-virtual)
  endif()
  # The CUDA runtime inside the program: the GPU machine needs only the
  # driver, not the toolkit.
  set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
  message(STATUS "GPU example: ${CMAKE_CUDA_COMPILER} "
                 "(CUDA ${CMAKE_CUDA_COMPILER_VERSION}), "
                 "architectures ${CMAKE_CUDA_ARCHITECTURES}")
else()
  message(STATUS "GPU example: not built (TF_BUILD_GPU=OFF; it is ON by "
                 "default where CMake finds a CUDA compiler, except in "
                 "sanitizer and fuzzer builds)")
endif()
