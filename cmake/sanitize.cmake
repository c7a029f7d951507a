# sanitize.cmake - MIXC_SANITIZE=ON builds every C target (libmixc, the
# driver, libmixc_rt.a, the tests; not the kernel bitcode, which is compiled by
# its own custom commands) with AddressSanitizer and UndefinedBehaviorSanitizer.
# UB is fatal (-fno-sanitize-recover) so that it fails the tests.
# libmixc_rt.a (what AOT executables link) is left uninstrumented.
#
# Run the tests with ASAN_OPTIONS=detect_leaks=1 (tests/CMakeLists.txt sets it,
# with a distinct exit code 86 so a sanitizer report never passes for exit 1).
#
# Requires: included from the top-level CMakeLists.txt after project() and
# before any target is defined; gcc or clang.
if(MIXC_SANITIZE)
  set(MIXC_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${MIXC_SAN_FLAGS})
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "mixc: building with -fsanitize=address,undefined")
  # libmixc_rt.a stays uninstrumented: `mixc compile` and users' programs link
  # it with a plain cc. (The same runtime sources are instrumented inside
  # libmixc, which the JIT and interpreter paths exercise.)
  function(mixc_unsanitize_rt)
    get_target_property(opts mixc_rt COMPILE_OPTIONS)
    list(REMOVE_ITEM opts ${MIXC_SAN_FLAGS})
    set_target_properties(mixc_rt PROPERTIES COMPILE_OPTIONS "${opts}")
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL mixc_unsanitize_rt)
endif()

# MIXC_FUZZ=ON (clang only): everything is instrumented for libFuzzer plus
# ASan/UBSan, and tests/fuzz adds the fuzz_import target. Use tests/fuzz/run.sh.
option(MIXC_FUZZ "build the libFuzzer target tests/fuzz/fuzz_import (clang only)" OFF)
if(MIXC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MIXC_FUZZ needs clang (CC=clang-19)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/../tests/fuzz ${CMAKE_BINARY_DIR}/fuzz)
endif()
