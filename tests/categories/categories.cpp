// Category heads (eq. 2.2) as models of their own, log Z by annealed importance sampling against closed
// forms, and Prop. 1(a) exactly. All in double.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "categories/category_helpers.hpp"
#include "model/model_helpers.hpp"
#include "support/allocation_counter.hpp"

using namespace gconvnet;

namespace {

using cat::FcModel;
using Dyn = DynamicModel<double>;

/// A CategoryModel over a conv / max-pool trunk with random weights, biases and heads of both signs.
template <class Engine>
CategoryModel<Dyn> random_category_model(const std::string& spec, const Shape& shape, Index C, Engine& engine) {
  CategoryModel<Dyn> model(Dyn(shape, parse_layers<double>(spec)), C);
  mt::randomize(model.trunk(), engine, 0.3, 0.2);
  std::normal_distribution<double> normal;
  for (Index i = 0; i < model.heads().size(); ++i) model.heads().data()[i] = normal(engine);
  for (Index c = 0; c < C; ++c) model.biases()(c) = normal(engine);
  return model;
}

/// The same function built the independent way: the trunk's layers and a 1×1 convolution with one filter
/// w_c (bias 0) on top, whose plain score Σ_x Σ_k w_{c,k} F_k(x) is f_c of eq. 2.2.
Dyn reference_model(CategoryModel<Dyn>& model, const std::string& spec, Index c) {
  Dyn ref(model.input_shape(), parse_layers<double>(spec + ",conv:1:1"));
  auto to = ref.parameters();
  const auto from = model.trunk().parameters();
  for (std::size_t b = 0; b < from.size(); ++b) to[b].vector() = from[b].vector();
  to[from.size()].vector() = model.heads().col(c);  // (1, K, 1, 1)
  to[from.size() + 1].vector().setZero();
  return ref;
}

}  // namespace

TEST_CASE("a category view is the model f_c = Σ_k w_ck s_k: scores, B, α and both gradients equal those of the "
          "trunk with a 1x1 convolution on top",
          "[categories][heads]") {
  std::mt19937_64 engine(1401);
  for (const auto& [spec, shape] : std::vector<std::pair<std::string, Shape>>{
           {"conv:4:3,relu,maxpool:2,conv:3:2,relu", {2, 11, 9}}, {"conv:5:4,relu,fc:3,relu", {1, 8, 8}},
           {"conv:3:3,softplus,conv:2:3", {2, 7, 7}}}) {
    CAPTURE(spec);
    auto model = random_category_model(spec, shape, 3, engine);
    const Batch<double> x = ref::random_batch<double>(shape, 4, engine);
    Matrix<double> all;
    model.scores(x, all);
    for (Index c = 0; c < model.categories(); ++c) {
      CAPTURE(c);
      auto& view = model.category(c);
      Dyn ref = reference_model(model, spec, c);
      const Vector<double> f = view.score(x);
      CHECK(ref::relative_error(f, ref.score(x)) <= 1e-12);
      CHECK(ref::relative_error(f, Vector<double>(all.row(c).transpose())) <= 1e-12);
      // top-down: B and α of the pattern (the reference has the same gates, its 1x1 layer adds none)
      const auto pattern = view.bottom_up(x);
      const auto mine = view.top_down(pattern);
      const auto theirs = ref.top_down(ref.bottom_up(x));
      CHECK(ref::relative_error(mine.B, theirs.B) <= 1e-12);
      CHECK(ref::relative_error(mine.alpha, theirs.alpha) <= 1e-12);
      // ∂f_c/∂w: the trunk's blocks and the head (= the 1x1 filter's weight block)
      auto g = view.zero_gradients();
      Vector<double> scores;
      view.accumulate_parameter_gradient(x, g, 0.5, scores);
      CHECK(ref::relative_error(scores, f) <= 1e-12);
      auto h = ref.zero_gradients();
      ref.accumulate_parameter_gradient(x, h, 0.5);
      for (std::size_t b = 0; b + 1 < g.blocks.size(); ++b) CHECK(ref::relative_error(g.blocks[b], h.blocks[b]) <= 1e-12);
      CHECK(ref::relative_error(g.blocks.back(), h.blocks[g.blocks.size() - 1]) <= 1e-12);
      CHECK(g.blocks.back().norm() > 0);
    }
  }
}

