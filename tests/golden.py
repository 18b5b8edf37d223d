"""Fixed-seed outputs of every built-in family, recorded before the plugin-platform refactor.

Each case trains a tiny model a few steps on digits with the public API, then records its
trained weights and what the model's capabilities produce from fixed seeds (samples, every
sampler, translations, inpainting, reconstructions, anomaly scores). tests/test_golden.py
checks that the current code reproduces the stored tensors bit for bit.

Re-record (only when a change is *meant* to alter outputs, and say so in the commit):

    python -m tests.golden record
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

GOLDEN_DIR = Path(__file__).with_name("golden")

COMMON = {"log_every": 2, "checkpoint_every": 1000, "sample_every": 1000, "num_samples": 4}
CONV_GAN = {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16, "batch_size": 16, "steps": 6}
MLP_GAN = {"image_size": 16, "g_width": 16, "d_width": 16, "latent_dim": 8, "batch_size": 16, "steps": 6}
VAE = {"image_size": 16, "width": 8, "latent_dim": 4, "batch_size": 32, "steps": 12, "eval_images": 64,
       "iwae_images": 32, "iwae_k": 4}
DIFFUSION = {"image_size": 8, "width": 16, "num_res_blocks": 1, "batch_size": 32, "steps": 6, "timesteps": 60,
             "dropout": 0.0}
PIX2PIX = {"image_size": 32, "g_width": 4, "d_width": 4, "batch_size": 8, "steps": 4, "task": "superres:2"}

# family -> training overrides
CASES: dict[str, dict[str, Any]] = {
    "dcgan": CONV_GAN,
    "gan": MLP_GAN,
    "wgan": CONV_GAN,
    "wgan-gp": CONV_GAN,
    "cgan": CONV_GAN,
    "vae": VAE,
    "cvae": VAE,
    "diffusion": DIFFUSION,
    "pix2pix": PIX2PIX,
}


def _digits(n: int, size: int) -> tuple[Tensor, Tensor]:
    """n test-split digits (N, 1, size, size) in [0, 1] and their labels."""
    from genzoo.data import load_dataset

    d = load_dataset("digits", split="test", image_size=size, limit=n)
    return ((d.images.float() + 1) / 2).clamp(0, 1), d.labels


def outputs(family: str, run: Path) -> dict[str, Tensor]:
    """Everything recorded for one family, trained into ``run`` (a fresh directory)."""
    import genzoo
    from genzoo.engine import train

    torch.set_num_threads(1)  # one thread: the same reduction order on any core count
    train(family, out=run, data="digits", progress=False, **{**COMMON, **CASES[family]})
    model = genzoo.load(run)
    out: dict[str, Tensor] = {f"weights.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    c = model.config
    extra: dict[str, Callable[[], Tensor]] = {}
    if family != "pix2pix":
        extra["sample"] = lambda: model.sample(6, seed=3)
    if family in ("vae", "cvae"):
        extra["sample_normal"] = lambda: model.sample(6, seed=3, sampler="normal")
        extra["sample_gmm"] = lambda: model.sample(6, seed=3, sampler="gmm")
        x, y = _digits(6, c.image_size)
        lab = y if family == "cvae" else None
        extra["reconstruct"] = lambda: model.reconstruct(x, lab)
        extra["score"] = lambda: _scores(model, x, lab)
    if family in ("gan", "dcgan", "cgan"):
        x, y = _digits(4, c.image_size)
        lab = y if family == "cgan" else None
        extra["score"] = lambda: _scores(model, x, lab, steps=3, restarts=2)
    if family == "diffusion":
        extra["sample_ddpm"] = lambda: model.sample(4, seed=5, sampler="ddpm")
        extra["sample_ddim"] = lambda: model.sample(4, seed=5, sampler="ddim", steps=5, eta=0.5)
        extra["sample_guided"] = lambda: model.sample(4, seed=5, sampler="ddim", steps=5, guidance=2.0)
        extra["trajectory"] = lambda: model.sample_trajectory(3, seed=1, sampler="ddim", steps=4, frames=3)[1]
        x, y = _digits(4, c.image_size)
        mask = torch.zeros(c.image_size, c.image_size)
        mask[2:6, 2:6] = 1
        extra["inpaint"] = lambda: model.inpaint(x, mask, seed=2, steps=4, resample=2)
        extra["inpaint_ddpm"] = lambda: model.inpaint(x, mask, seed=2, sampler="ddpm", resample=1, labels=y)
    if family == "pix2pix":
        x, _ = _digits(4, c.image_size)
        small = torch.nn.functional.avg_pool2d(x, 2)
        inp = torch.nn.functional.interpolate(small, scale_factor=2, mode="nearest")
        extra["translate"] = lambda: model.translate(inp)
        extra["translate_dropout"] = lambda: model.translate(inp, dropout=True, seed=4)
    for k, fn in extra.items():
        out[k] = fn().detach().float().contiguous().clone()
    return out


def _scores(model: Any, x: Tensor, labels: Any, **kw: Any) -> Tensor:
    from genzoo.anomaly import anomaly_scores

    s = anomaly_scores(model, x, labels, seed=0, **kw)
    return torch.stack([s[k].float() for k in sorted(s)])


def record(families: list[str]) -> None:
    import tempfile

    from safetensors.torch import save_file

    GOLDEN_DIR.mkdir(exist_ok=True)
    for fam in families:
        with tempfile.TemporaryDirectory() as tmp:
            out = outputs(fam, Path(tmp) / fam)
        save_file({k: v.contiguous() for k, v in out.items()}, str(GOLDEN_DIR / f"{fam}.safetensors"))
        print(f"recorded {fam}: {len(out)} tensors")


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"]:
        raise SystemExit("usage: python -m tests.golden record [FAMILY ...]")
    record(sys.argv[2:] or list(CASES))
