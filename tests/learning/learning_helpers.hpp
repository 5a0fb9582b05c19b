// Shared by the tests of tests/learning/: the prototype model (Sec. 5), its moments (eq. 5.8),
// the gravel crop, and exact comparisons.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gconvnet/gconvnet.hpp>

namespace learning_test {

using namespace gconvnet;

/// The prototype model of Sec. 5: K filters, each covering the whole C×H×W image, then ReLU.
template <class S>
using Prototype = EnergyModel<Conv<S>, ReLU<S>>;

template <class S>
Prototype<S> make_prototype(const Shape& shape, Index filters) {
  return Prototype<S>(shape, Conv<S>::fully_connected(filters), ReLU<S>{});
}

/// Every parameter of the model as one vector, blocks in parameters() order.
template <class Model>
Vector<typename Model::Scalar> flat_parameters(Model& model) {
  using S = typename Model::Scalar;
  std::vector<S> all;
  for (const auto& p : model.parameters()) all.insert(all.end(), p.data, p.data + p.size());
  return Eigen::Map<Vector<S>>(all.data(), static_cast<Index>(all.size()));
}

/// True when every parameter is bit-for-bit equal.
template <class ModelA, class ModelB>
bool same_parameters(ModelA& a, ModelB& b) {
  const auto pa = flat_parameters(a), pb = flat_parameters(b);
  return pa.size() == pb.size() && std::equal(pa.data(), pa.data() + pa.size(), pb.data());
}

/// True when two vectors are bit-for-bit equal.
template <class S>
bool bit_equal_vectors(const Vector<S>& a, const Vector<S>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

/// True when two batches are bit-for-bit equal.
template <class S>
bool same_batch(const Batch<S>& a, const Batch<S>& b) {
  return a.dimensions() == b.dimensions() && std::equal(a.data(), a.data() + a.size(), b.data());
}

/// The moments eq. 5.8 matches, for the prototype model: per filter k, the frequency of δ_k = 1 and
/// the δ-weighted mean image (1/N) Σ_n δ_k(I_n) I_n.
struct PrototypeMoments {
  Vector<double> frequency;  // K
  Matrix<double> mean_image; // pixels × K
};

template <class S>
PrototypeMoments prototype_moments(Prototype<S>& model, const Batch<S>& images) {
  const ActivationPattern<S> p = model.bottom_up(images);
  const auto gate = as_columns(p.layers[1].gate).template cast<double>();  // K × N
  const auto x = as_columns(images).template cast<double>();               // pixels × N
  const double n = static_cast<double>(batch_size(images));
  return PrototypeMoments{gate.rowwise().sum() / n, x * gate.transpose() / n};
}

/// The 40×40 grayscale gravel crop of tests/data/learning (0–255), as a 1×40×40 image.
template <class S>
Image<S> gravel_crop() {
  const std::string path = std::string(GCONVNET_TEST_DATA_DIR) + "/learning/gravel_crop40.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  while (in.peek() == '#') std::getline(in, line);
  Index h = 0, w = 0;
  in >> h >> w;
  Image<S> im(1, h, w);
  for (Index r = 0; r < h; ++r)
    for (Index c = 0; c < w; ++c) {
      int v = -1;
      in >> v;
      if (!in || v < 0 || v > 255) throw std::runtime_error("bad pixel in " + path);
      im(0, r, c) = static_cast<S>(v);
    }
  return im;
}

/// A crop of an image (rows r0.., columns c0..).
template <class S>
Image<S> crop(const Image<S>& im, Index r0, Index c0, Index h, Index w) {
  Image<S> out(im.dimension(0), h, w);
  for (Index c = 0; c < im.dimension(0); ++c)
    for (Index y = 0; y < h; ++y)
      for (Index x = 0; x < w; ++x) out(c, y, x) = im(c, r0 + y, c0 + x);
  return out;
}

}  // namespace learning_test
