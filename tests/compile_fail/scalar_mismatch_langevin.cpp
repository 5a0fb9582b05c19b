// Compile-fail check: Langevin chains of another scalar type than the model's stop at ONE
// static_assert line that names both (sampling/langevin.hpp).
// With GCONVNET_COMPILE_FAIL_CONTROL the chains have the model's scalar type and it must compile.
#include <random>

#include <gconvnet/layers/conv.hpp>
#include <gconvnet/layers/relu.hpp>
#include <gconvnet/model/energy_model.hpp>
#include <gconvnet/sampling/langevin.hpp>

int main() {
  using namespace gconvnet;
  EnergyModel model(Shape{1, 8, 8}, Conv<double>(2, 3).padding(1), ReLU<double>{});
#ifdef GCONVNET_COMPILE_FAIL_CONTROL
  Batch<double> chains(1, 8, 8, 2);
#else
  Batch<float> chains(1, 8, 8, 2);
#endif
  chains.setZero();
  std::mt19937_64 engine(1);
  const LangevinReport report = langevin(model, chains, LangevinOptions{}, engine);
  return report.steps == 10 ? 0 : 1;
}