TEST_CASE("Theorem 1 for f_c (f_c = α_c + ⟨I, B_c⟩ to 1e-10, ∂f_c/∂I = B_c) and ∂f_c/∂I, ∂f_c/∂w by finite differences",
          "[categories][theorem1][gradients]") {
  std::mt19937_64 engine(1402);
  auto model = random_category_model("conv:4:3,relu,maxpool:2,conv:3:3,relu", Shape{2, 12, 12}, 3, engine);
  for (Index c = 0; c < 3; ++c) {
    CAPTURE(c);
    auto& view = model.category(c);
    const double on = mt::check_theorem1(view, 3, engine);
    CHECK(on > 0.05);
    CHECK(on < 0.95);
    const Batch<double> x = ref::random_batch<double>(view.input_shape(), 2, engine);
    const auto r = testing::check_model_gradients(view, x, engine);
    INFO(r.worst);
    CHECK(r.passed);
    CHECK(r.checked > 100);
  }
}

TEST_CASE("below full depth a view is the trunk's own model; MLE, Langevin and GRADE run on a view",
          "[categories][depth][algorithms]") {
  std::mt19937_64 engine(1403);
  const std::string spec = "conv:3:3,relu,conv:2:3,relu";
  auto model = random_category_model(spec, Shape{1, 9, 9}, 2, engine);
  auto& view = model.category(1);
  REQUIRE(stage_depths(view) == std::vector<Index>{2, 4});
  const Batch<double> x = ref::random_batch<double>(view.input_shape(), 3, engine);
  view.set_depth(2);
  CHECK_FALSE(view.head_active());
  Dyn trunk_copy = model.trunk();
  trunk_copy.set_depth(2);
  CHECK(ref::relative_error(view.score(x), trunk_copy.score(x)) <= 1e-12);
  auto g = view.zero_gradients();
  view.accumulate_parameter_gradient(x, g);
  CHECK(g.blocks.back().norm() == 0);  // the head is inactive
  CHECK(g.blocks[0].norm() > 0);
  mt::check_theorem1(view, 2, engine);
  // another view at full depth, used in between, does not disturb this one (the trunk follows each view)
  const Vector<double> f0 = model.category(0).score(x);
  CHECK(ref::relative_error(view.score(x), trunk_copy.score(x)) <= 1e-12);
  CHECK(ref::relative_error(model.category(0).score(x), f0) == 0);
  view.set_depth(4);

  // MLE of category 1's p_1 (shared trunk): the head learns in the last stage.
  Batch<double> observed = ref::random_batch<double>(view.input_shape(), 2, engine);
  LearningOptions options;
  options.chains = 2;
  options.langevin.steps = 2;
  MleLearner<CategoryView<Dyn>> learner(view, observed, options, 7);
  learner.set_stage(learner.num_stages() - 1);
  const Vector<double> head = model.heads().col(1);
  const Vector<double> other = model.heads().col(0);
  for (int t = 0; t < 3; ++t) learner.step();
  CHECK((model.heads().col(1) - head).norm() > 0);
  CHECK((model.heads().col(0) - other).norm() == 0);  // only category 1's head is a parameter of its view

  // GRADE on a view descends to an auto-encoding mode of p_c: Î = σ²·B_c(Î) (Prop. 2 for f_c). As in
  // tests/sampling/grade_test.cpp, a convex f_c: upper weights and heads ≥ 0 (f_c is then a nonnegative
  // combination of convex functions of I); otherwise a minimum of the energy can sit on a kink, where no
  // piece's mean is, and GRADE oscillates across it.
  CategoryModel<Dyn> fresh(Dyn(Shape{1, 9, 9}, parse_layers<double>(spec)), 2);
  initialize_normal(fresh, engine, 0.3, -0.1);
  fresh.heads() = fresh.heads().cwiseAbs();
  auto upper = fresh.trunk().parameters()[2].vector();  // layer2.weight
  upper = upper.cwiseAbs();
  for (Index c = 0; c < 2; ++c) {
    Batch<double> chains = ref::random_batch<double>(view.input_shape(), 3, engine);
    GradeWorkspace<double> gws;
    const auto report = grade_descent(fresh.category(c), chains, GradeOptions{0.5, 5000, 1.0, 1e-11, 1e-8}, gws, NoObserver{});
    CAPTURE(c, fresh.heads().col(c).transpose());
    CHECK(report.all_converged());
    CHECK(report.all_auto_encoding());
    Vector<double> f;
    Batch<double> b;
    fresh.category(c).score_and_gradient(chains, f, b);
    CHECK(ref::relative_error(b, chains) <= 1e-7);
  }
}

