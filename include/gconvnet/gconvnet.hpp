// gconvnet/gconvnet.hpp — the umbrella header: everything but image I/O (gconvnet/io/) and threading.
//
// The Generative ConvNet (Xie, Lu, Zhu, Wu, ICML 2016): p(I; w) ∝ exp(f(I; w)) q(I), with q Gaussian
// white noise and f the sum of a ReLU ConvNet's top-layer responses.
#pragma once

#include "gconvnet/core/channel_means.hpp"
#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/layers/concepts.hpp"
#include "gconvnet/layers/conv.hpp"
#include "gconvnet/layers/layer_pattern.hpp"
#include "gconvnet/layers/max_pool.hpp"
#include "gconvnet/layers/relu.hpp"
#include "gconvnet/layers/softplus.hpp"
#include "gconvnet/learning/cd_learner.hpp"
#include "gconvnet/learning/growth.hpp"
#include "gconvnet/learning/learner_base.hpp"
#include "gconvnet/learning/mle_learner.hpp"
#include "gconvnet/learning/optimizer.hpp"
#include "gconvnet/learning/options.hpp"
#include "gconvnet/learning/stages.hpp"
#include "gconvnet/learning/statistics.hpp"
#include "gconvnet/model/activation_pattern.hpp"
#include "gconvnet/model/dynamic_model.hpp"
#include "gconvnet/model/energy_model.hpp"
#include "gconvnet/model/initialize.hpp"
#include "gconvnet/model/model_base.hpp"
#include "gconvnet/sampling/diagnostics.hpp"
#include "gconvnet/sampling/fixed_pixels.hpp"
#include "gconvnet/sampling/grade.hpp"
#include "gconvnet/sampling/langevin.hpp"
#include "gconvnet/sampling/random.hpp"
#include "gconvnet/version.hpp"
