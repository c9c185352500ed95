# Included from the top-level CMakeLists.txt (not add_subdirectory: imported targets must be visible everywhere).
# CMake glue for the external dependencies. Every one of them is a Debian 12 package installed by
# scripts/setup.sh; nothing is downloaded at configure or build time. Provenance: README.md here.

# LibTorch (libtorch-dev 1.13.1). TorchConfig.cmake gives TORCH_LIBRARIES and TORCH_CXX_FLAGS.
find_package(Torch REQUIRED)
add_library(bpninja_torch INTERFACE)
target_link_libraries(bpninja_torch INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_torch_cxx_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(bpninja_torch INTERFACE ${_torch_cxx_flags})
add_library(bpninja::torch ALIAS bpninja_torch)

# nlohmann-json3-dev (JSON reports, ledger, checkpoint metadata) and libcli11-dev (argument parsing).
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)

if(BPNINJA_BUILD_TESTS)
  find_package(GTest REQUIRED)       # libgtest-dev
  find_package(rapidcheck REQUIRED)  # librapidcheck-dev: property-based sweeps
endif()
if(BPNINJA_BUILD_BENCH)
  find_package(benchmark REQUIRED)   # libbenchmark-dev
endif()

# The BLAS that LibTorch itself calls (Debian: libblas.so.3, which libopenblas0-openmp provides through
# the alternatives system). The MLP's training kernel (src/kernel/) calls its sgemm_ directly, with no
# dispatcher in between. Without one (an upstream LibTorch with MKL inside), the kernel's matmuls go
# through at::mm_out on its workspace instead.
find_library(BPNINJA_BLAS_LIBRARY NAMES blas libblas.so.3)
if(BPNINJA_BLAS_LIBRARY)
  message(STATUS "training kernel: sgemm_ from ${BPNINJA_BLAS_LIBRARY}")
else()
  message(STATUS "training kernel: no system BLAS found; its matmuls use at::mm_out")
endif()

# libxsmm (libxsmm-dev 1.17: a static library and its header) JITs the small products of the MLP's
# kernel and of the GPT (src/kernel/products.h); its BLAS fallback symbols resolve to the BLAS above.
# Without it, those products run on that BLAS.
find_path(BPNINJA_LIBXSMM_INCLUDE libxsmm.h)
find_library(BPNINJA_LIBXSMM_LIBRARY NAMES libxsmm.a xsmm)
if(BPNINJA_LIBXSMM_INCLUDE AND BPNINJA_LIBXSMM_LIBRARY AND BPNINJA_BLAS_LIBRARY)
  find_package(Threads REQUIRED)
  message(STATUS "products: libxsmm from ${BPNINJA_LIBXSMM_LIBRARY}")
else()
  set(BPNINJA_LIBXSMM_LIBRARY "")
  message(STATUS "products: no libxsmm (libxsmm-dev, with a system BLAS): every product runs on the BLAS")
endif()

# glibc's vector math library (libmvec, glibc >= 2.35: Debian 12 and 13) gives the training kernel a
# vectorized tanhf without a tensor or a dispatch; without it the kernel calls at::tanh_out.
find_library(BPNINJA_MVEC_LIBRARY NAMES mvec)
