// Built against an installed gconvnet: Theorem 1 on a tiny random model, exit status 0 when it holds.
#include <gconvnet/gconvnet.hpp>

#include <cmath>
#include <iostream>
#include <random>

int main() {
  using namespace gconvnet;
  std::mt19937_64 engine(7);
  EnergyModel model(Shape{1, 8, 8}, Conv<double>(3, 3), ReLU<double>{});
  initialize_normal(model, engine, 0.5, 0.1);
  Batch<double> x = make_batch<double>(model.input_shape(), 1);
  std::normal_distribution<double> normal;
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(engine);
  const auto rec = model.top_down(model.bottom_up(x));
  const double f = model.score(x)(0);
  const double g = rec.alpha(0) + as_columns(x).col(0).dot(as_columns(rec.B).col(0));
  std::cout << "consumer: f = " << f << ", alpha + <I,B> = " << g << "\n";
  return std::abs(f - g) <= 1e-10 * std::max(1.0, std::abs(f)) ? 0 : 1;
}
