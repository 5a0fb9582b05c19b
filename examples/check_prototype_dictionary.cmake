# Smoke test of prototype_dictionary (smoke.cmake says how ctest runs it).
# 1. A tiny run on the bundled texture: every output decodes, the printed moment mismatches and their
#    ratio parse and lie in range, moments.csv has one row per filter with frequencies in [0, 1].
# 2. The same run in two pieces (--stop-after in the last third, at eta/10, then --resume): every
#    output equal to those of the run in one piece, byte for byte.
# 3. A resumed run continues the first run's checkpoint for more iterations (log.csv grows).
# 4. The first run's overview (a PNG written by the program) as the input image, in colour.
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
set(TINY --filters 4 --patch-size 6 --patches 64 --chains 8 --langevin-steps 2 --eval-chains 32 --eval-steps 5
         --checkpoint-every 2 --seed 7 --threads 1)

# 1. A tiny run: 4 filters of 6x6 (each cell 6x6 enlarged 6 times: 36 px), 6 iterations.
set(out1 ${WORK_DIR}/run1)
smoke_run(output --out ${out1} --iterations 6 ${TINY})
expect_run_files(${out1})
expect_png(${out1}/filters.png 154 40 MEAN 60 200 STD 5 120)  # 4 cells of 36 px in one row, gaps of 2
foreach(f observed synthesized piece_means overview)
  expect_png(${out1}/${f}.png 0 0 MEAN 30 230)
endforeach()
expect_png(${out1}/observed.png 0 0 STD 10 120)  # gravel patches, ±3 RMS spanning 0-255
expect_csv(${out1}/moments.csv ROWS 4)
foreach(column initial_frequency_observed initial_frequency_synthesized frequency_observed frequency_synthesized)
  expect_column(${out1}/moments.csv ${column} 0 1)
endforeach()
expect_csv(${out1}/log.csv ROWS 6)
expect_column(${out1}/log.csv on_observed 0 1)
expect_column(${out1}/log.csv learning_rate 0.005 0.05)
expect_number("${output}" "moment mismatch D at initialisation:" initial 1e-6 10)
expect_number("${output}" "moment mismatch D after learning:" learned 0 10)
expect_number("${output}" "moment mismatch ratio \\(after / initialisation\\):" ratio 0 10)
message(STATUS "mismatch ${initial} -> ${learned} (ratio ${ratio})")

# 2. The same run in two pieces, stopped after iteration 5 (of 6; eta/10 from iteration 4).
set(out2 ${WORK_DIR}/run2)
smoke_run(output --out ${out2} --iterations 6 --stop-after 5 ${TINY})
smoke_run(output --out ${out2} --iterations 6 --resume ${out2}/checkpoint.safetensors ${TINY})
expect_same_files(${out1} ${out2} weights.safetensors checkpoint.safetensors moments.csv filters.png
                  synthesized.png piece_means.png overview.png)

# 3. Resume the first run's checkpoint for 3 more iterations (the last third of 9: at eta/10).
smoke_run(output --out ${out1} --iterations 9 --resume ${out1}/checkpoint.safetensors ${TINY})
if(NOT output MATCHES "resumed from .* at iteration 6")
  message(FATAL_ERROR "the resumed run did not start at iteration 6:\n${output}")
endif()
expect_csv(${out1}/log.csv ROWS 9)
expect_number("${output}" "moment mismatch ratio \\(after / initialisation\\):" ratio 0 10)

# 4. A PNG the program wrote, read back as the image to learn from, in colour.
set(out3 ${WORK_DIR}/run3)
smoke_run(output ${out1}/overview.png --out ${out3} --iterations 2 --channels 3 ${TINY})
expect_png(${out3}/filters.png 154 40)
message(STATUS "prototype_dictionary smoke test passed")
