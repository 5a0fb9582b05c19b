// Compile-fail check: a user's layer that lacks a member of the layer contract (here `backward`)
// stops the model's constructor at ONE static_assert line naming that member (layers/concepts.hpp).
// With GCONVNET_COMPILE_FAIL_CONTROL the layer has every member and the model must compile.
#include <string>

#include <gconvnet/layers/concepts.hpp>
#include <gconvnet/layers/conv.hpp>
#include <gconvnet/model/energy_model.hpp>

// The identity map, with its top-down pass left out.
struct Identity {
  using Scalar = double;
  static const char* name() { return "Identity"; }
  gconvnet::Shape configure(const gconvnet::Shape& in) { return in; }
  void forward(const gconvnet::Batch<double>& x, gconvnet::Batch<double>& y, gconvnet::LayerPattern<double>&) const {
    y = x;
  }
#ifdef GCONVNET_COMPILE_FAIL_CONTROL
  void backward(const gconvnet::LayerPattern<double>&, const gconvnet::Batch<double>& dy,
                gconvnet::Batch<double>& dx) const {
    dx = dy;
  }
#endif
  double bias_term(const gconvnet::Batch<double>&, gconvnet::Index) const { return 0; }
  void accumulate_gradient(const gconvnet::Batch<double>&, double, gconvnet::Vector<double>*) const {}
  static constexpr gconvnet::Index parameter_blocks() { return 0; }
  gconvnet::ParameterRef<double> parameter(gconvnet::Index) { return {}; }
  std::string describe() const { return "Identity"; }
  gconvnet::Index macs() const { return 0; }
};

int main() {
  using namespace gconvnet;
  EnergyModel model(Shape{1, 8, 8}, Conv<double>(2, 3), Identity{});
  return model.num_layers() == 2 ? 0 : 1;
}
