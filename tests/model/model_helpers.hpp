// Helpers shared by the model tests: random parameters, and Theorem 1 checked on one model.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>

#include <gconvnet/gconvnet.hpp>

#include <catch2/catch.hpp>

#include "layers/reference.hpp"

namespace mt {

using namespace gconvnet;

/// Weights N(0, weight_sigma²) through initialize_normal, then biases N(0, bias_sigma²) (random, so
/// that α_{w,δ} is not trivially 0).
template <class Model, class Engine>
void randomize(Model& model, Engine& engine, double weight_sigma, double bias_sigma) {
  initialize_normal(model, engine, weight_sigma, 0.0);
  std::normal_distribution<double> normal(0.0, bias_sigma);
  for (auto& p : model.parameters())
    if (p.is_bias)
      for (Index i = 0; i < p.size(); ++i) p.data[i] = static_cast<typename Model::Scalar>(normal(engine));
}

/// Copies every parameter of `from` into `to` (same layout, any scalar types).
template <class From, class To>
void copy_parameters(From& from, To& to) {
  auto a = from.parameters();
  auto b = to.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].dims == b[i].dims);
    b[i].vector() = a[i].vector().template cast<typename To::Scalar>();
  }
}

/// ⟨I_n, B_n⟩ for image n.
template <class S>
double inner(const Batch<S>& a, const Batch<S>& b, Index n) {
  return static_cast<double>(as_columns(a).col(n).dot(as_columns(b).col(n)));
}

/// Fraction of active ReLU units over every gated layer of a pattern.
template <class S>
double active_fraction(const ActivationPattern<S>& p) {
  double on = 0, all = 0;
  for (const auto& l : p.layers) {
    on += static_cast<double>(as_vector(l.gate).template cast<double>().sum());
    all += static_cast<double>(l.gate.size());
  }
  return all > 0 ? on / all : 0.0;
}

/// Theorem 1 on a batch of random images, for a model with piecewise linear layers (ReLU, MaxPool):
///  (a) f(I) = α_{w,δ} + ⟨I, B_{w,δ}⟩ to 1e-10 relative (to the larger of |f|, |α|, |⟨I,B⟩|);
///  (b) ∂f/∂I from score_and_gradient equals B_{w,δ(I)} from top_down(bottom_up(I));
///  (c) a perturbation of I small enough to keep δ leaves B unchanged, and (a) holds at I + ΔI with the
///      α and B of I: f is linear on the piece.
/// Returns the fraction of active units (the caller checks it is neither 0 nor 1).
template <class Model, class Engine>
double check_theorem1(Model& model, Index n, Engine& engine) {
  using S = typename Model::Scalar;
  static_assert(std::is_same<S, double>::value, "Theorem 1 is checked in double");
  const Batch<double> x = ref::random_batch<double>(model.input_shape(), n, engine);
  const Vector<double> f = model.score(x);
  const ActivationPattern<double> delta = model.bottom_up(x);
  REQUIRE(delta.layers.size() == static_cast<std::size_t>(model.depth()));
  REQUIRE(delta.chains == n);
  const Reconstruction<double> rec = model.top_down(delta);
  REQUIRE(shape_of(rec.B) == model.input_shape());
  REQUIRE(batch_size(rec.B) == n);
  REQUIRE(rec.alpha.size() == n);

  for (Index i = 0; i < n; ++i) {
    const double ib = inner(x, rec.B, i);
    const double scale = std::max({std::abs(f(i)), std::abs(rec.alpha(i)), std::abs(ib), 1e-300});
    CAPTURE(i, f(i), rec.alpha(i), ib);
    CHECK(std::abs(f(i) - (rec.alpha(i) + ib)) <= 1e-10 * scale);  // (a) eq. 6.13–6.14
  }
  CHECK(as_vector(rec.B).norm() > 0);  // B is not trivially zero

  Vector<double> scores;
  Batch<double> grad;
  model.score_and_gradient(x, scores, grad);
  CHECK(ref::relative_error(scores, f) <= 1e-14);
  CHECK(ref::relative_error(grad, rec.B) <= 1e-12);  // (b)
  CHECK(model.last_pattern() == delta);

  // (c) perturb by ~1e-9 per pixel: far below the distance of any unit from its kink here.
  Batch<double> x2 = x;
  Batch<double> dx = ref::random_batch<double>(model.input_shape(), n, engine, 1e-9);
  as_vector(x2) += as_vector(dx);
  const ActivationPattern<double> delta2 = model.bottom_up(x2);
  REQUIRE(delta2.count_differences(delta) == 0);
  const Reconstruction<double> rec2 = model.top_down(delta2);
  CHECK(ref::relative_error(rec2.B, rec.B) <= 1e-12);
  CHECK(ref::relative_error(rec2.alpha, rec.alpha) <= 1e-12);
  const Vector<double> f2 = model.score(x2);
  for (Index i = 0; i < n; ++i) {
    const double ib = inner(x2, rec.B, i);
    const double scale = std::max({std::abs(f2(i)), std::abs(rec.alpha(i)), std::abs(ib), 1e-300});
    CHECK(std::abs(f2(i) - (rec.alpha(i) + ib)) <= 1e-10 * scale);
  }
  return active_fraction(delta);
}

}  // namespace mt