TEST_CASE("CategoryModel: posterior, classify and the logit gradient agree with the views", "[categories][model]") {
  std::mt19937_64 engine(1404);
  auto model = random_category_model("conv:3:3,relu,fc:2,relu", Shape{1, 7, 7}, 3, engine);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 5, engine);
  const Matrix<double> f = model.scores(x);
  for (bool base : {false, true}) {
    const Matrix<double> p = model.posterior(x, base);
    REQUIRE(p.rows() == 3 + (base ? 1 : 0));
    for (Index n = 0; n < 5; ++n) {
      CHECK(std::abs(p.col(n).sum() - 1) <= 1e-14);
      // p(c|I)/p(c'|I) = exp(f_c + b_c − f_c' − b_c') (eq. 2.3); with base p(c|I)/p(base|I) = exp(f_c + b_c) (eq. 3.2)
      const double l0 = f(0, n) + model.biases()(0), l2 = f(2, n) + model.biases()(2);
      CHECK(std::abs(std::log(p(2, n) / p(0, n)) - (l2 - l0)) <= 1e-12);
      if (base) CHECK(std::abs(std::log(p(0, n) / p(3, n)) - l0) <= 1e-12);
    }
  }
  const auto labels = model.classify(x);
  for (Index n = 0; n < 5; ++n) {
    Index best = 0;
    (f.col(n) + Vector<double>(model.biases())).maxCoeff(&best);
    CHECK(labels[static_cast<std::size_t>(n)] == best);
  }
  // weights that pick category 1 for every image: the gradient of Σ_n (f_1 + b_1) is view 1's, and N on b_1
  auto g = model.zero_gradients();
  Matrix<double> scores, weights;
  model.accumulate_logit_gradient(
      x, scores, weights, [](const Matrix<double>& s, Matrix<double>& w) { w = Matrix<double>::Zero(s.rows(), s.cols()); w.row(1).setOnes(); },
      g);
  auto& view = model.category(1);
  auto h = view.zero_gradients();
  view.accumulate_parameter_gradient(x, h);
  const std::size_t T = g.blocks.size() - 2;  // trunk blocks
  for (std::size_t b = 0; b < T; ++b) CHECK(ref::relative_error(g.blocks[b], h.blocks[b]) <= 1e-12);
  const Eigen::Map<const Matrix<double>> gh(g.blocks[T].data(), model.head_size(), 3);
  CHECK(ref::relative_error(Vector<double>(gh.col(1)), h.blocks.back()) <= 1e-12);
  CHECK(gh.col(0).norm() == 0);
  CHECK(g.blocks[T + 1](1) == 5.0);
  CHECK(g.blocks[T + 1](0) == 0.0);
  // copies and moves keep working views
  CategoryModel<Dyn> copy = model;
  CategoryModel<Dyn> moved = std::move(copy);
  CHECK(ref::relative_error(moved.category(2).score(x), Vector<double>(f.row(2).transpose())) <= 1e-12);
  model.heads().setZero();
  CHECK(moved.category(2).score(x).norm() > 0);  // its own heads
}

