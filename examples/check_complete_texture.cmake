# Smoke test of complete_texture (smoke.cmake says how ctest runs it).
# 1. A tiny run on the bundled gravel with a 48x48 hole (2 stages of 3 iterations, a 2-layer net):
#    every output decodes with its size, the program read its completions back and found every known
#    pixel the photograph's, log.csv has finite figures in range.
# 2. The same run in two pieces (--stop-after inside stage 2, then --resume): every output equal to
#    those of the run in one piece, byte for byte.
# 3. --mask (the bundled ellipse) and --expand: the sizes, the known pixels exact.
# 4. Bad requests: a hole outside the photograph, two ways of saying what is unknown, none, and a
#    mask that leaves no response of known pixels only: one line each, exit status 1.
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
set(GRAVEL ${CMAKE_CURRENT_LIST_DIR}/data/gravel_128.png)
# (Langevin pinned to the previous default's cheaper L = 4, eps = 0.6: the test's cost under the sanitizers
# stays well inside its timeout whatever the default)
set(TINY --chains 2 --layers conv:4:5:2:2,relu,conv:3:3:1:1,relu --iterations 3 --fill-steps 4 --snapshot-every 2
         --seed 7 --threads 1 --step-size 0.6 --langevin-steps 4)

# "known pixels changed in the written completions: 0 of N"
function(expect_known_exact text)
  expect_number("${text}" "known pixels changed in the written completions:" changed 0 0)
endfunction()

# 1. A tiny run with a central hole.
set(out1 ${WORK_DIR}/run1)
smoke_run(text ${GRAVEL} --hole 40,40,48,48 --out ${out1} ${TINY})
expect_run_files(${out1})
expect_known_exact("${text}")
# 48 x 48 unknown pixels on the 128 x 128 photograph
expect_number("${text}" "\\(128x128\\)," unknown 2304 2304)
foreach(f completed_00 completed_01)
  expect_png(${out1}/${f}.png 128 128 MEAN 100 160 STD 20 80)
endforeach()
# the learner's chains after 6 iterations of a tiny net: about flat, near the gravel's mean (127)
expect_png(${out1}/synthesized_00.png 128 128 MEAN 100 160 STD 0 40)
# the photograph with a white hole and two completions in a row: 3 x 128 + 4 x 4 by 128 + 2 x 4
expect_png(${out1}/before_after.png 400 136 MEAN 120 200)
foreach(f snapshots/iter_0002 snapshots/iter_0006)
  expect_png(${out1}/${f}.png 400 136)
endforeach()
expect_csv(${out1}/log.csv ROWS 6)
expect_column(${out1}/log.csv stage 0 1)
expect_column(${out1}/log.csv active_observed 0 1)

# 2. The same run in two pieces.
set(out2 ${WORK_DIR}/run2)
smoke_run(text ${GRAVEL} --hole 40,40,48,48 --out ${out2} --stop-after 4 ${TINY})
if(EXISTS ${out2}/completed_00.png OR NOT text MATCHES "stopped \\(--stop-after\\) after iteration 4 of 6")
  message(FATAL_ERROR "--stop-after 4 did not stop after iteration 4:\n${text}")
endif()
smoke_run(text ${GRAVEL} --hole 40,40,48,48 --out ${out2} --resume ${out2}/checkpoint.safetensors ${TINY})
expect_same_files(${out1} ${out2} weights.safetensors checkpoint.safetensors completed_00.png completed_01.png
                  synthesized_00.png synthesized_01.png before_after.png snapshots)

# 3. --mask and --expand.
set(out3 ${WORK_DIR}/run3)
smoke_run(text ${GRAVEL} --mask ${CMAKE_CURRENT_LIST_DIR}/data/hole_mask_128.png --out ${out3} ${TINY})
expect_known_exact("${text}")
expect_png(${out3}/completed_00.png 128 128 MEAN 100 160)
set(out4 ${WORK_DIR}/run4)
smoke_run(text ${GRAVEL} --expand 160 --out ${out4} ${TINY})
expect_known_exact("${text}")
expect_number("${text}" "\\(128x128\\)," unknown 9216 9216)  # 160² − 128²
expect_png(${out4}/completed_00.png 160 160 MEAN 80 180)
expect_png(${out4}/before_after.png 496 168)

# 4. Bad requests.
function(expect_refusal pattern)
  execute_process(COMMAND ${PROGRAM} ${GRAVEL} --out ${WORK_DIR}/bad ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "${pattern}")
    message(FATAL_ERROR "${ARGN}: exit ${rc}, expected 1 and '${pattern}':\n${out}\n${err}")
  endif()
endfunction()
expect_refusal("--hole 100,40,48,48 is not inside the 128x128 photograph" --hole 100,40,48,48 ${TINY})
expect_refusal("excludes" --hole 40,40,48,48 --expand 200 ${TINY})
expect_refusal("one of --hole, --mask and --expand is required" ${TINY})
expect_refusal("--expand 100 is smaller than the 128x128 photograph" --expand 100 ${TINY})
# the photograph as its own mask: almost every pixel unknown
expect_refusal("leaves no response of layer 1 \\(stage 0\\)" --mask ${GRAVEL} ${TINY})
message(STATUS "complete_texture smoke test passed")
