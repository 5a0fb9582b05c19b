// The second translation unit of the ODR test (see odr_a.cpp).
#include <gconvnet/gconvnet.hpp>

double odr_score_b(const gconvnet::Batch<double>& x) {
  gconvnet::EnergyModel model(gconvnet::Shape{1, 4, 4}, gconvnet::Conv<double>(2, 3), gconvnet::ReLU<double>{});
  for (auto& p : model.parameters()) p.vector().setConstant(0.25);
  return model.score(x)(0);
}