TEST_CASE("CategoryModel and its views answer queries through const references, as every model does",
          "[categories][model][const]") {
  std::mt19937_64 engine(1405);
  auto model = random_category_model("conv:3:3,relu,fc:2,relu", Shape{1, 7, 7}, 2, engine);
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), 4, engine);
  const Matrix<double> f = model.scores(x);
  const Matrix<double> p = model.posterior(x, true);
  const auto labels = model.classify(x);
  Vector<double> s1;
  Batch<double> b1;
  model.category(1).score_and_gradient(x, s1, b1);
  const std::string summary = model.summary();

  const CategoryModel<Dyn>& cm = model;
  CHECK(cm.scores(x) == f);
  CHECK(cm.posterior(x, true) == p);
  CHECK(cm.classify(x) == labels);
  CHECK(cm.summary() == summary);
  CHECK(cm.num_parameters() == model.num_parameters());
  const auto& view = cm.category(1);
  Vector<double> s2;
  Batch<double> b2;
  view.score_and_gradient(x, s2, b2);
  CHECK(s2 == s1);
  CHECK(as_vector(b2) == as_vector(b1));
  // the read-only parameters are the same blocks as the writable ones
  const auto ro = view.parameters();
  const auto rw = model.category(1).parameters();
  REQUIRE(ro.size() == rw.size());
  for (std::size_t b = 0; b < ro.size(); ++b) {
    CHECK(ro[b].name == rw[b].name);
    CHECK(ro[b].data == rw[b].data);
  }
  const auto g = view.zero_gradients();
  REQUIRE(g.blocks.size() == rw.size());
  for (std::size_t b = 0; b < rw.size(); ++b) CHECK(g.blocks[b].size() == rw[b].size());
  CHECK_THROWS_AS(cm.category(2), Error);
}

// --- annealed importance sampling ----------------------------------------------------------------------

TEST_CASE("AIS: log Z of one-filter models within 3 standard errors of the closed form", "[categories][ais]") {
  std::mt19937_64 engine(1405);
  struct Case {
    double norm, beta, sigma, head;
  };
  // head a scales the filter's output; a < 0 gives f = −|a|·max(0, ·) ≤ 0 (Z < 1)
  for (const Case& k : {Case{1.5, 0.3, 1.0, 1.0}, Case{2.5, -1.0, 0.8, 1.0}, Case{1.2, 0.5, 1.0, -1.5},
                        Case{0.8, 1.0, 1.3, 2.0}}) {
    CAPTURE(k.norm, k.beta, k.sigma, k.head);
    const Shape shape{1, 4, 4};
    CategoryModel<FcModel> model(cat::fc_model(shape, 1), 1);
    cat::set_filter(model.trunk(), 0, k.norm * cat::orthonormal(16, 1, engine).col(0), k.beta);
    model.heads()(0, 0) = k.head;
    LogPartitionOptions o;
    o.temperatures = 200;
    o.steps = 2;
    o.chains = 16;
    o.runs = 16;
    o.step_size = k.sigma;
    o.reference_sigma = k.sigma;
    const auto e = estimate_log_partition(model.category(0), o, engine);
    const double exact = cat::one_filter_log_z(k.norm, k.beta, k.sigma, k.head);
    WARN("one filter |w| " << k.norm << " b " << k.beta << " sigma " << k.sigma << " head " << k.head << ": log Z "
                           << exact << ", AIS " << e.log_z << " +- " << e.standard_error << " (ESS "
                           << e.effective_sample_size << " of " << e.chains << ", acceptance " << e.acceptance_rate
                           << ")");
    CHECK(e.standard_error > 0);
    CHECK(std::abs(e.log_z - exact) <= 3 * e.standard_error);  // k = 3
    CHECK(e.acceptance_rate > 0.3);
    CHECK(e.effective_sample_size > 0.5 * e.chains);
  }
}

TEST_CASE("AIS: log Z of a fully connected model with K orthogonal filters (Z factorises) within 3 standard errors",
          "[categories][ais]") {
  std::mt19937_64 engine(1406);
  const Shape shape{1, 4, 4};
  const Index K = 3;
  FcModel model = cat::fc_model(shape, K);
  const Matrix<double> u = cat::orthonormal(16, K, engine);
  const double norms[K] = {1.5, 2.0, 1.0}, betas[K] = {0.5, -1.0, 0.2};
  double exact = 0;
  for (Index k = 0; k < K; ++k) {
    cat::set_filter(model, k, norms[k] * u.col(k), betas[k]);
    exact += cat::one_filter_log_z(norms[k], betas[k], 1.0);
  }
  for (auto schedule : {LogPartitionOptions::Schedule::sigmoid, LogPartitionOptions::Schedule::geometric,
                        LogPartitionOptions::Schedule::linear}) {
    LogPartitionOptions o;
    o.schedule = schedule;
    o.temperatures = 200;
    o.steps = 2;
    o.chains = 16;
    o.runs = 16;
    o.step_size = 1.0;
    o.geometric_start = 1e-2;
    const auto e = estimate_log_partition(model, o, engine);
    WARN(K << " orthogonal filters, schedule " << static_cast<int>(schedule) << ": log Z " << exact << ", AIS "
           << e.log_z << " +- " << e.standard_error << " (ESS " << e.effective_sample_size << " of " << e.chains
           << ")");
    CHECK(std::abs(e.log_z - exact) <= 3 * e.standard_error);  // k = 3
    CHECK(e.standard_error < 0.05);
  }
}

