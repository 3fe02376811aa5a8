# Runs with `cmake -P`. Installs the recmix build tree into a scratch prefix,
# then configures, builds and runs the consumer project in tests/consumer.
#
# Required: RECMIX_BUILD_DIR, CONSUMER_SOURCE_DIR, WORK_DIR
# Optional: CONFIG, GENERATOR, MAKE_PROGRAM, CXX_COMPILER, EXPECTED_VERSION

cmake_minimum_required(VERSION 3.20)

foreach(_var IN ITEMS RECMIX_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: ${_var} must be set")
  endif()
endforeach()

set(_prefix "${WORK_DIR}/prefix")
set(_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step description)
  message(STATUS "consumer test: ${description}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "consumer test: '${description}' failed (${_rc})")
  endif()
endfunction()

set(_config_args "")
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()

# (a) install
run_step("install into ${_prefix}"
  "${CMAKE_COMMAND}" --install "${RECMIX_BUILD_DIR}" --prefix "${_prefix}" ${_config_args})

# (b) configure the consumer against the scratch prefix only
set(_configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${_build}"
  "-DCMAKE_PREFIX_PATH=${_prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(GENERATOR)
  list(APPEND _configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CONFIG)
  list(APPEND _configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(EXPECTED_VERSION)
  list(APPEND _configure_args "-DRECMIX_EXPECTED_VERSION=${EXPECTED_VERSION}")
endif()
run_step("configure consumer" "${CMAKE_COMMAND}" ${_configure_args})

# (c) build and run
run_step("build consumer" "${CMAKE_COMMAND}" --build "${_build}" ${_config_args})

foreach(_exe IN ITEMS consumer consumer_serialization)
  set(_candidates "${_build}/${_exe}" "${_build}/${_exe}.exe")
  if(CONFIG)
    list(APPEND _candidates "${_build}/${CONFIG}/${_exe}" "${_build}/${CONFIG}/${_exe}.exe")
  endif()
  set(_path "")
  foreach(_candidate IN LISTS _candidates)
    if(EXISTS "${_candidate}" AND NOT IS_DIRECTORY "${_candidate}")
      set(_path "${_candidate}")
      break()
    endif()
  endforeach()
  if(NOT _path)
    message(FATAL_ERROR "consumer test: executable ${_exe} not found in ${_build}")
  endif()
  run_step("run ${_exe}" "${_path}")
endforeach()

message(STATUS "consumer test: OK")
