// complete_texture — fills a hole in a texture photograph, or grows the photograph around its pixels,
// with the generative ConvNet of Exp. 1 learned from the photograph itself:
//   1. learn p(I; w) = exp(f(I; w)) q(I) / Z(w) from the known pixels alone (Algorithm 1 with layer
//      growing, the recipe of synthesize_texture): H_obs sums only the top responses whose receptive
//      field lies among the known pixels, H_syn the chains' at the same positions
//      (LearningOptions::observed_known); the channel means are those of the known pixels. The hole's
//      own pixels are never read;
//   2. draw the completions from the conditional p(I_unknown | I_known; w): Langevin dynamics that
//      moves only the unknown pixels (LangevinOptions::fixed), every step driven by I − σ²B_{w,δ(I)} of
//      the whole image (Theorem 1), so that the fill continues the texture across the hole's border.
//
//   complete_texture IMAGE (--hole X,Y,W,H | --mask MASK.png | --expand N) --out DIR [--fill-steps N]
//                    [--config fast|paper] [--layers SPEC] [--iterations N[,N...]] [--keep-chains]
//                    [--chains N] [--seed N] [--threads N] [--resume CHECKPOINT]
//
// --hole: the rectangle of W×H pixels whose top left pixel is column X, row Y; --mask: a PNG of the
// photograph's size, white (nonzero) where the pixels are unknown; --expand N: the photograph in the
// middle of an N×N canvas, the rest unknown (learned from the whole photograph, then the learned
// filters on the canvas). The photograph is used at its own size. Written in DIR:
//   completed_00.png ...     one completion per chain; the known pixels are the photograph's, exactly
//                            (checked: the program reads the files back)
//   before_after.png         the photograph with the unknown pixels white, then the completions
//   synthesized_00.png ...   the learner's chains: samples of the model without the constraint
//   snapshots/iter_NNNN.png  the photograph (the hole white) and the learner's chains during learning
//   log.csv, checkpoint.safetensors, weights.safetensors   as synthesize_texture
// Ctrl-C, SIGTERM, --stop-after, --resume and a diverging run behave as in synthesize_texture; the
// completion itself is redone after --resume (it is quick and seeded: the same files come out).
#include <gconvnet/gconvnet.hpp>
#include <gconvnet/io/checkpoint.hpp>
#include <gconvnet/io/image.hpp>
#include <gconvnet/learning/mle_learner.hpp>

#include <CLI/CLI.hpp>

#include "support/canvas.hpp"
#include "support/images.hpp"
#include "support/learning_curves.hpp"
#include "support/program.hpp"
#include "support/texture_recipe.hpp"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace gconvnet;
using namespace gconvnet::examples;
using Model = TextureModel;

namespace {

/// Where the unknown pixels are: a mask of the canvas (1 = known), and where the photograph lies on it.
struct Layout {
  Shape canvas;
  Index top = 0, left = 0;  // the photograph's top left pixel on the canvas
  PixelMask known;          // (C, H, W, 1) on the canvas
};

/// --hole X,Y,W,H, --mask FILE or --expand N for a photograph of shape `photo`.
/// throws: Error when the hole leaves the photograph, the mask's size differs or N is too small.
Layout layout_of(const Shape& photo, const std::vector<Index>& hole, const std::string& mask_file, Index expand) {
  Layout l{photo, 0, 0, make_batch<std::uint8_t>(photo, 1)};
  l.known.setConstant(1);
  if (!hole.empty()) {
    const Index x = hole[0], y = hole[1], w = hole[2], h = hole[3];
    if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > photo.width || y + h > photo.height)
      throw Error("--hole " + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(w) + "," +
                  std::to_string(h) + " is not inside the " + std::to_string(photo.width) + "x" +
                  std::to_string(photo.height) + " photograph");
    for (Index c = 0; c < photo.channels; ++c)
      for (Index col = x; col < x + w; ++col)
        for (Index row = y; row < y + h; ++row) l.known(c, row, col, 0) = 0;
  } else if (!mask_file.empty()) {
    io::LoadImageOptions gray;
    gray.channels = 1;
    const Image<float> mask = io::load_image<float>(mask_file, gray);
    if (mask.dimension(1) != photo.height || mask.dimension(2) != photo.width)
      throw Error("--mask " + mask_file + " is " + std::to_string(mask.dimension(2)) + "x" +
                  std::to_string(mask.dimension(1)) + ", the photograph " + std::to_string(photo.width) + "x" +
                  std::to_string(photo.height));
    for (Index c = 0; c < photo.channels; ++c)
      for (Index col = 0; col < photo.width; ++col)
        for (Index row = 0; row < photo.height; ++row) l.known(c, row, col, 0) = mask(0, row, col) > 0 ? 0 : 1;
  } else {
    if (expand < photo.height || expand < photo.width)
      throw Error("--expand " + std::to_string(expand) + " is smaller than the " + std::to_string(photo.width) + "x" +
                  std::to_string(photo.height) + " photograph");
    l.canvas = Shape{photo.channels, expand, expand};
    l.top = (expand - photo.height) / 2;
    l.left = (expand - photo.width) / 2;
    l.known = make_batch<std::uint8_t>(l.canvas, 1);
    l.known.setZero();
    for (Index c = 0; c < photo.channels; ++c)
      for (Index col = 0; col < photo.width; ++col)
        for (Index row = 0; row < photo.height; ++row) l.known(c, l.top + row, l.left + col, 0) = 1;
  }
  return l;
}

