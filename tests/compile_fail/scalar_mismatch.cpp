// Compile-fail check: a float model given a double batch stops at ONE static_assert line that names
// both scalar types (model/model_base.hpp, detail::scalar_mismatch in core/tensor.hpp).
// With GCONVNET_COMPILE_FAIL_CONTROL the same call with a float batch must compile.
#include <gconvnet/layers/conv.hpp>
#include <gconvnet/layers/relu.hpp>
#include <gconvnet/model/energy_model.hpp>

int main() {
  using namespace gconvnet;
  EnergyModel model(Shape{1, 8, 8}, Conv<float>(2, 3).padding(1), ReLU<float>{});
#ifdef GCONVNET_COMPILE_FAIL_CONTROL
  Batch<float> images(1, 8, 8, 2);
#else
  Batch<double> images(1, 8, 8, 2);
#endif
  images.setZero();
  const Vector<float> f = model.score(images);
  return f.size() == 2 ? 0 : 1;
}
