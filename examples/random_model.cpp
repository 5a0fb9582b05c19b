// random_model — the smallest complete use of gconvnet: a random two-layer generative ConvNet, the
// activation pattern of a random image, its top-down reconstruction, and Theorem 1 checked on it.
#include <gconvnet/gconvnet.hpp>

#include <iostream>
#include <random>

int main() {
  using namespace gconvnet;
  std::mt19937_64 engine(2016);

  // p(I; w) ∝ exp(f(I; w)) q(I): layers listed bottom-up, shapes inferred from the input.
  EnergyModel model(Shape{3, 32, 32},
                    Conv<double>(8, 5).stride(2).padding(2), ReLU<double>{},
                    Conv<double>(4, 3).padding(1), ReLU<double>{});
  initialize_normal(model, engine, 0.1, 0.01);
  std::cout << model.summary();

  Batch<double> image = make_batch<double>(model.input_shape(), 1);
  std::normal_distribution<double> normal;
  for (Index i = 0; i < image.size(); ++i) image.data()[i] = normal(engine);

  ActivationPattern<double> delta = model.bottom_up(image);           // δ(I; w), eq. 6.4
  for (std::size_t l = 0; l < delta.layers.size(); ++l)
    if (delta.layers[l].gate.size() > 0)
      std::cout << "layer " << l << ": " << 100.0 * delta.active_fraction(l) << "% of units on\n";

  Reconstruction<double> rec = model.top_down(delta);                 // B_{w,δ}, α_{w,δ}, eq. 6.7
  const double f = model.score(image)(0);
  const double linear = rec.alpha(0) + (as_columns(image).col(0).dot(as_columns(rec.B).col(0)));
  std::cout << "f(I)          = " << f << "\n"
            << "alpha + <I,B> = " << linear << "   (Theorem 1)\n"
            << "|B|           = " << as_columns(rec.B).col(0).norm() << "\n";
  return std::abs(f - linear) <= 1e-10 * std::max(1.0, std::abs(f)) ? 0 : 1;
}
