// The prototype model (Sec. 5): one fully connected layer of K filters and a ReLU,
//   f(I) = Σ_k max(0, b_k + ⟨w_k, I⟩),  δ_k = 1(b_k + ⟨w_k, I⟩ > 0),
//   B = Σ_k δ_k w_k,  α = Σ_k δ_k b_k,  ∂f/∂w_k = δ_k I,  ∂f/∂b_k = δ_k,
// everything computed by hand here from the weights and compared with the library.
#include <gconvnet/gconvnet.hpp>

#include <random>

#include <catch2/catch.hpp>

#include "model/model_helpers.hpp"

using namespace gconvnet;

TEMPLATE_TEST_CASE("Prototype model: B = sum_k delta_k w_k and alpha = sum_k delta_k b_k", "[model][prototype]", float,
                   double) {
  using S = TestType;
  const double tol = std::is_same<S, float>::value ? 1e-5 : 1e-12;
  std::mt19937_64 engine(201);
  const Shape shape{3, 7, 9};
  const Index K = 10, N = 4;
  EnergyModel model(shape, Conv<S>::fully_connected(K), ReLU<S>{});
  REQUIRE(model.output_shape(0) == (Shape{K, 1, 1}));
  mt::randomize(model, engine, 0.1, 0.5);
  const auto& conv = model.template layer<0>();
  const Batch<S> x = ref::random_batch<S>(shape, N, engine);

  // w_k(c, i, j) = weights(k, c, i, j): the same (c, i, j) ColMajor order as the image.
  Eigen::MatrixXd w(shape.size(), K);  // column k = w_k
  for (Index k = 0; k < K; ++k)
    for (Index j = 0; j < shape.width; ++j)
      for (Index i = 0; i < shape.height; ++i)
        for (Index c = 0; c < shape.channels; ++c)
          w(c + shape.channels * (i + shape.height * j), k) = conv.weights()(k, c, i, j);
  const Vector<double> b = conv.bias().template cast<double>();

  Batch<S> grad;
  Vector<S> scores;
  model.score_and_gradient(x, scores, grad);
  const Reconstruction<S> rec = model.top_down(model.bottom_up(x));
  auto g = model.zero_gradients();
  model.accumulate_parameter_gradient(x, g, S(1));

  Index on = 0;
  Eigen::MatrixXd gw = Eigen::MatrixXd::Zero(shape.size(), K);  // column k = ∂f/∂w_k summed over the batch
  Vector<double> gb = Vector<double>::Zero(K);
  for (Index n = 0; n < N; ++n) {
    const Vector<double> I = as_columns(x).col(n).template cast<double>();
    double f = 0, alpha = 0;
    Vector<double> B = Vector<double>::Zero(shape.size());
    for (Index k = 0; k < K; ++k) {
      const double r = b(k) + w.col(k).dot(I);
      const bool delta = r > 0;
      on += delta;
      f += delta ? r : 0.0;
      if (delta) {
        B += w.col(k);
        alpha += b(k);
        gw.col(k) += I;
        gb(k) += 1;
      }
    }
    CAPTURE(n);
    CHECK(static_cast<double>(scores(n)) == Approx(f).epsilon(tol));
    CHECK(static_cast<double>(rec.alpha(n)) == Approx(alpha).epsilon(tol).margin(tol));
    CHECK(ref::relative_error(as_columns(rec.B).col(n), B) < tol);
    CHECK(ref::relative_error(as_columns(grad).col(n), B) < tol);
  }
  CHECK(on > N * K / 5);  // both states occur
  CHECK(on < 4 * N * K / 5);

  // parameter gradients: blocks[0] is (K, C, H, W) ColMajor, i.e. entry k + K·pixel
  Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>> gw_lib(g.blocks[0].data(), K, shape.size());
  const Eigen::MatrixXd gw_pixels_by_filter = gw_lib.transpose().template cast<double>();  // ColMajor, like gw
  CHECK(ref::relative_error(gw_pixels_by_filter, gw) < tol);
  CHECK(ref::relative_error(g.blocks[1].template cast<double>().eval(), gb) < tol);
}
