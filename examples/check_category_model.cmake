# Smoke test of category_model (smoke.cmake says how ctest runs it).
# 1. A tiny run on the bundled smileys and faces (3 held out of each): every output decodes, the printed
#    accuracies and log-likelihoods parse and lie in range, the tables have their rows and ranges.
# 2. The same run in two pieces, stopped at the end of the first phase (the boundary between two
#    learners), and again inside the discriminative phase, then --resume: every output equal to those of
#    the run in one piece, byte for byte, and the same printed results.
# 3. Refusals, one line and exit 1: too few images for --held-out; a checkpoint of other categories.
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
set(TINY --size 16 --layers conv:4:5:2:2,relu,fc:4,relu --mle-iterations 3 --discriminative-iterations 3 --chains 2
         --langevin-steps 2 --ais-temperatures 10 --ais-chains 4 --ais-runs 2 --sample-steps 5 --snapshot-every 2
         --seed 7 --threads 1)

# The printed results of a run: both accuracies in [0, 1], four log-likelihoods in bits per dimension
# (a 16x16 RGB density of 0-255 intensities: near the ~8 bits of white noise of the data's energy when
# barely learned; [0, 40] rules out a sign or unit error), every AIS line with a finite log Z. Returns
# the lines that must be equal after a resume.
function(expect_results text out_var)
  string(REPLACE ";" "," text "${text}")  # a result line holds "; ", which would split it as a CMake list
  expect_number("${text}" "\\(a\\) held-out accuracy" a 0 1)
  expect_number("${text}" "\\(b\\) held-out accuracy" b 0 1)
  string(REGEX MATCHALL "\\((a|b)\\) [a-z]+: [^\n]*bits/dim ${SMOKE_NUMBER}" lines "${text}")
  list(LENGTH lines n)
  if(NOT n EQUAL 4)
    message(FATAL_ERROR "found ${n} per-category result lines, expected 4:\n${text}")
  endif()
  foreach(line ${lines})
    expect_number("${line}" "log Z" log_z -1e9 1e9)
    expect_number("${line}" "bits/dim" bits 0 40)
  endforeach()
  string(REGEX MATCHALL "held-out accuracy [^\n]*|log Z [-0-9.]+ s.e. [0-9.]+|bits/dim [^\n]*" same "${text}")
  set(${out_var} "${same}" PARENT_SCOPE)
endfunction()

# 1. A tiny run: 3 iterations of MLE per category, then 3 of the classifier.
set(out1 ${WORK_DIR}/run1)
smoke_run(text1 --out ${out1} ${TINY})
expect_run_files(${out1})
expect_results("${text1}" results1)
expect_file(${out1}/weights_smiley.safetensors)
expect_file(${out1}/weights_face.safetensors)
# Per category a row of 4 training images, 2 + 2 samples; 16 px enlarged 4 times: 8 x 64 + 9 x 4 by 2 x 64 + 3 x 4.
expect_png(${out1}/contact_sheet.png 548 140 MEAN 60 230 STD 20 110)
# Snapshots of the MLE phases: a category's training images above its 2 chains (7 smileys, 13 faces);
# none in the discriminative phase (iterations 7-9).
foreach(f iter_0002 iter_0003)
  expect_png(${out1}/snapshots/${f}.png 144 44 MEAN 100 250)
endforeach()
foreach(f iter_0004 iter_0006)
  expect_png(${out1}/snapshots/${f}.png 264 44 MEAN 100 250)
endforeach()
if(EXISTS ${out1}/snapshots/iter_0008.png)
  message(FATAL_ERROR "a snapshot was written in the discriminative phase")
endif()
expect_csv(${out1}/log.csv ROWS 9)
expect_column(${out1}/log.csv phase 0 2)
expect_column(${out1}/log.csv learning_rate 1e-3 1e-2)
expect_column(${out1}/log.csv accuracy 0 1)
expect_csv(${out1}/results.csv ROWS 4)
expect_column(${out1}/results.csv standard_error 0 10)
expect_column(${out1}/results.csv acceptance 0 1)
expect_column(${out1}/results.csv held_out_bits_per_dim 0 40)
expect_column(${out1}/results.csv training_bits_per_dim 0 40)
expect_csv(${out1}/held_out.csv ROWS 6)
foreach(column a_smiley a_face b_smiley b_face b_base)
  expect_column(${out1}/held_out.csv ${column} 0 1)
endforeach()

# 2. Stopped at the end of phase 1 (smiley), and inside phase 3 (the classifier); resumed.
foreach(stop 3 8)
  set(out ${WORK_DIR}/stop${stop})
  smoke_run(text --out ${out} --stop-after ${stop} ${TINY})
  if(EXISTS ${out}/contact_sheet.png)
    message(FATAL_ERROR "--stop-after ${stop} wrote the final outputs")
  endif()
  smoke_run(text --out ${out} --resume ${out}/checkpoint.safetensors ${TINY})
  expect_results("${text}" results)
  if(NOT results STREQUAL results1)
    message(FATAL_ERROR "resumed after ${stop}: '${results}', in one piece: '${results1}'")
  endif()
  expect_same_files(${out1} ${out} weights.safetensors weights_smiley.safetensors weights_face.safetensors
                    checkpoint.safetensors results.csv held_out.csv contact_sheet.png snapshots)
  expect_csv(${out}/log.csv ROWS 9)
  expect_no_temp_files(${out})
endforeach()

# 3. Refusals.
set(smiley ${CMAKE_CURRENT_LIST_DIR}/data/objects/smiley)
set(face ${CMAKE_CURRENT_LIST_DIR}/data/objects/face)
smoke_fails(line ${smiley} ${face} --out ${WORK_DIR}/few --held-out 10 ${TINY})
if(NOT line MATCHES "^category_model: the category '.*smiley' has 10 images; --held-out 10 needs at least 11$")
  message(FATAL_ERROR "unexpected message: ${line}")
endif()
smoke_fails(line ${face} ${smiley} --out ${WORK_DIR}/swapped --resume ${out1}/checkpoint.safetensors ${TINY})
if(NOT line MATCHES "was written for the phases mle_smiley; mle_face; discriminative; this run has mle_face; mle_smiley")
  message(FATAL_ERROR "unexpected message: ${line}")
endif()
message(STATUS "category_model smoke test passed")
