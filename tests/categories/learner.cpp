// The discriminative learner (Def. 1) with and without the white-noise base category: its gradient by
// finite differences, determinism, state and checkpoints, held-out accuracy, and Prop. 1(b) against
// class models whose samples are drawn exactly. All in double.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/category_checkpoint.hpp>
#include <gconvnet/testing/gradient_check.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "categories/category_helpers.hpp"
#include "model/model_helpers.hpp"

using namespace gconvnet;

namespace {

using Dyn = DynamicModel<double>;

template <class Engine>
CategoryModel<Dyn> small_model(const std::string& spec, Index C, Engine& engine, double weight_sigma = 0.4) {
  CategoryModel<Dyn> model(Dyn(Shape{1, 6, 6}, parse_layers<double>(spec)), C);
  mt::randomize(model.trunk(), engine, weight_sigma, 0.2);
  std::normal_distribution<double> normal;
  for (Index i = 0; i < model.heads().size(); ++i) model.heads().data()[i] = normal(engine);
  for (Index c = 0; c < C; ++c) model.biases()(c) = 0.5 * normal(engine);
  return model;
}

std::vector<Vector<double>> parameters_of(CategoryModel<Dyn>& model) {
  std::vector<Vector<double>> out;
  for (const auto& p : model.parameters()) out.push_back(p.vector());
  return out;
}

}  // namespace

TEST_CASE("the discriminative log-likelihood's gradient passes finite differences in every block",
          "[categories][discriminative][gradients]") {
  std::mt19937_64 engine(1420);
  // softplus: smooth everywhere; relu: entries whose perturbation flips a gate are skipped
  for (const std::string spec : {"conv:3:3,softplus,fc:2,softplus", "conv:3:3,relu,fc:2,relu"}) {
    for (bool base : {false, true}) {
      CAPTURE(spec, base);
      auto model = small_model(spec, 3, engine);
      const Batch<double> x = ref::random_batch<double>(model.input_shape(), 6, engine);
      const std::vector<Index> labels = {0, 1, 2, 0, 1, base ? 3 : 2};
      auto g = model.zero_gradients();
      const double L = discriminative_log_likelihood(model, x, labels, base, &g);
      CHECK(std::isfinite(L));
      CHECK(L < 0);
      const ActivationPattern<double> pattern = model.trunk().last_pattern();
      auto objective = [&](bool& same) {
        const double v = discriminative_log_likelihood(model, x, labels, base);
        same = same && model.trunk().last_pattern().count_differences(pattern) == 0;
        return v;
      };
      testing::GradientCheckResult r;
      const double h = 1e-6;
      auto params = model.parameters();
      for (std::size_t b = 0; b < params.size(); ++b) {
        for (Index i : testing::detail::pick(params[b].size(), 40, engine)) {
          double& entry = params[b].data[i];
          const double saved = entry;
          bool same = true;
          entry = saved + h;
          const double up = objective(same);
          entry = saved - h;
          const double down = objective(same);
          entry = saved;
          if (!same) {
            ++r.skipped;
            continue;
          }
          testing::detail::record(r, (up - down) / (2 * h), g.blocks[b](i), params[b].name + "[" + std::to_string(i) + "]",
                                  1e-6);
        }
        CHECK(g.blocks[b].norm() > 0);
      }
      INFO(r.worst);
      CHECK(r.passed);
      CHECK(r.checked > 60);
      if (spec.find("softplus") != std::string::npos) CHECK(r.skipped == 0);
    }
  }
}

