// gconvnet/learning/cd_learner.hpp — contrastive divergence CD-k (Sec. 7, Proposition 3, Experiment 3).
//
//   LearningOptions options;
//   options.langevin = {0.5, 1, 1.0};            // ε = 0.5, k = 1 step, σ = 1
//   CdLearner learner(model, observed, options, seed);
//   for (int t = 0; t < 1200; ++t) learner.step();
#pragma once

#include <cstdint>

#include "gconvnet/learning/learner_base.hpp"

namespace gconvnet {

/// What this object represents: CD-k — at every iteration one chain per observed image restarts AT
/// that image and runs k = options.langevin.steps Langevin steps; the update is that of Algorithm 1
/// with these chains as the synthesized images. With k = 1 and an unchanged activation pattern the
/// expected update direction is −(ε²/2)·∂/∂w ‖I_obs − B_{w,δ}‖²/2 (Proposition 3): CD learns to
/// reconstruct. It starts at the last stage (all layers learned together, as in Experiment 3);
/// set_stage works as for MleLearner (η never rises above learning_rate). options.chains and
/// options.chain_init are not used.
/// See LearnerBase for the members (step, set_stage, synthesized, save_checkpoint, …).
template <class Model>
class CdLearner : public LearnerBase<Model> {
public:
  using Scalar = typename Model::Scalar;

  /// observed: one or more images of the model's input shape (already mean-subtracted).
  /// throws: Error on a shape mismatch, NaN/Inf in observed, or an option out of range.
  CdLearner(Model& model, const Batch<Scalar>& observed, const LearningOptions& options, std::uint64_t seed)
      : LearnerBase<Model>("CdLearner", true, model, observed, options, seed) {
    this->start_at_stage(this->num_stages() - 1);
  }
  /// The same for a single observed image.
  CdLearner(Model& model, const Image<Scalar>& observed, const LearningOptions& options, std::uint64_t seed)
      : CdLearner(model, as_batch(observed), options, seed) {}
};

}  // namespace gconvnet
