# Helpers that keep every component, tool and test target declared the same way.

# wtp_component(NAME SOURCES a.cpp ... DEPS target ...)
# Builds the static library wtp_NAME from src/NAME. Its public headers are included
# as "NAME/header.h" (the include root is src/). DEPS are linked PUBLIC, so a component
# lists only what its own headers and sources use; the layering shows in these lists.
function(wtp_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  # A component whose sources are not all there yet (work in progress in a shared tree)
  # is left out with a warning instead of breaking every other target's configure; its
  # users then fail to link, which names it.
  foreach(source ${ARG_SOURCES})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${source})
      message(WARNING "wtp_${name} left out: ${source} does not exist")
      return()
    endif()
  endforeach()
  add_library(wtp_${name} STATIC ${ARG_SOURCES})
  target_include_directories(wtp_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(wtp_${name} PUBLIC ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY WTP_COMPONENTS wtp_${name})
endfunction()


# wtp_tests(NAME DEPS target ...), called from tests/NAME/CMakeLists.txt: tests/NAME/*.cpp -> build/bin/test_NAME, with each
# Catch2 test case registered in CTest. Test cases tagged [.slow] are hidden from the
# default run; run them with `build/bin/test_NAME "[slow]"`.
function(wtp_tests name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT sources)
    message(WARNING "test_${name} left out: tests/${name} has no .cpp files yet")
    return()
  endif()
  add_executable(test_${name} ${sources})
  target_link_libraries(test_${name} PRIVATE wtp_test_support ${ARG_DEPS})
  catch_discover_tests(test_${name} TEST_PREFIX "${name}: "
                       WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                       PROPERTIES LABELS ${name} SKIP_REGULAR_EXPRESSION "WTP-SKIPPED: ")
endfunction()
