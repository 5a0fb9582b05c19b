# Compiles SOURCE twice with the project's include directories: as is, where it must FAIL with exactly
# one error line, that error containing MESSAGE; and with -DGCONVNET_COMPILE_FAIL_CONTROL, where it
# must compile (so the failure comes from the check, not from a broken test file).
# Prints "compile-fail check passed: ..." on success and "compile-fail check FAILED: ..." otherwise
# (the test's PASS_/FAIL_REGULAR_EXPRESSION read these lines).
#   cmake -DCOMPILER=... -DINCLUDES="a|b" -DSOURCE=... -DMESSAGE=... -P check_compile_fail.cmake
string(REPLACE "|" ";" _dirs "${INCLUDES}")
set(_flags -std=c++17 -fsyntax-only)
foreach(d ${_dirs})
  list(APPEND _flags "-I${d}")
endforeach()

execute_process(COMMAND ${COMPILER} ${_flags} -DGCONVNET_COMPILE_FAIL_CONTROL ${SOURCE}
  RESULT_VARIABLE control_rc OUTPUT_VARIABLE control_out ERROR_VARIABLE control_out)
if(NOT control_rc EQUAL 0)
  message("compile-fail check FAILED: the control build of ${SOURCE} does not compile:\n${control_out}")
  return()
endif()

execute_process(COMMAND ${COMPILER} ${_flags} ${SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message("compile-fail check FAILED: ${SOURCE} compiled, expected an error")
  return()
endif()
string(REGEX MATCHALL "error:[^\n]*" errors "${out}")
list(LENGTH errors n_errors)
string(FIND "${out}" "${MESSAGE}" at)
if(at EQUAL -1)
  message("compile-fail check FAILED: the error does not contain '${MESSAGE}':\n${out}")
elseif(NOT n_errors EQUAL 1)
  message("compile-fail check FAILED: ${n_errors} error lines, expected one:\n${out}")
else()
  message("compile-fail check passed: ${errors}")
endif()
