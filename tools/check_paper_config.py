#!/usr/bin/python3
"""check_paper_config.py — is `synthesize_texture --config paper` the authors' release algorithm?

Compares the program's learning iterations, one at a time, with the PyTorch port of the authors'
MatConvNet release (ref_gconvnet.py, `learn --release`): the same layers and padding, the same
observed image minus the release's fixed means, the same Langevin drift, the same capped and
map-size-normalised SGD update with weight decay and bias learning rate x2, chains reset to zero
and the learning rate halved when a layer is added.

How: the program runs the paper setting on a small canvas with one Langevin step per iteration and
stops after iteration 1, 2 and 3 (--stop-after, then --resume), leaving checkpoints C1, C2, C3
(weights, chains). From the weights and chains of C_k the port computes what iteration k+1 must
give, and this script compares:
  A. f(I_obs) of the port with the program's log (layers, padding, ReLU, means);
  B. the Langevin step C_k -> C_{k+1}: the noise it implies, Z = (I' - I + (eps^2/2)(I - df/dI))/eps,
     must be white N(0, 1) and uncorrelated with df/dI (a wrong drift leaves a multiple of df/dI in Z);
  C. the weight update of the port's ReleaseSGD from C_k's weights with C_{k+1}'s chains equals
     C_{k+1}'s weights (relative to the size of the update);
  D. across the stage boundary (iteration 2 -> 3 with --iterations 2): the chains restart from zero
     and the learning rate halves.
Exit status 0 when every check passes. Needs Debian's python3-torch; run with /usr/bin/python3.

  check_paper_config.py --program build/examples/synthesize_texture \
      --reference ../shared/tools/ref_gconvnet.py --texture examples/data/gravel_128.png --work /tmp/pc
"""

import argparse
import importlib.util
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch

RELEASE_LAYERS = "100x15s3,64x5s1,30x3s1"


def read_safetensors(path):
    """{name: np.ndarray in the file's (row-major) shape}, metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        dtype = {"F32": np.float32, "F64": np.float64}[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[base + a: base + b], dtype=dtype).reshape(info["shape"])
    return out, meta


def conv_weight(t):
    """Stored [kw, kh, C, K] (ColMajor (K, C, kh, kw) reversed) -> torch (K, C, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(t.transpose(3, 2, 1, 0))).double()


