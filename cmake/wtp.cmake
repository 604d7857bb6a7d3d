# Helpers that keep every component, tool and test target declared the same way.

# wtp_pch(TARGET ...): target_precompile_headers(TARGET ...) when WTP_PCH is ON. Every
# library, tool and benchmark reuses wtp_core's precompiled <torch/torch.h>, every test
# wtp_test_support's catch_torch.h (torch, then Catch2): one header parse per build tree.
function(wtp_pch target)
  if(WTP_PCH)
    target_precompile_headers(${target} ${ARGN})
  endif()
endfunction()

# wtp_component(NAME SOURCES a.cpp ... DEPS target ...)
# Builds the static library wtp_NAME from src/NAME. Its public headers are included
# as "NAME/header.h" (the include root is src/). DEPS are linked PUBLIC, so a component
# lists only what its own headers and sources use; the layering shows in these lists.
function(wtp_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  foreach(source ${ARG_SOURCES})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${source})
      message(FATAL_ERROR "wtp_${name}: source file ${CMAKE_CURRENT_SOURCE_DIR}/${source} does not exist "
                          "(add it or remove it from src/${name}/CMakeLists.txt)")
    endif()
  endforeach()
  add_library(wtp_${name} STATIC ${ARG_SOURCES})
  target_include_directories(wtp_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(wtp_${name} PUBLIC ${ARG_DEPS})
  if(name STREQUAL "core")
    wtp_pch(wtp_core PRIVATE <torch/torch.h>)
  else()
    wtp_pch(wtp_${name} REUSE_FROM wtp_core)
  endif()
  set_property(GLOBAL APPEND PROPERTY WTP_COMPONENTS wtp_${name})
endfunction()


# wtp_tests(NAME DEPS target ...), called from tests/NAME/CMakeLists.txt: tests/NAME/*.cpp -> build/bin/test_NAME, with each
# Catch2 test case registered in CTest. Test cases tagged [.slow] are hidden from the
# default run; run them with `build/bin/test_NAME "[slow]"`.
function(wtp_tests name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    message(FATAL_ERROR "tests/${name} has no .cpp files: add tests or remove its CMakeLists.txt")
  endif()
  add_executable(test_${name} ${sources})
  target_link_libraries(test_${name} PRIVATE wtp_test_support ${ARG_DEPS})
  wtp_pch(test_${name} REUSE_FROM wtp_test_support)
  catch_discover_tests(test_${name} TEST_PREFIX "${name}: "
                       WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                       PROPERTIES LABELS ${name} SKIP_REGULAR_EXPRESSION "WTP-SKIPPED: ")
endfunction()
