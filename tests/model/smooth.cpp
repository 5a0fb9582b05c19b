// A smooth nonlinearity (Softplus, Sec. 9): B = ∂f/∂I still holds (finite differences), but
// f = α + ⟨I, B⟩ does not — which also shows that the ReLU test of Theorem 1 is not vacuous.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <random>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {
const Shape shape{2, 12, 10};
}

TEST_CASE("Softplus model: B from top_down equals df/dI by finite differences", "[model][softplus][gradient]") {
  std::mt19937_64 engine(301);
  EnergyModel model(shape, Conv<double>(5, 3).padding(1), Softplus<double>{}, Conv<double>(3, 3).stride(2), Softplus<double>{});
  mt::randomize(model, engine, 0.3, 0.2);
  const Batch<double> x = ref::random_batch<double>(shape, 2, engine);
  const Reconstruction<double> rec = model.top_down(model.bottom_up(x));
  Vector<double> s;
  Batch<double> grad;
  model.score_and_gradient(x, s, grad);
  CHECK(ref::relative_error(grad, rec.B) <= 1e-14);

  // B against central differences, every pixel of both images (h = 1e-5: error O(h²) ≈ 1e-10)
  Batch<double> probe = x;
  double worst = 0;
  for (Index i = 0; i < probe.size(); ++i) {
    const double saved = probe.data()[i];
    probe.data()[i] = saved + 1e-5;
    const Vector<double> fp = model.score(probe);
    probe.data()[i] = saved - 1e-5;
    const Vector<double> fm = model.score(probe);
    probe.data()[i] = saved;
    const double fd = (fp - fm).sum() / 2e-5;
    worst = std::max(worst, std::abs(fd - rec.B.data()[i]) / std::max(1.0, std::abs(fd)));
  }
  CHECK(worst < 1e-8);

  // and the library's checker agrees, with nothing skipped (a smooth gate is not a piece)
  const auto r = testing::check_model_gradients(model, x, engine);
  INFO(r.worst);
  CHECK(r.passed);
  CHECK(r.skipped == 0);
  CHECK(r.checked >= 300 + 90 + 5 + 135 + 3);  // image (300 of 480) + all weights and biases
}

TEST_CASE("Softplus model: f = alpha + <I, B> does NOT hold, while the same ReLU model satisfies it",
          "[model][softplus][theorem1]") {
  std::mt19937_64 engine(302);
  EnergyModel smooth(shape, Conv<double>(5, 3).padding(1), Softplus<double>{}, Conv<double>(3, 3).stride(2), Softplus<double>{});
  EnergyModel relu(shape, Conv<double>(5, 3).padding(1), ReLU<double>{}, Conv<double>(3, 3).stride(2), ReLU<double>{});
  mt::randomize(smooth, engine, 0.3, 0.2);
  mt::copy_parameters(smooth, relu);
  const Batch<double> x = ref::random_batch<double>(shape, 3, engine);

  const Vector<double> fs = smooth.score(x);
  const Reconstruction<double> rs = smooth.top_down(smooth.bottom_up(x));
  const Vector<double> fr = relu.score(x);
  const Reconstruction<double> rr = relu.top_down(relu.bottom_up(x));
  for (Index n = 0; n < 3; ++n) {
    const double gap_smooth = std::abs(fs(n) - (rs.alpha(n) + mt::inner(x, rs.B, n)));
    const double gap_relu = std::abs(fr(n) - (rr.alpha(n) + mt::inner(x, rr.B, n)));
    CAPTURE(n, fs(n), gap_smooth, fr(n), gap_relu);
    CHECK(gap_relu <= 1e-12 * std::abs(fr(n)));
    // Softplus's h(r) − r·h′(r) > 0 at every unit adds up: the gap is of order f itself, 1e8× round-off.
    CHECK(gap_smooth > 1e-4 * std::abs(fs(n)));
  }
}
