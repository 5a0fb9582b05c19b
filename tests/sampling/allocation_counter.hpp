// Counts heap allocations (malloc and friends, which Eigen and operator new use) in the test program,
// so a test can show that the samplers allocate nothing per step. Defined in allocation_test.cpp;
// available with glibc (elsewhere allocation_counting_available() is false and the count stays 0).
#pragma once

namespace gconvnet::test {

bool allocation_counting_available();
/// Starts counting from zero.
void start_counting_allocations();
/// Stops counting and returns the number of allocations since the start.
long stop_counting_allocations();

}  // namespace gconvnet::test
