// gconvnet/learning/learner_state.hpp — everything a learner carries from one iteration to the next, as
// one value: LearnerBase::state() returns it, LearnerBase::restore() goes back to it. step() keeps one
// to undo a diverging iteration, and io/checkpoint.hpp writes and reads one.
//
// Adding a field: add the member below and list it in for_each_field (its name in files, and
// `optional` when files written before it existed lack it: they then read as LearnerBase::defaults());
// LearnerBase then says where the field lives (state_into / restore_from) and which values fit
// (mismatch). That is all: io/checkpoint.hpp writes and reads every listed field by its type
// (per-block tensors, a batch, a list of counts, the engine, a count, a number) and names no field but
// stage (its depth is stored too); the divergence guard and checkpoints go through state() / restore().
#pragma once

#include <random>
#include <vector>

#include "gconvnet/core/tensor.hpp"
#include "gconvnet/learning/optimizer.hpp"

namespace gconvnet {

/// What this object represents: the state of an MleLearner or CdLearner — what its next iterations
/// depend on besides the model's architecture, the observed images and the options. A plain value:
/// copying it, keeping it and restoring it later gives back the learner bit for bit.
template <class S>
struct LearnerState {
  using Scalar = S;
  using Engine = std::mt19937_64;

  std::vector<Vector<S>> weights;  ///< every parameter block, model.parameters() order (all layers, active or not)
  Batch<S> chains;                 ///< the synthesized chains Ĩ, one image per batch column
  OptimizerState<S> optimizer;     ///< moments and step counts, block for block like weights
  Engine engine;                   ///< the learner's random engine (Langevin noise, chain initialisation)
  Index iteration = 0;             ///< iterations done, across stages
  Index stage = 0;                 ///< the current layer stage (the model's depth is stage_depths()[stage])
  double learning_rate = 0;        ///< base η of the first stage (learning_rate() applies the per-stage factor)
};

/// How a field of LearnerState is named and checked in checkpoint files (io/checkpoint.hpp).
struct LearnerStateField {
  const char* name;           ///< the field's name in messages; for a single tensor or metadata entry, its key
  const char* block_prefix;   ///< per-block tensors only: block b is stored as block_prefix + parameters()[b].name
  bool optional = false;      ///< scalars only: left out of a file when equal to the learner's default
                              ///< (LearnerBase::defaults()), which a file without it reads as
  bool nonnegative = false;   ///< tensors: every value must be >= 0 (all must be finite)
};

/// Calls visit(field, states.member...) for every member of one or more LearnerState values (const or
/// not, of one scalar type), in the order files list them. The one list of the fields: the
/// checkpoint writer and reader go through it.
template <class Visitor, class... States>
void for_each_field(Visitor&& visit, States&... states) {
  visit(LearnerStateField{"weights", ""}, states.weights...);
  visit(LearnerStateField{"chains", ""}, states.chains...);
  visit(LearnerStateField{"optimizer.first_moment", "optimizer.first_moment."}, states.optimizer.first_moment...);
  visit(LearnerStateField{"optimizer.second_moment", "optimizer.second_moment.", false, true},
        states.optimizer.second_moment...);
  visit(LearnerStateField{"optimizer.steps", ""}, states.optimizer.steps...);
  visit(LearnerStateField{"engine", ""}, states.engine...);
  visit(LearnerStateField{"iteration", ""}, states.iteration...);
  visit(LearnerStateField{"stage", ""}, states.stage...);
  visit(LearnerStateField{"learning_rate", "", true}, states.learning_rate...);  // not in files before issue 15
}

}  // namespace gconvnet
