// Two translation units that include the umbrella header link into one program (no ODR violation).
#include <gconvnet/gconvnet.hpp>

#include <catch2/catch.hpp>

double odr_score_b(const gconvnet::Batch<double>& x);

double odr_score_a(const gconvnet::Batch<double>& x) {
  gconvnet::EnergyModel model(gconvnet::Shape{1, 4, 4}, gconvnet::Conv<double>(2, 3), gconvnet::ReLU<double>{});
  for (auto& p : model.parameters()) p.vector().setConstant(0.25);
  return model.score(x)(0);
}

TEST_CASE("two translation units including the umbrella header link together", "[core][odr]") {
  gconvnet::Batch<double> x(1, 4, 4, 1);
  x.setConstant(1.0);
  // Both TUs build the same model: 2 filters × 2×2 positions × (9·0.25 + 0.25).
  REQUIRE(odr_score_a(x) == Approx(2 * 4 * 2.5).epsilon(1e-12));
  REQUIRE(odr_score_b(x) == Approx(odr_score_a(x)).epsilon(1e-12));
}