/// The mean of each channel over the known pixels of `image` (the release code's preprocessing,
/// without the hole).
std::vector<double> known_channel_means(const Image<float>& image, const PixelMask& known) {
  std::vector<double> sum(static_cast<std::size_t>(image.dimension(0)), 0.0), count = sum;
  for (Index w = 0; w < image.dimension(2); ++w)
    for (Index h = 0; h < image.dimension(1); ++h)
      for (Index c = 0; c < image.dimension(0); ++c)
        if (known(c, h, w, 0)) {
          sum[static_cast<std::size_t>(c)] += image(c, h, w);
          count[static_cast<std::size_t>(c)] += 1;
        }
  for (std::size_t c = 0; c < sum.size(); ++c) sum[c] /= std::max(1.0, count[c]);
  return sum;
}

/// The canvas with the photograph `image` at its place and `fill` at every unknown pixel.
Image<float> on_canvas(const Image<float>& image, const Layout& l, float fill) {
  Image<float> out(l.canvas.channels, l.canvas.height, l.canvas.width);
  out.setConstant(fill);
  for (Index w = 0; w < image.dimension(2); ++w)
    for (Index h = 0; h < image.dimension(1); ++h)
      for (Index c = 0; c < image.dimension(0); ++c)
        if (l.known(c, l.top + h, l.left + w, 0)) out(c, l.top + h, l.left + w) = image(c, h, w);
  return out;
}

/// Every image of `chains` (on the canvas) takes the photograph's values at the known pixels of `l`.
void put_known_pixels(const Image<float>& photo, const Layout& l, Batch<float>& chains) {
  const Image<float> on = on_canvas(photo, l, 0.0F);
  const Index size = l.canvas.size();
  for (Index n = 0; n < batch_size(chains); ++n)
    for (Index i = 0; i < size; ++i)
      if (l.known.data()[i]) chains.data()[n * size + i] = on.data()[i];
}

/// Where the fill starts: the learned chains (samples of the model; side by side on a larger canvas:
/// chain n, tile t holds learned chain (n + t) mod M) with the photograph's pixels in place.
Batch<float> fill_start(const Batch<float>& learned, const Image<float>& observed, const Layout& l) {
  Batch<float> chains = tiled_chains(learned, l.canvas);
  put_known_pixels(observed, l, chains);
  return chains;
}

/// Step 2: `steps` Langevin steps of the learned filters on the canvas that move only the unknown
/// pixels of `chains` (mean-subtracted), one completion per chain. Returns false when a stop signal
/// came first.  throws: Error if a known pixel moved (it cannot: LangevinOptions::fixed).
bool fill(const Model& model, const std::string& layers, Batch<float>& chains, const Layout& l,
          const LangevinOptions& sampler, Index steps, std::uint64_t seed) {
  const Model canvas = model_on_canvas(model, layers, l.canvas, false);
  const Batch<float> before = chains;
  LangevinOptions options = sampler;
  options.fixed = &l.known;
  std::cout << "filling: " << batch_size(chains) << " chains on " << l.canvas.width << "x" << l.canvas.height << ", "
            << steps << " Langevin steps that move the unknown pixels only\n";
  std::mt19937_64 engine(seed);
  if (!sample(canvas, chains, options, steps, engine, "fill")) return false;
  for (Index i = 0; i < chains.size(); ++i)
    if (l.known.data()[i % l.canvas.size()] && chains.data()[i] != before.data()[i])
      throw Error("complete_texture: a known pixel moved during the fill");
  return true;
}

/// The completions in 0–255 with the photograph's own values at the known pixels (the chains hold
/// them minus the channel means: adding the means back could round one off by an ulp).
Batch<float> completions(const Batch<float>& chains, const std::vector<double>& means, const Image<float>& photo,
                         const Layout& l) {
  Batch<float> out = with_channel_means(chains, means);
  put_known_pixels(photo, l, out);
  return out;
}

/// Reads the written completions back and counts the known pixels whose value differs from the
/// photograph's.  throws: Error from load_image.
Index changed_known_pixels(const std::vector<std::string>& files, const Image<float>& photo, const Layout& l) {
  const Image<float> exact = on_canvas(photo, l, 0.0F);
  Index changed = 0;
  for (const auto& f : files) {
    const Image<float> back = io::load_image<float>(f);
    for (Index i = 0; i < back.size(); ++i) changed += l.known.data()[i] && back.data()[i] != exact.data()[i];
  }
  return changed;
}

}  // namespace

