# Smoke test of synthesize_texture (smoke.cmake says how ctest runs it).
# 1. A tiny run on the bundled texture (2 stages of 3 iterations, a 32x32 canvas): every output decodes,
#    log.csv has finite figures in range.
# 2. The same run in two pieces (--stop-after inside stage 2, then --resume over a log.csv with a row
#    past the checkpoint and a row cut short, as a killed run leaves it): every output equal to those
#    of the run in one piece, byte for byte, and the log's rows too.
# 3. The first run's contact sheet (a wide PNG: centre crop and resize) as the observed image.
# 4. A resumed run continues the first run's checkpoint for more iterations.
# 5. --tileable on a 25x25 image at stride 2: the torus is 24x24 and the program says so; each tile
#    and its 2x2 preview (the same pixels: the same mean and spread) decode; the seam ratios printed.
# 6. --iterations 2,3 --keep-chains: the program describes its stages as such, log.csv has 2 + 3 rows
#    and the first row of stage 2 is iteration 2. (That the chains are kept is the learner's
#    reset_chains_on_grow, tested in the library; this test does not look at the chains.)
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
# (Langevin pinned to the previous default's cheaper L = 4, eps = 0.6: the test's cost under the sanitizers
# stays well inside its timeout whatever the default)
set(TINY --size 24 --chains 2 --layers conv:4:5:2:2,relu,conv:3:3:1:1,relu --snapshot-every 2 --seed 7 --threads 1
         --out-size 32 --out-steps 4 --step-size 0.6 --langevin-steps 4)

# 1. A tiny run.
set(out1 ${WORK_DIR}/run1)
smoke_run(text --out ${out1} --iterations 3 ${TINY})
expect_run_files(${out1})
# The chains start at the mean image: after 6 iterations they are about flat, near the gravel's mean (127).
foreach(f synthesized_00 synthesized_01)
  expect_png(${out1}/${f}.png 24 24 MEAN 110 145 STD 0 40)
endforeach()
expect_png(${out1}/large/synthesized_00.png 32 32 MEAN 110 145 STD 0 40)
# The observed gravel and two chains, in a row with white gaps: 3 x 24 + 4 x 4 by 24 + 2 x 4.
foreach(f contact_sheet snapshots/iter_0002 snapshots/iter_0006)
  expect_png(${out1}/${f}.png 88 32 MEAN 150 210 STD 40 100)
endforeach()
expect_png(${out1}/large/contact_sheet.png 0 0 MEAN 150 210 STD 40 100)
expect_csv(${out1}/log.csv ROWS 6)  # 2 stages x 3 iterations
expect_column(${out1}/log.csv stage 0 1)
expect_column(${out1}/log.csv active_observed 0 1)
expect_column(${out1}/log.csv active_synthesized 0 1)
expect_column(${out1}/log.csv learning_rate 2.5e-4 5e-4)  # halved at the second stage

# 2. The same run in two pieces.
set(out2 ${WORK_DIR}/run2)
smoke_run(text --out ${out2} --iterations 3 --stop-after 4 ${TINY})
if(EXISTS ${out2}/contact_sheet.png OR NOT text MATCHES "stopped \\(--stop-after\\) after iteration 4 of 6")
  message(FATAL_ERROR "--stop-after 4 did not stop after iteration 4:\n${text}")
endif()
# As a killed run would leave it: a row past the checkpoint's iteration, and a last row cut short.
file(APPEND ${out2}/log.csv "4,1,1,1,0,0.00025,0.001,0.5 0.5,0.5 0.5,1 1,1,1\n5,1,1,1,0,0.000")
smoke_run(text --out ${out2} --iterations 3 --resume ${out2}/checkpoint.safetensors ${TINY})
expect_same_files(${out1} ${out2} weights.safetensors checkpoint.safetensors synthesized_00.png synthesized_01.png
                  contact_sheet.png snapshots large)
