# Checks that the ```cpp block of README.md's "A first program" section is byte for byte the example
# program it claims to be, so that the README stays true.
#   cmake -DREADME=<README.md> -DEXAMPLE=<examples/random_model.cpp> -P check_first_program.cmake
# Fails (FATAL_ERROR) when the section or its block is missing or when the two differ.
cmake_minimum_required(VERSION 3.16)

foreach(var README EXAMPLE)
  if(NOT DEFINED ${var} OR NOT EXISTS "${${var}}")
    message(FATAL_ERROR "check_first_program: -D${var}=<file> is required and must exist (got '${${var}}')")
  endif()
endforeach()

file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)

set(heading "\n## A first program\n")
string(FIND "${readme}" "${heading}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "check_first_program: ${README} has no '## A first program' section")
endif()
string(LENGTH "${heading}" heading_length)
math(EXPR at "${at} + ${heading_length}")
string(SUBSTRING "${readme}" ${at} -1 section)
# the section ends at the next level-2 heading
string(FIND "${section}" "\n## " next)
if(NOT next EQUAL -1)
  string(SUBSTRING "${section}" 0 ${next} section)
endif()

set(open "```cpp\n")
string(FIND "${section}" "${open}" begin)
if(begin EQUAL -1)
  message(FATAL_ERROR "check_first_program: the 'A first program' section of ${README} has no ```cpp block")
endif()
string(LENGTH "${open}" open_length)
math(EXPR begin "${begin} + ${open_length}")
string(SUBSTRING "${section}" ${begin} -1 block)
string(FIND "${block}" "\n```" end)
if(end EQUAL -1)
  message(FATAL_ERROR "check_first_program: the ```cpp block of 'A first program' in ${README} is not closed")
endif()
math(EXPR end "${end} + 1")  # keep the block's last newline: the file ends with one too
string(SUBSTRING "${block}" 0 ${end} block)

if(NOT block STREQUAL example)
  # Name the first line that differs (walking both texts line by line, without CMake lists, which
  # would mangle ';' and '[').
  set(line 1)
  set(a "${block}")
  set(b "${example}")
  while(TRUE)
    string(FIND "${a}" "\n" ea)
    string(FIND "${b}" "\n" eb)
    if(ea EQUAL -1 OR eb EQUAL -1)
      set(where "one ends at line ${line}, the other goes on")
      break()
    endif()
    string(SUBSTRING "${a}" 0 ${ea} la)
    string(SUBSTRING "${b}" 0 ${eb} lb)
    if(NOT la STREQUAL lb)
      set(where "first difference at line ${line}:\n  README:  ${la}\n  example: ${lb}")
      break()
    endif()
    math(EXPR ea "${ea} + 1")
    math(EXPR eb "${eb} + 1")
    string(SUBSTRING "${a}" ${ea} -1 a)
    string(SUBSTRING "${b}" ${eb} -1 b)
    math(EXPR line "${line} + 1")
  endwhile()
  message(FATAL_ERROR "check_first_program: the ```cpp block of 'A first program' in ${README} differs from "
                      "${EXAMPLE}; ${where}")
endif()
message(STATUS "check_first_program: README's first program is ${EXAMPLE}")