TEST_CASE("AIS: the standard error shrinks as 1/sqrt(chains)", "[categories][ais]") {
  // 4x the chains per run, same runs: the standard error halves. Each estimate of it comes from R runs,
  // so log(se) has sd about 1/sqrt(2(R−1)) and the log of the ratio of two independent ones
  // 1/sqrt(R−1): |log(ratio) − log 2| ≤ 3/sqrt(R−1) (k = 3; R = 64: ratio in [1.37, 2.92], which excludes
  // both 1 — no shrinking — and 4 — 1/chains).
  std::mt19937_64 engine(1407);
  const Shape shape{1, 4, 4};
  FcModel model = cat::fc_model(shape, 2);
  const Matrix<double> u = cat::orthonormal(16, 2, engine);
  cat::set_filter(model, 0, 1.8 * u.col(0), 0.3);
  cat::set_filter(model, 1, 1.2 * u.col(1), -0.5);
  LogPartitionOptions o;
  o.temperatures = 200;
  o.steps = 2;
  o.runs = 64;
  o.step_size = 1.0;
  o.chains = 4;
  const auto few = estimate_log_partition(model, o, engine);
  o.chains = 16;
  const auto many = estimate_log_partition(model, o, engine);
  const double ratio = few.standard_error / many.standard_error;
  const double exact = cat::one_filter_log_z(1.8, 0.3, 1.0) + cat::one_filter_log_z(1.2, -0.5, 1.0);
  WARN("standard error with 4 x 64 chains " << few.standard_error << ", with 16 x 64 " << many.standard_error
                                            << ": ratio " << ratio << " (expected 2); log Z " << exact << ", AIS "
                                            << few.log_z << ", " << many.log_z);
  CHECK(std::abs(std::log(ratio) - std::log(2.0)) <= 3.0 / std::sqrt(63.0));
  CHECK(std::abs(few.log_z - exact) <= 3 * few.standard_error);
  CHECK(std::abs(many.log_z - exact) <= 3 * many.standard_error);
}

TEST_CASE("AIS is deterministic for a seed, log Z = 0 for f = 0, and log_likelihood adds log q", "[categories][ais]") {
  const Shape shape{1, 3, 3};
  FcModel model = cat::fc_model(shape, 1);
  std::mt19937_64 setup(1408);
  cat::set_filter(model, 0, 1.3 * cat::orthonormal(9, 1, setup).col(0), 0.1);
  LogPartitionOptions o;
  o.temperatures = 30;
  o.chains = 4;
  o.runs = 3;
  for (bool metropolis : {true, false}) {
    o.metropolis = metropolis;
    std::mt19937_64 a(5), b(5), c(6);
    const auto ea = estimate_log_partition(model, o, a), eb = estimate_log_partition(model, o, b);
    const auto ec = estimate_log_partition(model, o, c);
    CHECK(ea.log_z == eb.log_z);
    CHECK(ea.standard_error == eb.standard_error);
    CHECK(ea.log_z != ec.log_z);
    if (metropolis) {
      CHECK(ea.acceptance_rate > 0.0);
      CHECK(ea.acceptance_rate < 1.0);
    } else {
      CHECK(ea.acceptance_rate == 1.0);
    }
  }
  // f ≡ 0: every weight is 1, log Z = 0 exactly, standard error 0
  FcModel zero = cat::fc_model(shape, 1);
  std::mt19937_64 d(7);
  const auto ez = estimate_log_partition(zero, o, d);
  CHECK(ez.log_z == 0.0);
  CHECK(ez.standard_error == 0.0);
  CHECK(ez.effective_sample_size == Approx(12.0).epsilon(1e-12));
  // log p(I) = f(I) − ‖I‖²/(2σ²) − (D/2) log(2πσ²) − log Z
  const Batch<double> x = ref::random_batch<double>(shape, 3, setup);
  const double sigma = 0.7, log_z = 0.25;
  const Vector<double> ll = log_likelihood(model, x, log_z, sigma);
  const Vector<double> f = model.score(x);
  for (Index n = 0; n < 3; ++n) {
    double log_q = 0;
    for (Index i = 0; i < 9; ++i) {
      const double v = as_columns(x)(i, n);
      log_q += -0.5 * v * v / (sigma * sigma) - std::log(sigma * std::sqrt(2 * 3.14159265358979323846));
    }
    CHECK(std::abs(ll(n) - (f(n) + log_q - log_z)) <= 1e-12);
  }
}