int main(int argc, char** argv) try {
  // 1. The command line. ----------------------------------------------------------------------------
  CLI::App app{"Fill a hole in a texture photograph, or grow it, with a generative ConvNet learned from its known "
               "pixels (Xie et al. 2016)"};
  RunOptions run_options;
  RecipeChoice choice;
  std::string image_path, mask_file;
  std::vector<Index> hole;
  Index expand = 0, fill_steps = 50;
  app.add_option("IMAGE", image_path, "the photograph (PNG/JPEG), used at its own size")->required()->check(existing_file());
  auto* hole_opt = app.add_option("--hole", hole, "the unknown rectangle X,Y,W,H: W x H pixels from column X, row Y")
                       ->delimiter(',')->expected(4)->check(non_negative_integer());
  auto* mask_opt = app.add_option("--mask", mask_file, "a PNG of the photograph's size, white where the pixels are "
                                  "unknown")->check(existing_file());
  auto* expand_opt = app.add_option("--expand", expand, "grow the photograph to N x N pixels around it")->check(positive_integer());
  hole_opt->excludes(mask_opt)->excludes(expand_opt);
  mask_opt->excludes(expand_opt);
  app.add_option("--fill-steps", fill_steps, "Langevin steps of the fill")->check(positive_integer())->capture_default_str();
  add_run_options(app, run_options);
  add_recipe_options(app, choice, false, false);
  if (const auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (hole.empty() && mask_file.empty() && expand == 0) {
    std::cerr << "complete_texture: one of --hole, --mask and --expand is required\nRun with --help for more information.\n";
    return 1;
  }
  const TextureRecipe recipe = chosen_recipe(choice);
  const std::uint64_t seed = run_options.seed;
  Run run("complete_texture", run_options, argc, argv);

  // 2. The photograph and its known pixels; I_obs: the known intensities minus their channel means. --
  const Image<float> photo = io::load_image<float>(image_path);
  const Layout layout = layout_of(shape_of(photo), hole, mask_file, expand);
  const bool expanding = expand > 0;
  Batch<float> observed = as_batch(photo);
  std::vector<double> means;
  if (expanding) {
    means = remove_channel_means(observed);
  } else {
    means = known_channel_means(photo, layout.known);
    subtract_channel_means(observed, means);
  }
  Index unknown = 0;
  for (Index i = 0; i < layout.known.size(); ++i) unknown += layout.known.data()[i] == 0;
  std::cout << "photograph: " << image_path << " (" << photo.dimension(2) << "x" << photo.dimension(1) << "), "
            << unknown / photo.dimension(0) << " unknown pixels on a " << layout.canvas.width << "x"
            << layout.canvas.height << " canvas\n";

  // 3. The model and the learner: H_obs over the responses that see known pixels only. ---------------
  Model model = texture_model(shape_of(photo), recipe, seed);
  std::cout << model.summary();
  LearningOptions options = texture_learning_options(recipe);
  if (!expanding) options.observed_known = layout.known;
  MleLearner<Model> learner(model, observed, options, seed);
  run.resume(learner);
  std::cout << describe_recipe(choice.config, recipe, learner.num_stages(), seed) << "\n";
  const Image<float> before = on_canvas(photo, layout, 255.0F);
  Learning learning = texture_learning(learner, recipe);
  learning.snapshot = [&](Index done) {
    io::save_png(io::contact_sheet(expanding ? photo : before, with_channel_means(learner.synthesized(), means)),
                 run.snapshot_file(done));
    io::save_png(learning_curves(run.file("log.csv")), run.file("learning_curves.png").string());
  };
  if (const auto stopped = run.learn(learning)) return *stopped;
  run.list(save_numbered(with_channel_means(learner.synthesized(), means), run.out(), "synthesized_"));
  run.save_results(learning, model);
  io::save_png(learning_curves(run.file("log.csv")), run.output("learning_curves.png"));

  // 4. The fill: more samples of the conditional p(I_unknown | I_known; w) with the learned weights. ---
  Batch<float> chains = fill_start(learner.synthesized(), image_of(observed, 0), layout);
  if (!fill(model, recipe.layers, chains, layout, recipe.langevin, fill_steps, seed + 1)) {
    std::cerr << "complete_texture: interrupted during the fill; the learned model is saved in "
              << run.checkpoint_file() << "\n";
    return stop_exit_code();
  }
  const Batch<float> completed = completions(chains, means, photo, layout);
  const std::vector<std::string> files = save_numbered(completed, run.out(), "completed_");
  run.list(files);
  io::save_png(io::contact_sheet(before, completed), run.output("before_after.png"));
  const Index changed = changed_known_pixels(files, photo, layout);
  std::cout << "known pixels changed in the written completions: " << changed << " of "
            << (layout.canvas.size() - unknown) * batch_size(completed) << "\n";
  if (changed != 0) throw Error("complete_texture: the written completions changed known pixels");
  return run.finish();
} catch (...) {
  return report_exception("complete_texture");
}
