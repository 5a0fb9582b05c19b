# Smoke test of cd_reconstruct (smoke.cmake says how ctest runs it).
# 1. A tiny run on the bundled images: every output decodes; the printed reconstruction errors parse
#    (one line per image, then their mean and ratio) and lie in range, as do errors.csv and log.csv.
# 2. The same run in two pieces (fewer iterations, then --resume with the full count): every output
#    equal to those of the run in one piece, byte for byte.
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
set(TINY --size 16 --layers conv:4:5:2:2,relu,fc:2 --grade-steps 50 --snapshot-every 2 --seed 7 --threads 1)

# The printed errors: "image N  before X  after Y  FILE" per image, then "mean  before X  after Y  ratio Z".
# Untrained weights (N(0, 0.01²)) give B ≈ 0: GRADE shrinks every image to about 0, an error of about 1;
# after learning an error is in [0, 2] (a reconstruction no farther from I than I is from -I).
function(expect_errors text count)
  string(REGEX MATCHALL "image +[0-9]+  before ${SMOKE_NUMBER}  after ${SMOKE_NUMBER}" lines "${text}")
  list(LENGTH lines n)
  if(NOT n EQUAL count)
    message(FATAL_ERROR "found ${n} per-image error lines, expected ${count}:\n${text}")
  endif()
  foreach(line ${lines})
    expect_number("${line}" "before" before 0.9 1.01)
    expect_number("${line}" "after" after 0 2)
  endforeach()
  expect_number("${text}" "ratio" ratio 0 2.3)
endfunction()

# 1. A tiny run of 4 CD iterations.
set(out1 ${WORK_DIR}/run1)
smoke_run(text1 --out ${out1} --iterations 4 ${TINY})
expect_run_files(${out1})
expect_errors("${text1}" 10)
foreach(i 00 01 09)
  expect_png(${out1}/reconstruction_${i}.png 16 16 MEAN 100 190)  # about the mean smiley
endforeach()
# 10 observed images in the first row, their reconstructions below: 10 × 16 + 11 × 4 by 2 × 16 + 3 × 4.
foreach(f contact_sheet snapshots/iter_0002 snapshots/iter_0004)
  expect_png(${out1}/${f}.png 204 44 MEAN 150 230 STD 40 100)
endforeach()
expect_csv(${out1}/errors.csv ROWS 10)
expect_column(${out1}/errors.csv before 0.9 1.01)
expect_column(${out1}/errors.csv after 0 2)
expect_csv(${out1}/log.csv ROWS 4)
expect_column(${out1}/log.csv one_shot_error 0 2)
expect_column(${out1}/log.csv active_observed 0 1)

# 2. Two iterations, then --resume to four: the same outputs as the run in one piece.
set(out2 ${WORK_DIR}/run2)
smoke_run(text2a --out ${out2} --iterations 2 ${TINY})
smoke_run(text2 --out ${out2} --iterations 4 --resume ${out2}/checkpoint.safetensors ${TINY})
expect_errors("${text2}" 10)
string(REGEX MATCH "mean  before [^\n]*" mean1 "${text1}")
string(REGEX MATCH "mean  before [^\n]*" mean2 "${text2}")
if(NOT mean1 STREQUAL mean2)
  message(FATAL_ERROR "resumed: '${mean2}', in one piece: '${mean1}'")
endif()
expect_same_files(${out1} ${out2} weights.safetensors checkpoint.safetensors errors.csv contact_sheet.png
                  reconstruction_00.png reconstruction_09.png snapshots/iter_0004.png)
expect_csv(${out2}/log.csv ROWS 4)
message(STATUS "cd_reconstruct smoke test passed")