TEST_CASE("AIS allocates nothing after the first call with a workspace", "[categories][ais][allocation]") {
  using gconvnet::test::count_allocations;
  if (!gconvnet::test::allocation_counting_available()) {
    WARN("allocation counting needs glibc without sanitizers; skipped");
    return;
  }
  CHECK(count_allocations([] {  // the counter counts
          Vector<double> probe(100);
          probe.setZero();
          CHECK(probe.sum() == 0.0);
        }) == 1);
  std::mt19937_64 engine(1409);
  auto model = random_category_model("conv:3:3,relu,fc:2,relu", Shape{1, 6, 6}, 2, engine);
  LogPartitionOptions o;
  o.temperatures = 5;
  o.chains = 3;
  o.runs = 2;
  o.steps = 2;
  for (bool metropolis : {true, false}) {
    o.metropolis = metropolis;
    LogPartitionWorkspace<double> ws;
    estimate_log_partition(model.category(1), o, engine, ws);  // sizes the buffers
    LogPartitionEstimate e;
    CAPTURE(metropolis);
    CHECK(count_allocations([&] { e = estimate_log_partition(model.category(1), o, engine, ws); }) == 0);
    CHECK(std::isfinite(e.log_z));
    // and a Langevin step of a view
    Batch<double> chains = ref::random_batch<double>(model.input_shape(), 3, engine);
    LangevinWorkspace<double> lws;
    const LangevinOptions lo{0.3, 2, 1.0, metropolis};
    langevin(model.category(0), chains, lo, engine, lws);
    CHECK(count_allocations([&] { langevin(model.category(0), chains, lo, engine, lws); }) == 0);
  }
}

// --- Prop. 1(a) --------------------------------------------------------------------------------------

