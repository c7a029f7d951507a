# kernels.cmake - the LLVM side of the build: LLVM 19 for libmixc, the kernel
# bitcode embedded in libmixc, and libmixc_rt.a, the runtime that compiled
# executables link.
#
# Kernels are readable C specialized by LLVM: every runtime/kernels/*.c is
# compiled by clang-19 to bitcode, llvm-link'ed into kernels.bc, and embedded
# into libmixc as `mixc_kernels_bc` (gen/kernels_bc.c). The backend links that
# bitcode into every model, retargets it to the host CPU and optimizes it.
# The bitcode is compiled without -march (the backend sets target-cpu and
# target-features on every function), and without vectorization or unrolling,
# which only pay off once shapes are constant and the CPU is known. FP
# contraction is off so that compiled models match the reference interpreter
# (backend/interp.c, natively compiled kernels) bit for bit.
#
# Requires: the target mixc_core already defined. Include it from the top-level
# CMakeLists.txt right after mixc_core:  include(cmake/kernels.cmake)
set(MIXC_LLVM_CONFIG /usr/lib/llvm-19/bin/llvm-config CACHE FILEPATH "llvm-config of LLVM 19")
if(NOT EXISTS ${MIXC_LLVM_CONFIG})
  message(FATAL_ERROR "llvm-config not found at ${MIXC_LLVM_CONFIG}: run scripts/setup.sh (llvm-19-dev)")
endif()
execute_process(COMMAND ${MIXC_LLVM_CONFIG} --includedir OUTPUT_VARIABLE MIXC_LLVM_INCLUDE
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${MIXC_LLVM_CONFIG} --libdir OUTPUT_VARIABLE MIXC_LLVM_LIBDIR
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${MIXC_LLVM_CONFIG} --bindir OUTPUT_VARIABLE MIXC_LLVM_BINDIR
                OUTPUT_STRIP_TRAILING_WHITESPACE)
find_library(MIXC_LLVM_LIB NAMES LLVM-19 LLVM PATHS ${MIXC_LLVM_LIBDIR} NO_DEFAULT_PATH REQUIRED)
find_program(MIXC_CLANG NAMES clang-19 clang PATHS ${MIXC_LLVM_BINDIR} NO_DEFAULT_PATH REQUIRED)
find_program(MIXC_LLVM_LINK NAMES llvm-link-19 llvm-link PATHS ${MIXC_LLVM_BINDIR}
             NO_DEFAULT_PATH REQUIRED)

# ---- kernel bitcode ----
file(GLOB MIXC_BC_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/kernels/*.c)
file(GLOB MIXC_BC_HDR CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/kernels/*.h
     ${CMAKE_SOURCE_DIR}/runtime/kernels/*.def ${CMAKE_SOURCE_DIR}/runtime/*.h)
set(MIXC_BC_FLAGS -std=gnu11 -O2 -DNDEBUG -DMIXC_KERNEL_BITCODE -fPIC -fno-vectorize -fno-slp-vectorize -fno-unroll-loops
    -ffp-contract=off -fno-stack-protector -Wall -Wno-unused-parameter
    -I${CMAKE_SOURCE_DIR} -I${CMAKE_SOURCE_DIR}/runtime -I${CMAKE_SOURCE_DIR}/runtime/kernels)
set(MIXC_BC_DIR ${CMAKE_BINARY_DIR}/kernels_bc)
set(MIXC_BC_FILES)
foreach(src ${MIXC_BC_SRC})
  get_filename_component(name ${src} NAME_WE)
  set(bc ${MIXC_BC_DIR}/${name}.bc)
  add_custom_command(
    OUTPUT ${bc}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${MIXC_BC_DIR}
    COMMAND ${MIXC_CLANG} ${MIXC_BC_FLAGS} -emit-llvm -c ${src} -o ${bc}
    DEPENDS ${src} ${MIXC_BC_HDR}
    COMMENT "clang-19 -emit-llvm runtime/kernels/${name}.c"
    VERBATIM)
  list(APPEND MIXC_BC_FILES ${bc})
endforeach()
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/kernels.bc
  COMMAND ${MIXC_LLVM_LINK} ${MIXC_BC_FILES} -o ${CMAKE_BINARY_DIR}/kernels.bc
  DEPENDS ${MIXC_BC_FILES}
  COMMENT "llvm-link kernels.bc"
  VERBATIM)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/gen/kernels_bc.c
  COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_BINARY_DIR}/kernels.bc
          -DOUT=${CMAKE_BINARY_DIR}/gen/kernels_bc.c -DSYM=mixc_kernels_bc
          -P ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
  DEPENDS ${CMAKE_BINARY_DIR}/kernels.bc ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
  COMMENT "embedding kernels.bc"
  VERBATIM)
target_sources(mixc_core PRIVATE ${CMAKE_BINARY_DIR}/gen/kernels_bc.c)

# ---- libmixc uses LLVM's C API (one shared libLLVM-19) ----
target_include_directories(mixc_core SYSTEM PUBLIC ${MIXC_LLVM_INCLUDE})
target_link_libraries(mixc_core PUBLIC ${MIXC_LLVM_LIB})
# Where backend/aot.c finds libmixc_rt.a when it is not next to the running binary.
# MIXC_RT_LINK_LIBS: what an executable needs besides libmixc_rt.a.
set(MIXC_RT_LINK_LIBS "-lm -lpthread" CACHE STRING "libraries AOT executables link after libmixc_rt.a")
set_property(SOURCE ${CMAKE_SOURCE_DIR}/backend/aot.c APPEND PROPERTY COMPILE_DEFINITIONS
             MIXC_RT_LIB_DIR="${CMAKE_BINARY_DIR}" MIXC_RT_LINK_LIBS="${MIXC_RT_LINK_LIBS}")

# ---- libmixc_rt.a: what AOT executables link (no LLVM, no protobuf) ----
file(GLOB MIXC_RT_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/*.c
     ${CMAKE_SOURCE_DIR}/runtime/kernels/*.c)
add_library(mixc_rt STATIC ${MIXC_RT_SRC})
target_include_directories(mixc_rt PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/runtime)
target_compile_options(mixc_rt PRIVATE ${MIXC_WARNINGS})
set_target_properties(mixc_rt PROPERTIES POSITION_INDEPENDENT_CODE ON
                      ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
find_package(Threads REQUIRED)
target_link_libraries(mixc_rt PUBLIC m Threads::Threads)
target_link_libraries(mixc_core PUBLIC Threads::Threads)
# Anything that links libmixc can emit executables, so build the runtime first.
add_dependencies(mixc_core mixc_rt)
