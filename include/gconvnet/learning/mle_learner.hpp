// gconvnet/learning/mle_learner.hpp — maximum likelihood learning (Algorithm 1, eq. 7.2–7.4) with
// layer growing (Sec. 8).
//
//   EnergyModel model(Shape{1, 48, 48}, Conv<float>(32, 7).stride(2).padding(2), ReLU<float>{},
//                                       Conv<float>(16, 3).padding(1), ReLU<float>{});
//   initialize_normal(model, engine, 0.01);
//   MleLearner learner(model, observed, LearningOptions{}, seed);    // starts at stage 0: layers 0–1
//   for (Index s = 0; s < learner.num_stages(); ++s) {
//     learner.set_stage(s);                                         // grow: keeps learned weights
//     for (int t = 0; t < 700; ++t) learner.step();
//   }
//   // learner.synthesized() holds the chains; the model holds the learned weights.
#pragma once

#include <cstdint>

#include "gconvnet/learning/learner_base.hpp"

namespace gconvnet {

/// What this object represents: Algorithm 1 — M̃ persistent Langevin chains (options.chains, started
/// at zero or noise), L Langevin steps per iteration, then w ← w + η (H_obs − H_syn) — over the layer
/// stages of a model declared with all its layers. It starts at stage 0; set_stage(s) grows the
/// model (the chains restart unless reset_chains_on_grow is false; lower layers keep learning unless
/// freeze_lower_layers; η is multiplied by learning_rate_factor_on_grow per stage).
/// See LearnerBase for the members (step, set_stage, synthesized, save_checkpoint, …).
template <class Model>
class MleLearner : public LearnerBase<Model> {
public:
  using Scalar = typename Model::Scalar;

  /// observed: one or more images of the model's input shape (already mean-subtracted, see
  /// subtract_channel_means). The learner copies them and owns a std::mt19937_64 seeded with `seed`.
  /// throws: Error on a shape mismatch, NaN/Inf in observed, or an option out of range.
  MleLearner(Model& model, const Batch<Scalar>& observed, const LearningOptions& options, std::uint64_t seed)
      : LearnerBase<Model>("MleLearner", false, model, observed, options, seed) {
    this->start_at_stage(0);
  }
  /// The same for a single observed image.
  MleLearner(Model& model, const Image<Scalar>& observed, const LearningOptions& options, std::uint64_t seed)
      : MleLearner(model, as_batch(observed), options, seed) {}
};

}  // namespace gconvnet