TEST_CASE("Prop. 1(a): the classifier with b_c = log ρ_c − log Z_c is the Bayes posterior to 1e-12; with the "
          "white-noise base b_c = log ρ_c − log ρ_base − log Z_c",
          "[categories][prop1]") {
  std::mt19937_64 engine(1410);
  const Shape shape{1, 4, 4};
  const double sigma = 1.0;
  // three class models with Z in closed form: two one-filter models and one of 3 orthogonal filters
  std::vector<FcModel> models = {cat::fc_model(shape, 1), cat::fc_model(shape, 1), cat::fc_model(shape, 3)};
  const Matrix<double> u = cat::orthonormal(16, 5, engine);
  Vector<double> log_z(3);
  cat::set_filter(models[0], 0, 1.5 * u.col(0), 0.4);
  log_z(0) = cat::one_filter_log_z(1.5, 0.4, sigma);
  cat::set_filter(models[1], 0, 2.2 * u.col(1), -0.7);
  log_z(1) = cat::one_filter_log_z(2.2, -0.7, sigma);
  log_z(2) = 0;
  for (Index k = 0; k < 3; ++k) {
    cat::set_filter(models[2], k, (1.0 + 0.3 * k) * u.col(2 + k), 0.1 * k);
    log_z(2) += cat::one_filter_log_z(1.0 + 0.3 * k, 0.1 * k, sigma);
  }
  const Vector<double> rho = (Vector<double>(4) << 0.2, 0.3, 0.1, 0.4).finished();  // the last: the base q
  const Batch<double> x = ref::random_batch<double>(shape, 20, engine, 1.5);
  Matrix<double> f(3, 20);
  for (Index c = 0; c < 3; ++c) f.row(c) = models[static_cast<std::size_t>(c)].score(x).transpose();

  for (bool base : {false, true}) {
    CAPTURE(base);
    // Bayes directly: p(c | I) ∝ ρ_c p_c(I), log p_c(I) = f_c(I) + log q(I) − log Z_c, p_base = q
    const Index rows = base ? 4 : 3;
    const Vector<double> ll0 = log_likelihood(models[0], x, log_z(0), sigma);
    const Vector<double> log_q = ll0 - f.row(0).transpose() + Vector<double>::Constant(20, log_z(0));
    Vector<double> prior = rho.head(rows);
    prior /= prior.sum();
    Matrix<double> bayes(rows, 20);
    for (Index n = 0; n < 20; ++n) {
      for (Index c = 0; c < rows; ++c) {
        const double log_p = c < 3 ? f(c, n) + log_q(n) - log_z(c) : log_q(n);
        bayes(c, n) = std::log(prior(c)) + log_p;
      }
      bayes.col(n) = (bayes.col(n).array() - bayes.col(n).maxCoeff()).exp().matrix();
      bayes.col(n) /= bayes.col(n).sum();
    }
    const Vector<double> log_rho = prior.head(3).array().log().matrix();
    const Vector<double> b = base ? bayes_biases(log_rho, log_z, std::log(prior(3))) : bayes_biases(log_rho, log_z);
    const Matrix<double> classifier = category_posterior(f, b, base);
    CHECK((classifier - bayes).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK(bayes.minCoeff() > 1e-4);  // every class plays a part
    if (base) {
      // the paper's sign (+ log Z_c) gives another classifier; implied_log_partition inverts ours
      const Vector<double> wrong = (log_rho.array() - std::log(prior(3)) + log_z.array()).matrix();
      CHECK((category_posterior(f, wrong, true) - bayes).cwiseAbs().maxCoeff() > 1e-2);
      const Vector<double> ratios = (log_rho.array() - std::log(prior(3))).matrix();
      CHECK((implied_log_partition(b, ratios) - log_z).cwiseAbs().maxCoeff() <= 1e-14);
    }
  }

  // the same through a CategoryModel: a shared trunk of 4 orthogonal filters, head c picks filter c
  CategoryModel<FcModel> shared(cat::fc_model(shape, 4), 3);
  const double norms[4] = {1.5, 2.2, 1.0, 0.7}, betas[4] = {0.4, -0.7, 0.0, 0.3};
  Vector<double> zc(3);
  for (Index k = 0; k < 4; ++k) cat::set_filter(shared.trunk(), k, norms[k] * u.col(k), betas[k]);
  for (Index c = 0; c < 3; ++c) {
    shared.heads()(c, c) = 1.0;
    zc(c) = cat::one_filter_log_z(norms[c], betas[c], sigma);
  }
  shared.heads()(3, 2) = 1.0;  // category 2 uses filters 2 and 3: Z factorises
  zc(2) += cat::one_filter_log_z(norms[3], betas[3], sigma);
  const Vector<double> log_rho = (rho.head(3) / rho.sum()).array().log().matrix();
  shared.biases() = bayes_biases(log_rho, zc, std::log(rho(3) / rho.sum()));
  const Matrix<double> p = shared.posterior(x, true);
  const Matrix<double> fs = shared.scores(x);
  for (Index n = 0; n < 20; ++n) {
    Vector<double> joint(4);
    const double log_q = -0.5 * as_columns(x).col(n).squaredNorm() / (sigma * sigma);  // normaliser cancels
    for (Index c = 0; c < 3; ++c) joint(c) = log_rho(c) + fs(c, n) + log_q - zc(c);
    joint(3) = std::log(rho(3) / rho.sum()) + log_q;
    joint = (joint.array() - joint.maxCoeff()).exp().matrix();
    CHECK((p.col(n) - joint / joint.sum()).cwiseAbs().maxCoeff() <= 1e-12);
  }
}
