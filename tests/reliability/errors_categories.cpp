// The documented errors of the category heads, AIS, the discriminative learner and its checkpoints
// (docs/errors.md: "Models — categories", "Samplers — log Z by annealed importance sampling",
// "Learning — discriminative learner", "I/O — discriminative checkpoints"), and the discriminative
// learner's divergence guard: after each NumericalError the learner is exactly as before the call.
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/category_checkpoint.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/safetensors.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "reliability/error_catalogue.hpp"

using namespace gconvnet;
using Catch::Contains;
using reliability::expect_error;
namespace fs = std::filesystem;

namespace {

using Trunk = EnergyModel<Conv<double>, ReLU<double>, Conv<double>, ReLU<double>>;
using Cats = CategoryModel<Trunk>;

Cats category_model(Index C = 2) {
  Cats model(Trunk(Shape{1, 6, 6}, Conv<double>(3, 3), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{}), C);
  std::mt19937_64 engine(3);
  initialize_normal(model, engine, 0.3);
  return model;
}

Batch<double> images(Index n, double scale = 1.0) {
  Batch<double> b = make_batch<double>(Shape{1, 6, 6}, n);
  std::mt19937_64 engine(4);
  std::normal_distribution<double> normal(0.0, scale);
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = normal(engine);
  return b;
}

std::vector<Index> labels(Index n, Index C = 2) {
  std::vector<Index> out;
  for (Index i = 0; i < n; ++i) out.push_back(i % C);
  return out;
}

std::vector<Vector<double>> parameters_of(Cats& model) {
  std::vector<Vector<double>> out;
  for (const auto& p : model.parameters()) out.push_back(p.vector());
  return out;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("gconvnet_errors_categories_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("model.readout_* and model.category.*: the readout functions and the category heads",
          "[reliability][errors][categories]") {
  Trunk trunk(Shape{1, 6, 6}, Conv<double>(3, 3), ReLU<double>{}, Conv<double>(2, 3), ReLU<double>{});
  const Batch<double> x = images(3);
  Batch<double> g;
  Matrix<double> readout = Matrix<double>::Ones(2, 1);
  CHECK_THAT(expect_error("model.readout_no_forward", [&] { trunk.readout_gradient(readout, g); }),
             Contains("EnergyModel::readout_gradient"));
  Matrix<double> sums;
  trunk.top_channel_sums(x, sums);
  trunk.set_depth(2);  // a new depth: the forward pass no longer counts
  auto grads = trunk.zero_gradients();
  expect_error("model.readout_no_forward", [&] { trunk.accumulate_readout_gradient(Matrix<double>::Ones(3, 1), grads); });
  trunk.set_depth(4);
  trunk.top_channel_sums(x, sums);
  CHECK_THAT(expect_error("model.readout_shape", [&] { trunk.readout_gradient(Matrix<double>::Ones(3, 1), g); }),
             Contains("is 3x1, expected 2x1 or 2x3"));
  expect_error("model.readout_shape", [&] { trunk.accumulate_readout_gradient(Matrix<double>::Ones(2, 2), grads); });
  Reconstruction<double> r;
  expect_error("model.readout_shape", [&] { trunk.top_down(trunk.bottom_up(x), Matrix<double>::Ones(2, 4), r); });
  Gradients<double> short_grads;
  CHECK_THAT(expect_error("model.gradients_layout", [&] { trunk.accumulate_readout_gradient(readout, short_grads); }),
             Contains("expected at least 4"));

  expect_error("model.category.categories", [&] { Cats(trunk, 0); });
  Cats model = category_model(3);
  CHECK_THAT(expect_error("model.category.index", [&] { model.category(3); }), Contains("expected 0..2"));
  expect_error("model.category.index", [&] { model.category(-1); });
  expect_error("model.category.depth", [&] { model.set_depth(2); });
  CHECK_NOTHROW(model.set_depth(4));
  expect_error("model.category.reference_sigma", [&] { model.category(0).energy(x, 0.0); });
  expect_error("model.category.reference_sigma",
               [&] { model.category(0).energy(x, std::numeric_limits<double>::quiet_NaN()); });
  auto trunk_grads = model.trunk().zero_gradients();
  CHECK_THAT(expect_error("model.category.gradients_layout",
                          [&] { model.category(1).accumulate_parameter_gradient(x, trunk_grads); }),
             Contains("CategoryView::accumulate_parameter_gradient"));
  Matrix<double> scores, weights;
  auto fill = [](const Matrix<double>& s, Matrix<double>& w) { w = Matrix<double>::Zero(s.rows(), s.cols()); };
  auto view_grads = model.category(0).zero_gradients();
  CHECK_THAT(expect_error("model.category.gradients_layout",
                          [&] { model.accumulate_logit_gradient(x, scores, weights, fill, view_grads); }),
             Contains("CategoryModel::accumulate_logit_gradient"));
  auto model_grads = model.zero_gradients();
  expect_error("model.category.weigh", [&] {
    model.accumulate_logit_gradient(x, scores, weights, [](const Matrix<double>&, Matrix<double>& w) { w.resize(2, 3); },
                                    model_grads);
  });
  // the trunk reports images of another shape, through a view
  expect_error("model.images_shape", [&] { model.category(0).score(make_batch<double>(Shape{1, 7, 6}, 1)); });

  const Matrix<double> f = Matrix<double>::Zero(3, 2);
  expect_error("model.category.posterior_sizes", [&] { category_posterior(f, Vector<double>(Vector<double>::Zero(2)), false); });
  expect_error("model.category.posterior_sizes",
               [&] { category_posterior(Matrix<double>(0, 2), Vector<double>(0), true); });
  const Vector<double> two = Vector<double>::Zero(2), three = Vector<double>::Zero(3);
  expect_error("model.category.bayes_biases", [&] { bayes_biases(two, three); });
  Vector<double> bad = three;
  bad(1) = -std::numeric_limits<double>::infinity();  // log of a prior 0
  expect_error("model.category.bayes_biases", [&] { bayes_biases(bad, three); });
  expect_error("model.category.log_prior_base",
               [&] { bayes_biases(three, three, -std::numeric_limits<double>::infinity()); });
  expect_error("model.category.implied_log_partition", [&] { implied_log_partition(two, three); });
  expect_error("model.category.implied_log_partition", [&] { implied_log_partition(bad, three); });
}

TEST_CASE("sampling.ais.*, sampling.log_likelihood: options of estimate_log_partition and log_likelihood",
          "[reliability][errors][categories]") {
  Cats model = category_model();
  auto& view = model.category(0);
  std::mt19937_64 engine(5);
  auto run = [&](LogPartitionOptions o) { return [&view, &engine, o] { estimate_log_partition(view, o, engine); }; };
  LogPartitionOptions o;
  o.temperatures = 0;
  expect_error("sampling.ais.counts", run(o));
  o = LogPartitionOptions{};
  o.chains = 0;
  expect_error("sampling.ais.counts", run(o));
  o = LogPartitionOptions{};
  o.runs = 1;
  CHECK_THAT(expect_error("sampling.ais.counts", run(o)), Contains("'options.runs' (1)"));
  o = LogPartitionOptions{};
  o.schedule = LogPartitionOptions::Schedule::geometric;
  o.geometric_start = 1.0;
  expect_error("sampling.ais.schedule", run(o));
  o = LogPartitionOptions{};
  o.sigmoid_sharpness = 0;
  expect_error("sampling.ais.schedule", run(o));
  o = LogPartitionOptions{};
  o.schedule = static_cast<LogPartitionOptions::Schedule>(9);
  expect_error("sampling.ais.schedule", run(o));
  o = LogPartitionOptions{};
  o.step_size = -1;
  CHECK_THAT(expect_error("sampling.step_size", run(o)), Contains("estimate_log_partition"));
  o = LogPartitionOptions{};
  o.reference_sigma = 0;
  expect_error("sampling.reference_sigma", run(o));
  o = LogPartitionOptions{};
  o.steps = -1;
  expect_error("sampling.steps", run(o));

  // a weight that is NaN: the score of the first draws from q is NaN (transition 0)
  o = LogPartitionOptions{};
  o.temperatures = 3;
  o.chains = 2;
  o.runs = 2;
  Cats broken = category_model();
  broken.heads()(1, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(expect_error("sampling.ais.score_diverged", [&] { estimate_log_partition(broken.category(0), o, engine); }),
             Contains("at transition 0 (beta 0)"));
  // a step so large that the first move overflows: plain Langevin reports the chain
  o.metropolis = false;
  o.step_size = 1e200;
  CHECK_THAT(expect_error("sampling.chain_diverged", [&] { estimate_log_partition(view, o, engine); }),
             Contains("annealed Langevin step"));

  const Batch<double> x = images(2);
  expect_error("sampling.log_likelihood", [&] { log_likelihood(view, x, std::numeric_limits<double>::quiet_NaN()); });
  expect_error("sampling.log_likelihood", [&] { log_likelihood(view, x, 0.0, -1.0); });
}

TEST_CASE("learning.discriminative.*: the discriminative learner's arguments, options and state",
          "[reliability][errors][categories]") {
  Cats model = category_model();
  const Batch<double> x = images(6);
  const auto y = labels(6);
  auto make = [&](const Batch<double>& im, std::vector<Index> lab, DiscriminativeOptions o, Cats& m) {
    return [&im, lab, o, &m] { DiscriminativeLearner<Trunk>(m, im, lab, o, 1); };
  };
  const DiscriminativeOptions d;
  CHECK_THAT(expect_error("learning.discriminative.labels", make(x, {0, 1}, d, model)), Contains("has 2 labels"));
  expect_error("learning.discriminative.labels", make(x, {0, 1, 2, 0, 1, 0}, d, model));
  expect_error("learning.discriminative.labels", [&] { discriminative_log_likelihood(model, x, {0, 1, 2, 0, 1, 3}, true); });
  expect_error("learning.discriminative.labels", [&] { discriminative_log_likelihood(model, x, {0, 1, 2, 0, 1, 0}, false); });
  CHECK_NOTHROW(discriminative_log_likelihood(model, x, {0, 1, 2, 0, 1, 0}, true));
  const Batch<double> wrong = make_batch<double>(Shape{1, 5, 6}, 6);
  expect_error("learning.discriminative.images_shape", make(wrong, y, d, model));
  Batch<double> nan = x;
  nan(0, 2, 2, 3) = std::numeric_limits<double>::quiet_NaN();
  expect_error("learning.discriminative.images_finite", make(nan, y, d, model));
  DiscriminativeOptions o = d;
  o.noise_images = -1;
  expect_error("learning.discriminative.counts", make(x, y, o, model));
  o = d;
  o.batch_size = 7;
  CHECK_THAT(expect_error("learning.discriminative.batch_size", make(x, y, o, model)), Contains("expected 0 (all) to 6"));
  o = d;
  o.reference_sigma = 0;
  expect_error("learning.discriminative.reference_sigma", make(x, y, o, model));
  o = d;
  o.optimizer.learning_rate = 0;
  CHECK_THAT(expect_error("learning.options.learning_rate", make(x, y, o, model)),
             Contains("DiscriminativeLearner::DiscriminativeLearner"));
  Cats one = category_model(1);
  o = d;
  o.noise_base = false;
  expect_error("learning.discriminative.one_category", make(x, std::vector<Index>(6, 0), o, one));
  CHECK_NOTHROW(DiscriminativeLearner<Trunk>(one, x, std::vector<Index>(6, 0), d, 1));  // one category against noise

  o = d;
  o.batch_size = 3;
  DiscriminativeLearner<Trunk> learner(model, x, y, o, 1);
  expect_error("learning.discriminative.learning_rate", [&] { learner.set_learning_rate(0); });
  expect_error("learning.discriminative.learning_rate",
               [&] { learner.set_learning_rate(std::numeric_limits<double>::infinity()); });
  o.noise_base = false;
  Cats other = category_model();
  DiscriminativeLearner<Trunk> no_base(other, x, y, o, 1);
  expect_error("learning.discriminative.no_base", [&] { no_base.log_prior_ratios(); });

  learner.step();
  const auto good = learner.state();
  auto s = good;
  s.weights.pop_back();
  CHECK_THAT(expect_error("learning.discriminative.state", [&] { learner.restore(s); }), Contains("parameter blocks"));
  s = good;
  s.optimizer.second_moment.clear();  // an SGD state for an Adam learner
  expect_error("learning.discriminative.state", [&] { learner.restore(s); });
  s = good;
  s.weights[0](0) = std::numeric_limits<double>::quiet_NaN();
  expect_error("learning.discriminative.state", [&] { learner.restore(s); });
  s = good;
  s.order[0] = s.order[1];
  CHECK_THAT(expect_error("learning.discriminative.state", [&] { learner.restore(s); }), Contains("not a permutation"));
  s = good;
  s.learning_rate = -1;
  expect_error("learning.discriminative.state", [&] { learner.restore(s); });
  s = good;
  s.cursor = 7;
  expect_error("learning.discriminative.state", [&] { learner.restore(s); });
  CHECK(parameters_of(model) == good.weights);  // nothing changed
  s = no_base.state();
  s.order = {0, 1, 2, 3, 4, 5};
  CHECK_NOTHROW(no_base.restore(s));
}

TEST_CASE("learning.discriminative.diverged.*: the divergence guard undoes the iteration",
          "[reliability][errors][categories][divergence]") {
  const Batch<double> x = images(6);
  const auto y = labels(6);
  {
    Cats model = category_model();
    DiscriminativeLearner<Trunk> learner(model, x, y, DiscriminativeOptions{}, 1);
    learner.step();
    model.heads()(0, 1) = std::numeric_limits<double>::infinity();
    const auto before = parameters_of(model);
    CHECK_THAT(expect_error("learning.discriminative.diverged.before", [&] { learner.step(); }),
               Contains("iteration 1: the parameter block heads"));
    CHECK(learner.iteration() == 1);
    CHECK(parameters_of(model) == before);
  }
  {
    // heads so large that the scores overflow: L is NaN
    Cats model = category_model();
    DiscriminativeLearner<Trunk> learner(model, images(6, 10.0), y, DiscriminativeOptions{}, 1);
    learner.step();
    model.heads().setConstant(1e308);
    const auto before = learner.state();
    expect_error("learning.discriminative.diverged.gradient", [&] { learner.step(); });
    const auto after = learner.state();
    CHECK(after.weights == before.weights);
    CHECK(after.optimizer.first_moment == before.optimizer.first_moment);
    CHECK(after.optimizer.second_moment == before.optimizer.second_moment);
    CHECK(after.optimizer.steps == before.optimizer.steps);
    CHECK(after.engine == before.engine);
    CHECK(after.iteration == 1);
  }
  {
    // SGD at η = 1e308 on images of large intensity: the update overflows
    Cats model = category_model();
    DiscriminativeOptions o;
    o.optimizer.method = OptimizerOptions::Method::sgd;
    o.optimizer.learning_rate = 1e308;
    o.batch_size = 3;
    DiscriminativeLearner<Trunk> learner(model, images(6, 50.0), y, o, 1);
    const auto before = learner.state();
    CHECK_THAT(expect_error("learning.discriminative.diverged.update", [&] { learner.step(); }),
               Contains("iteration 0: the parameters became NaN or Inf in the update (learning rate 1e+308)"));
    const auto after = learner.state();
    CHECK(after.weights == before.weights);
    CHECK(after.optimizer.first_moment == before.optimizer.first_moment);
    CHECK(after.engine == before.engine);
    CHECK(after.order == before.order);
    CHECK(after.cursor == before.cursor);
    CHECK(learner.iteration() == 0);
  }
}

TEST_CASE("io.discriminative_checkpoint.*: files that do not fit the learner", "[reliability][errors][categories][io]") {
  const Batch<double> x = images(6);
  const auto y = labels(6);
  Cats model = category_model();
  DiscriminativeLearner<Trunk> learner(model, x, y, DiscriminativeOptions{}, 1);
  learner.step();
  const std::string good = scratch("good.safetensors").string();
  io::save_discriminative_checkpoint(learner, good);
  const auto state = learner.state();
  auto load = [&](const std::string& path) { return [&learner, path] { io::load_discriminative_checkpoint(learner, path); }; };

  const std::string weights = scratch("weights.safetensors").string();
  io::save_weights(model, weights);
  CHECK_THAT(expect_error("io.discriminative_checkpoint.format", load(weights)), Contains("gconvnet.weights.v1"));

  Cats three = category_model(3);
  DiscriminativeLearner<Trunk> l3(three, x, y, DiscriminativeOptions{}, 1);
  const std::string other_model = scratch("three.safetensors").string();
  io::save_discriminative_checkpoint(l3, other_model);
  CHECK_THAT(expect_error("io.discriminative_checkpoint.architecture", load(other_model)), Contains("heads 2x3"));

  Cats m5 = category_model();
  DiscriminativeLearner<Trunk> l5(m5, images(5), labels(5), DiscriminativeOptions{}, 1);
  const std::string five = scratch("five.safetensors").string();
  io::save_discriminative_checkpoint(l5, five);
  expect_error("io.discriminative_checkpoint.images", load(five));

  Cats ms = category_model();
  DiscriminativeOptions sgd;
  sgd.optimizer.method = OptimizerOptions::Method::sgd;
  DiscriminativeLearner<Trunk> ls(ms, x, y, sgd, 1);
  const std::string sgd_file = scratch("sgd.safetensors").string();
  io::save_discriminative_checkpoint(ls, sgd_file);
  expect_error("io.discriminative_checkpoint.optimizer_method", load(sgd_file));

  // the good file with one metadata entry replaced
  auto with_metadata = [&](const std::string& key, const std::string& value) {
    const auto r = io::SafetensorsReader::read(good);
    io::SafetensorsWriter w;
    for (const auto& name : r.names()) {
      const auto& e = r.entry(name);
      std::vector<double> values(static_cast<std::size_t>((e.end - e.begin) / sizeof(double)));
      r.copy_to(name, e.shape, values.data());
      w.add(name, e.shape, values.data());
    }
    for (const auto& [k, v] : r.metadata())
      if (k != io::safetensors_checksum_key) w.set_metadata(k, k == key ? value : v);
    const std::string path = scratch("edited.safetensors").string();
    w.write(path);
    return path;
  };
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"learning_rate", "fast"}, {"engine", "1 2 3"}, {"optimizer.steps", "[1, 2"}, {"order", "{\"a\": 1}"}}) {
    CAPTURE(key);
    CHECK_THAT(expect_error("io.discriminative_checkpoint.metadata", load(with_metadata(key, value))),
               Contains("metadata '" + key + "'"));
  }
  expect_error("io.checkpoint.integer", load(with_metadata("cursor", "x")));
  CHECK(learner.state().weights == state.weights);  // unchanged by every refusal
  CHECK(learner.iteration() == 1);
  CHECK_NOTHROW(io::load_discriminative_checkpoint(learner, good));
  fs::remove_all(scratch("x").parent_path());
}