def chains_of(t):
    """Stored [N, W, H, C] -> torch (N, C, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(t.transpose(0, 3, 2, 1))).double()


def load_reference(path):
    spec = importlib.util.spec_from_file_location("ref_gconvnet", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def net_from(ref, tensors, depth, size):
    net = ref.GenerativeConvNet(3, ref.parse_layers(RELEASE_LAYERS), depth=depth, padding=ref.RELEASE_PADDING).double()
    with torch.no_grad():
        for i, conv in enumerate(net.convs):
            conv.weight.copy_(conv_weight(tensors[f"layer{2 * i}.weight"]))
            conv.bias.copy_(torch.from_numpy(tensors[f"layer{2 * i}.bias"].copy()).double())
    return net


def log_rows(path):
    with open(path) as f:
        lines = [l.strip().split(",") for l in f if l.strip()]
    head = lines[0]
    return [dict(zip(head, l)) for l in lines[1:]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--program", required=True)
    ap.add_argument("--reference", required=True, help="path of ref_gconvnet.py")
    ap.add_argument("--texture", required=True)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    ref = load_reference(args.reference)
    eps = 0.3  # the release's Langevin step (and --config paper's)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    # A centred crop of SIZE x SIZE pixels, so that neither side resizes (their resamplers differ).
    from PIL import Image
    im = Image.open(args.texture).convert("RGB")
    left, top = (im.width - args.size) // 2, (im.height - args.size) // 2
    texture = os.path.join(args.work, "texture.png")
    im.crop((left, top, left + args.size, top + args.size)).save(texture)
    out = os.path.join(args.work, "run")
    base = [args.program, texture, "--config", "paper", "--size", str(args.size), "--chains", str(args.chains),
            "--iterations", "2", "--langevin-steps", "1", "--threads", "1", "--out", out]
    ck = []
    for k in (1, 2, 3):
        cmd = base + ["--stop-after", str(k)]
        if ck:
            cmd += ["--resume", ck[-1]]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        dst = os.path.join(args.work, f"checkpoint_{k}.safetensors")
        shutil.copy(os.path.join(out, "checkpoint.safetensors"), dst)
        ck.append(dst)
    states = [read_safetensors(p) for p in ck]
    rows = log_rows(os.path.join(out, "log.csv"))

    obs_img = ref.load_texture(texture, args.size).double()
    obs = (obs_img - torch.tensor(ref.RELEASE_MEANS).double().view(3, 1, 1)).unsqueeze(0)
    failures = []

    def check(name, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            failures.append(name)

    for k in (1, 2):  # iteration k (0-based): from checkpoint k to checkpoint k+1
        (t0, m0), (t1, m1) = states[k - 1], states[k]
        stage = int(m1["stage"])
        depth = stage + 1
        net = net_from(ref, t0, depth, args.size)
        # A. f(I_obs) with the weights of checkpoint k (the log's row k was computed with them)
        f_port = net(obs).item()
        f_prog = float(rows[k]["score_observed"])
        check(f"A{k} f(obs), depth {depth}", abs(f_port - f_prog) <= 1e-4 * max(1.0, abs(f_port)),
              f"port {f_port:.6g}, program {f_prog:.6g}")
        # B. the Langevin step; at a stage boundary the chains first restart from zero
        start = chains_of(t0["chains"]) if int(m0["stage"]) == stage else torch.zeros_like(chains_of(t0["chains"]))
        x = start.clone().requires_grad_(True)
        grad = torch.autograd.grad(net(x).sum(), x)[0]
        after = chains_of(t1["chains"])
        z = (after - start + 0.5 * eps * eps * (start - grad)) / eps
        n = z.numel()
        mean, std = z.mean().item(), z.std().item()
        g = grad - grad.mean()
        beta = ((z - z.mean()) * g).sum().item() / max((g * g).sum().item(), 1e-300)
        beta_se = 1.0 / math.sqrt(max((g * g).sum().item(), 1e-300))
        check(f"B{k} Langevin noise is N(0,1)", abs(mean) < 5 / math.sqrt(n) and abs(std - 1) < 5 / math.sqrt(2 * n),
              f"mean {mean:.4f}, std {std:.4f} over {n} values (5 s.e.: {5 / math.sqrt(n):.4f}, "
              f"{5 / math.sqrt(2 * n):.4f})")
        check(f"B{k} no drift left in the noise", abs(beta) < 5 * beta_se,
              f"regression of Z on df/dI {beta:.2e} (5 s.e. {5 * beta_se:.2e})")
        # C/D. the release's SGD step from checkpoint k's weights with checkpoint k+1's chains
        map_sizes = [(h, w) for _, _, _, h, w in ref.conv_shapes(3, args.size, ref.parse_layers(RELEASE_LAYERS),
                                                                 padding=ref.RELEASE_PADDING)]
        lr = ref.RELEASE_LR * 0.5 ** stage
        net.zero_grad()
        loss = net(after).mean() - net(obs).mean()
        loss.backward()
        opt = ref.ReleaseSGD(net, map_sizes, lr)
        opt.step()
        worst = 0.0
        for i in range(depth):
            for kind, p in (("weight", net.convs[i].weight), ("bias", net.convs[i].bias)):
                name = f"layer{2 * i}.{kind}"
                before = conv_weight(t0[name]) if kind == "weight" else torch.from_numpy(t0[name].copy()).double()
                prog = conv_weight(t1[name]) if kind == "weight" else torch.from_numpy(t1[name].copy()).double()
                step = (p.detach() - before).norm().item()
                err = (p.detach() - prog).norm().item() / max(step, 1e-30)
                worst = max(worst, err)
        check(f"C{k} SGD update (lr {lr:g}, depth {depth})", worst < 1e-3,
              f"largest |port - program| / |update| over the layers' weights and biases: {worst:.2e}")
    if int(states[1][1]["stage"]) == int(states[2][1]["stage"]):
        check("D stage boundary crossed", False, "checkpoints 2 and 3 are in the same stage")
    else:
        print("ok   D stage boundary: B2 started the chains from zero and C2 used the halved learning rate")
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
