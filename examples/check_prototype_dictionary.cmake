# Smoke test of prototype_dictionary (run by ctest as `cmake -DPROGRAM=... -DWORK_DIR=... -P this`).
# 1. A tiny run on the bundled texture: every output exists and is complete, the printed moment
#    mismatches and their ratio parse as numbers, moments.csv has one row per filter.
# 2. A resumed run continues the first run's checkpoint for more iterations (log.csv grows).
# 3. The first run's filter grid (a PNG written by the program) as the input image, in colour.
cmake_minimum_required(VERSION 3.16)
foreach(v PROGRAM WORK_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_prototype_dictionary.cmake: -D${v}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
set(TINY --filters 4 --patch-size 6 --patches 64 --chains 8 --langevin-steps 2 --eval-chains 32 --eval-steps 5
         --checkpoint-every 2 --seed 7 --threads 1)

function(run out_var)
  execute_process(COMMAND ${PROGRAM} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "prototype_dictionary ${ARGN} exited with ${rc}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# A PNG file: the signature, and the IEND chunk at the very end; width and height when given (> 0).
function(expect_png path width height)
  if(NOT EXISTS ${path})
    message(FATAL_ERROR "missing output: ${path}")
  endif()
  file(READ ${path} head LIMIT 24 HEX)
  string(SUBSTRING "${head}" 0 16 signature)
  if(NOT signature STREQUAL "89504e470d0a1a0a")
    message(FATAL_ERROR "${path} is not a PNG (starts with ${signature})")
  endif()
  string(SUBSTRING "${head}" 32 8 w_hex)
  string(SUBSTRING "${head}" 40 8 h_hex)
  math(EXPR w "0x${w_hex}")
  math(EXPR h "0x${h_hex}")
  if(width GREATER 0 AND (NOT w EQUAL width OR NOT h EQUAL height))
    message(FATAL_ERROR "${path} is ${w}x${h}, expected ${width}x${height}")
  endif()
  file(SIZE ${path} size)
  math(EXPR tail_offset "${size} - 8")
  file(READ ${path} tail OFFSET ${tail_offset} HEX)
  if(NOT tail STREQUAL "49454e44ae426082")
    message(FATAL_ERROR "${path} is truncated (no IEND chunk at the end)")
  endif()
endfunction()

function(expect_nonempty path)
  if(NOT EXISTS ${path})
    message(FATAL_ERROR "missing output: ${path}")
  endif()
  file(SIZE ${path} size)
  if(size LESS 16)
    message(FATAL_ERROR "${path} has only ${size} bytes")
  endif()
endfunction()

# The number after `label` in the program's output (a decimal number, possibly in e-notation).
function(expect_number output label out_var)
  set(number "[0-9]+(\\.[0-9]*)?(e[-+]?[0-9]+)?")
  if(NOT output MATCHES "${label} *(${number})")
    message(FATAL_ERROR "no number after '${label}' in the output:\n${output}")
  endif()
  set(${out_var} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

function(expect_lines path n)
  file(STRINGS ${path} rows)
  list(LENGTH rows count)
  if(NOT count EQUAL n)
    message(FATAL_ERROR "${path} has ${count} lines, expected ${n}")
  endif()
endfunction()

# 1. A tiny run: 4 filters of 6x6 (each cell 6x6 enlarged 6 times: 36 px), 6 iterations.
set(out1 ${WORK_DIR}/run1)
run(output --out ${out1} --iterations 6 ${TINY})
expect_png(${out1}/filters.png 154 40)  # 4 cells of 36 px in one row, gaps of 2
expect_png(${out1}/observed.png 0 0)
expect_png(${out1}/synthesized.png 0 0)
expect_png(${out1}/piece_means.png 0 0)
expect_png(${out1}/overview.png 0 0)
expect_nonempty(${out1}/checkpoint.safetensors)
expect_nonempty(${out1}/weights.safetensors)
expect_lines(${out1}/moments.csv 5)  # header + 4 filters
expect_lines(${out1}/log.csv 7)      # header + 6 iterations
expect_number("${output}" "moment mismatch D at initialisation:" initial)
expect_number("${output}" "moment mismatch D after learning:" learned)
expect_number("${output}" "moment mismatch ratio \\(after / initialisation\\):" ratio)
if(initial MATCHES "^0(\\.0*)?$")
  message(FATAL_ERROR "the moment mismatch at initialisation is 0: the statistic says nothing")
endif()
message(STATUS "mismatch ${initial} -> ${learned} (ratio ${ratio})")
file(GLOB leftovers ${out1}/*.tmp-*)
if(leftovers)
  message(FATAL_ERROR "temporary files left behind: ${leftovers}")
endif()

# 2. Resume the first run's checkpoint for 3 more iterations (the last third of 9: at eta/10).
run(output --out ${out1} --iterations 9 --resume ${out1}/checkpoint.safetensors ${TINY})
if(NOT output MATCHES "resumed from .* at iteration 6")
  message(FATAL_ERROR "the resumed run did not start at iteration 6:\n${output}")
endif()
expect_lines(${out1}/log.csv 10)  # header + 9 iterations
expect_number("${output}" "moment mismatch ratio \\(after / initialisation\\):" ratio)

# 3. A PNG the program wrote, read back as the image to learn from, in colour.
set(out2 ${WORK_DIR}/run2)
run(output ${out1}/overview.png --out ${out2} --iterations 2 --channels 3 ${TINY})
expect_png(${out2}/filters.png 154 40)
message(STATUS "prototype_dictionary smoke test passed")