expect_csv(${out2}/log.csv ROWS 6)
expect_column(${out2}/log.csv iteration 0 5)
file(STRINGS ${out1}/log.csv rows1)
file(STRINGS ${out2}/log.csv rows2)
list(GET rows1 5 row1)
list(GET rows2 5 row2)
string(REGEX REPLACE "^([^,]*,[^,]*,[^,]*,[^,]*).*" "\\1" row1 "${row1}")  # iteration, stage, scores
string(REGEX REPLACE "^([^,]*,[^,]*,[^,]*,[^,]*).*" "\\1" row2 "${row2}")
if(NOT row1 STREQUAL row2)
  message(FATAL_ERROR "log.csv after --resume: '${row2}', in one piece: '${row1}'")
endif()

# 3. A wide PNG as the observed image: load_image decodes it, the centre square is resized.
set(out3 ${WORK_DIR}/run3)
smoke_run(text ${out1}/contact_sheet.png --out ${out3} --iterations 1 ${TINY})
expect_png(${out3}/synthesized_00.png 24 24 MEAN 60 230)

# 4. Resume the first run for one more iteration per stage.
smoke_run(text --out ${out1} --iterations 4 --resume ${out1}/checkpoint.safetensors ${TINY})
expect_csv(${out1}/log.csv ROWS 8)  # 2 stages x 4 iterations

# 5. --tileable.
set(out5 ${WORK_DIR}/run5)
smoke_run(text --out ${out5} --iterations 2 --tileable --tileable-steps 4 --size 25 --chains 2
          --layers conv:4:5:2:2,relu,conv:3:3:1:1,relu --seed 7 --threads 1)
if(NOT text MATCHES "tileable: 2 tiles of 24x24 \\(25 rounded down to a multiple of 2, the strides' product\\)")
  message(FATAL_ERROR "--tileable on 25x25 did not say it tiles 24x24:\n${text}")
endif()
expect_number("${text}" "seam ratio \\(wrap-around seam / interior neighbours\\), tileable:" seam 0 100)
expect_number("${text}" "; plain:" plain_seam 0 1000)
foreach(n 00 01)
  expect_png(${out5}/tileable/synthesized_${n}.png 24 24)
  expect_png(${out5}/tileable/tiled_${n}.png 48 48)
  execute_process(COMMAND ${PNG_CHECK} ${out5}/tileable/synthesized_${n}.png OUTPUT_VARIABLE one)
  execute_process(COMMAND ${PNG_CHECK} ${out5}/tileable/tiled_${n}.png OUTPUT_VARIABLE four)
  string(REGEX REPLACE "^.* mean" "mean" one "${one}")
  string(REGEX REPLACE "^.* mean" "mean" four "${four}")
  if(NOT one STREQUAL four)
    message(FATAL_ERROR "tiled_${n}.png is not synthesized_${n}.png repeated: ${four} vs ${one}")
  endif()
endforeach()
# 6. Stages of different lengths, chains kept.
set(out6 ${WORK_DIR}/run6)
smoke_run(text --out ${out6} --iterations 2,3 --keep-chains ${TINY})
if(NOT text MATCHES "2 stages of 2, 3 iterations \\(chains kept across stages\\)")
  message(FATAL_ERROR "--iterations 2,3 --keep-chains: the program did not describe its stages:\n${text}")
endif()
expect_csv(${out6}/log.csv ROWS 5)
file(STRINGS ${out6}/log.csv rows6)
list(GET rows6 2 last_of_1)   # rows6[0] is the header
list(GET rows6 3 first_of_2)
if(NOT last_of_1 MATCHES "^1,0," OR NOT first_of_2 MATCHES "^2,1,")
  message(FATAL_ERROR "--iterations 2,3: rows 2 and 3 of log.csv are '${last_of_1}' and '${first_of_2}', "
                      "expected iteration 1 in stage 0 and iteration 2 in stage 1")
endif()

message(STATUS "synthesize_texture smoke test passed")
