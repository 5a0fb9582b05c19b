# Smoke test of first_texture, the README's texture program (smoke.cmake says how ctest runs it; IMAGE
# is the bundled gravel): 3 iterations per layer at 24 x 24 write three textures that decode, whose
# intensities are about the gravel's mean (127; the chains start at the mean image and move little in
# 9 iterations).
include(${CMAKE_CURRENT_LIST_DIR}/smoke.cmake)
smoke_begin()
smoke_run(text ${IMAGE} ${WORK_DIR}/texture_ 24 3)
foreach(n 0 1 2)
  expect_png(${WORK_DIR}/texture_${n}.png 24 24 MEAN 110 145 STD 0 40)
endforeach()
if(EXISTS ${WORK_DIR}/texture_3.png)
  message(FATAL_ERROR "first_texture wrote a fourth texture (3 chains)")
endif()
message(STATUS "first_texture smoke test passed")