TEST_CASE("the discriminative learner is deterministic; state()/restore() and checkpoints continue bit for bit",
          "[categories][discriminative][state]") {
  std::mt19937_64 setup(1421);
  const auto initial = small_model("conv:3:3,relu,fc:2,relu", 2, setup, 0.2);
  const Batch<double> images = ref::random_batch<double>(initial.input_shape(), 20, setup);
  std::vector<Index> labels;
  for (Index n = 0; n < 20; ++n) labels.push_back(n % 2);
  DiscriminativeOptions options;
  options.batch_size = 6;  // three slices per epoch (two images left out), a new shuffle after each
  options.noise_images = 4;
  options.optimizer.learning_rate = 0.01;

  CategoryModel<Dyn> a = initial;
  DiscriminativeLearner<Dyn> la(a, images, labels, options, 11);
  for (int t = 0; t < 7; ++t) la.step();
  const auto reference = parameters_of(a);

  CategoryModel<Dyn> b = initial;
  DiscriminativeLearner<Dyn> lb(b, images, labels, options, 11);
  for (int t = 0; t < 3; ++t) lb.step();
  const auto state = lb.state();
  for (int t = 0; t < 4; ++t) lb.step();
  CHECK(parameters_of(b) == reference);

  CategoryModel<Dyn> c = initial;  // another engine: restore replaces it
  DiscriminativeLearner<Dyn> lc(c, images, labels, options, 99);
  lc.restore(state);
  CHECK(lc.iteration() == 3);
  for (int t = 0; t < 4; ++t) lc.step();
  CHECK(parameters_of(c) == reference);
  CHECK(lc.iteration() == 7);

  const std::string path =
      (std::filesystem::temp_directory_path() / ("gconvnet_test_categories_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  CategoryModel<Dyn> d = initial;
  DiscriminativeLearner<Dyn> ld(d, images, labels, options, 11);
  for (int t = 0; t < 3; ++t) ld.step();
  ld.set_learning_rate(0.005);
  io::save_discriminative_checkpoint(ld, path);
  for (int t = 0; t < 4; ++t) ld.step();
  CategoryModel<Dyn> e = initial;
  DiscriminativeLearner<Dyn> le(e, images, labels, options, 123);
  io::load_discriminative_checkpoint(le, path);
  CHECK(le.learning_rate() == 0.005);
  for (int t = 0; t < 4; ++t) le.step();
  CHECK(parameters_of(e) == parameters_of(d));
  CHECK(parameters_of(e) != reference);  // the learning rate was changed at iteration 3
  std::filesystem::remove(path);

  CategoryModel<Dyn> f = initial;
  DiscriminativeLearner<Dyn> lf(f, images, labels, options, 12);  // another seed, another run
  for (int t = 0; t < 7; ++t) lf.step();
  CHECK(parameters_of(f) != reference);
}

TEST_CASE("float models: the learner, its checkpoint, AIS and Langevin on a category", "[categories][float]") {
  std::mt19937_64 engine(1423);
  using F = DynamicModel<float>;
  CategoryModel<F> model(F(Shape{1, 6, 6}, parse_layers<float>("conv:3:3,relu,fc:2,relu")), 2);
  initialize_normal(model, engine, 0.2);
  Batch<float> images = make_batch<float>(model.input_shape(), 8);
  fill_standard_normal(engine, images);
  const std::vector<Index> labels = {0, 1, 0, 1, 0, 1, 0, 1};
  DiscriminativeLearner<F> learner(model, images, labels, DiscriminativeOptions{}, 3);
  for (int t = 0; t < 3; ++t) CHECK(std::isfinite(learner.step().log_likelihood));
  const std::string path =
      (std::filesystem::temp_directory_path() / ("gconvnet_test_categories_f_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  io::save_discriminative_checkpoint(learner, path);
  CategoryModel<F> other = model;
  DiscriminativeLearner<F> resumed(other, images, labels, DiscriminativeOptions{}, 4);
  io::load_discriminative_checkpoint(resumed, path);
  std::filesystem::remove(path);
  learner.step();
  resumed.step();
  CHECK(model.heads() == other.heads());
  LogPartitionOptions o;
  o.temperatures = 20;
  o.chains = 4;
  o.runs = 2;
  const auto e = estimate_log_partition(model.category(1), o, engine);
  CHECK(std::isfinite(e.log_z));
  Batch<float> chains = make_batch<float>(model.input_shape(), 2);
  chains.setZero();
  langevin(model.category(0), chains, LangevinOptions{0.3, 5, 1.0, true}, engine);
  CHECK(all_finite(chains));
  CHECK(log_likelihood(model.category(0), chains, e.log_z).allFinite());
}

TEST_CASE("held-out accuracy on a synthetic two-class problem beats chance by a wide margin",
          "[categories][discriminative][accuracy]") {
  // horizontal against vertical bars (amplitude 2.5 on N(0, 1) noise), 8x8. Chance is 0.5; with 200
  // held-out images the binomial standard error of an accuracy near 0.9 is 0.02, so ≥ 0.8 is ≥ 15 se
  // above chance and still 5 se below what the learner reaches.
  std::mt19937_64 engine(1422);
  const Shape shape{1, 8, 8};
  auto make = [&](Index n, std::vector<Index>& labels) {
    Batch<double> b = ref::random_batch<double>(shape, n, engine);
    std::uniform_int_distribution<Index> line(1, 6);
    for (Index i = 0; i < n; ++i) {
      const Index y = i % 2, at = line(engine);
      for (Index j = 0; j < 8; ++j) (y == 0 ? b(0, at, j, i) : b(0, j, at, i)) += 2.5;
      labels.push_back(y);
    }
    return b;
  };
  std::vector<Index> train_labels, test_labels;
  const Batch<double> train = make(200, train_labels), test = make(200, test_labels);
  for (bool base : {false, true}) {
    CAPTURE(base);
    CategoryModel<Dyn> model(Dyn(shape, parse_layers<double>("conv:4:3,relu")), 2);
    initialize_normal(model, engine, 0.1);
    DiscriminativeOptions options;
    options.noise_base = base;
    options.batch_size = base ? 50 : 0;
    options.optimizer.learning_rate = 0.02;
    DiscriminativeLearner<Dyn> learner(model, train, train_labels, options, 5);
    DiscriminativeStats stats;
    for (int t = 0; t < 150; ++t) stats = learner.step();
    const auto predicted = model.classify(test);
    double right = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) right += predicted[i] == test_labels[i] ? 1 : 0;
    const double accuracy = right / static_cast<double>(predicted.size());
    WARN("two-class bars" << (base ? " with the noise base" : "") << ": held-out accuracy " << accuracy
                          << ", last batch accuracy " << stats.accuracy << ", noise classified base "
                          << stats.base_accuracy << ", log-likelihood " << stats.log_likelihood);
    CHECK(accuracy >= 0.8);
    if (base) CHECK(stats.base_accuracy >= 0.8);
  }
}

TEST_CASE("Prop. 1(b): trained with the white-noise base, b_c = log(ρ_c/ρ_base) − log Z_c with log Z_c of the "
          "learned f_c by AIS",
          "[categories][discriminative][prop1][slow]") {
  // Two one-filter class models on 1x2x2 images (σ = 1, orthogonal filters), samples drawn exactly; the
  // classifier has a trunk of two fully connected ReLU filters and two heads (started at the identity,
  // category c on filter c), so it can represent the truth. For each category the discrepancy
  //   d_c = (log(ρ_c/ρ_base) − b_c) − log Ẑ_c,   Ẑ_c by AIS on the learned f_c,
  // is 0 at the optimum of the population objective (noise-contrastive estimation is consistent). With
  // N labelled images per category the estimator has a bias O(p/N), p = 12 parameters per category
  // (measured: about −9/N for N = 250…4000); over R independent replications (data, noise,
  // initialisation) the mean of d_c must be within 3 standard errors (k = 3) plus p/N of 0.
  // The paper's sign (+ log Z_c) would make d_c about 2 log Z_c ≈ 2.5.
  const Shape shape{1, 2, 2};
  const Index R = 6, per_class = 1000, noise = 2000, p = 12;
  const double norms[2] = {1.5, 2.0}, betas[2] = {0.5, -1.0};
  std::vector<std::vector<double>> d(2);
  for (Index r = 0; r < R; ++r) {
    std::mt19937_64 engine(1430 + static_cast<std::uint64_t>(r));
    const Matrix<double> u = cat::orthonormal(4, 2, engine);
    Matrix<double> data(4, 2 * per_class);
    std::vector<Index> labels;
    for (Index c = 0; c < 2; ++c) {
      data.middleCols(c * per_class, per_class) =
          cat::one_filter_samples(norms[c] * u.col(c), betas[c], 1.0, per_class, engine);
      labels.insert(labels.end(), static_cast<std::size_t>(per_class), c);
    }
    CategoryModel<cat::FcModel> model(cat::fc_model(shape, 2), 2);
    initialize_normal(model, engine, 0.1);
    model.heads().setIdentity();
    DiscriminativeOptions options;
    options.noise_images = noise;
    options.optimizer.learning_rate = 0.02;
    DiscriminativeLearner<cat::FcModel> learner(model, cat::batch_from(data, shape), labels, options, 100 + r);
    for (int t = 0; t < 400; ++t) learner.step();
    learner.set_learning_rate(0.005);
    for (int t = 0; t < 200; ++t) learner.step();
    learner.set_learning_rate(0.001);
    DiscriminativeStats stats;
    for (int t = 0; t < 200; ++t) stats = learner.step();
    const Vector<double> implied = implied_log_partition(model.biases(), learner.log_prior_ratios());
    CHECK(std::abs(learner.log_prior_ratios()(0) - std::log(0.5)) <= 1e-15);  // 1000 labelled against 2000 noise
    for (Index c = 0; c < 2; ++c) {
      LogPartitionOptions o;
      o.temperatures = 200;
      o.steps = 2;
      o.chains = 32;
      o.runs = 8;
      o.step_size = 1.0;
      const auto e = estimate_log_partition(model.category(c), o, engine);
      d[static_cast<std::size_t>(c)].push_back(implied(c) - e.log_z);
      WARN("replication " << r << ", category " << c << ": b_c " << model.biases()(c) << ", implied log Z_c "
                          << implied(c) << ", AIS log Z_c of the learned f_c " << e.log_z << " +- "
                          << e.standard_error << " (true class model: " << cat::one_filter_log_z(norms[c], betas[c], 1.0)
                          << "); batch accuracy " << stats.accuracy << ", noise as base " << stats.base_accuracy);
    }
  }
  for (std::size_t c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (double v : d[c]) mean += v / R;
    for (double v : d[c]) var += (v - mean) * (v - mean) / (R - 1);
    const double se = std::sqrt(var / R);
    WARN("category " << c << ": mean discrepancy " << mean << ", its standard error " << se << " over " << R
                     << " replications; tolerance " << 3 * se + static_cast<double>(p) / per_class);
    CHECK(std::abs(mean) <= 3 * se + static_cast<double>(p) / per_class);  // k = 3, and the O(p/N) bias
    CHECK(std::sqrt(var) < 0.1);  // each replication agrees to well within the scale of log Z_c
  }
}
