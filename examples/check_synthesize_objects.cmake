# Smoke test of synthesize_objects (smoke.cmake says how ctest runs it).
# 1. A tiny run on the bundled images with layer growing (2 stages of 3 iterations): every output
#    decodes, log.csv and stages.csv have the rows and figures expected.
# 2. The same run in two pieces (--stop-after inside stage 2, then --resume): every output equal to
#    those of the run in one piece, byte for byte.
# 3. --iterations changed on --resume: the finished stage keeps its 3 iterations, the iterations are
#    numbered on without a gap.
# 4. Explicit image files, one of them non-square (the first run's contact sheet), learned all at once.
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
set(TINY --size 16 --chains 2 --layers conv:4:5:2:2,relu,conv:3:3:1:1,relu,fc:1 --langevin-steps 2
         --snapshot-every 2 --seed 7 --threads 1)

# 1. A tiny run: 2 stages (conv + fc, then conv, conv + fc) of 3 iterations.
set(out1 ${WORK_DIR}/run1)
smoke_run(text --out ${out1} --iterations 3 ${TINY})
expect_run_files(${out1})
foreach(f synthesized_00 synthesized_01)
  expect_png(${out1}/${f}.png 16 16 MEAN 110 180 STD 20 80)  # about the mean smiley's colours
endforeach()
# 10 training images in the first row, 2 synthesized below: 10 x 16 + 11 x 4 by 2 x 16 + 3 x 4.
foreach(f contact_sheet snapshots/iter_0002 snapshots/iter_0003 snapshots/iter_0004 snapshots/iter_0006)
  expect_png(${out1}/${f}.png 204 44 MEAN 180 250 STD 40 100)
endforeach()
expect_csv(${out1}/log.csv ROWS 6)
expect_column(${out1}/log.csv iteration 0 5)
expect_column(${out1}/log.csv stage 0 1)
expect_column(${out1}/log.csv active_observed 0 1)
expect_column(${out1}/log.csv learning_rate 2.5e-3 5e-3)
expect_csv(${out1}/stages.csv ROWS 2)
expect_column(${out1}/stages.csv first_iteration 0 3)

# 2. The first run in two pieces: stop inside stage 2, resume.
set(out2 ${WORK_DIR}/run2)
smoke_run(text --out ${out2} --iterations 3 --stop-after 4 ${TINY})
if(EXISTS ${out2}/contact_sheet.png)
  message(FATAL_ERROR "--stop-after 4 wrote the final outputs")
endif()
smoke_run(text --out ${out2} --iterations 3 --resume ${out2}/checkpoint.safetensors ${TINY})
expect_same_files(${out1} ${out2} weights.safetensors checkpoint.safetensors synthesized_00.png synthesized_01.png
                  contact_sheet.png stages.csv snapshots)
expect_csv(${out2}/log.csv ROWS 6)

# 3. Stop inside stage 2, resume with --iterations 4: stage 1 stays 3 long, stage 2 runs 4.
set(out3 ${WORK_DIR}/run3)
smoke_run(text --out ${out3} --iterations 3 --stop-after 4 ${TINY})
smoke_run(text --out ${out3} --iterations 4 --resume ${out3}/checkpoint.safetensors ${TINY})
expect_csv(${out3}/log.csv ROWS 7)
file(STRINGS ${out3}/log.csv rows)
set(numbers "")
foreach(row IN LISTS rows)
  if(row MATCHES "^([0-9]+),([0-9]+),")
    string(APPEND numbers "${CMAKE_MATCH_1}:${CMAKE_MATCH_2} ")
  endif()
endforeach()
if(NOT numbers STREQUAL "0:0 1:0 2:0 3:1 4:1 5:1 6:1 ")
  message(FATAL_ERROR "iteration:stage in log.csv after --resume with --iterations 4: ${numbers}")
endif()

# 4. Two files and a wide PNG (centre square, resized) as the training set, all layers at once.
set(out4 ${WORK_DIR}/run4)
file(GLOB bundled ${CMAKE_CURRENT_LIST_DIR}/data/objects/smiley/*.png)
list(GET bundled 0 first)
list(GET bundled 1 second)
smoke_run(text ${first} ${second} ${out1}/contact_sheet.png --out ${out4} --iterations 2 --schedule all ${TINY})
expect_png(${out4}/synthesized_00.png 16 16 MEAN 100 200)
expect_png(${out4}/contact_sheet.png 64 44)  # 3 training images, 2 synthesized
message(STATUS "synthesize_objects smoke test passed")
