"""Run by tests/test_distributed.py under torchrun (2 ranks), and imported by it for the
single-process references. Not a test module itself.

The DCGAN recipe draws its noise with ``torch.randn`` from each rank's own seed stream,
which one process cannot reproduce; the gradient penalty draws its interpolation weights
the same way. For an exact comparison both are tied to the data instead: every image
carries a fixed latent vector (``extra["z"]``) that the recipe's noise function is patched
to use, and the penalty interpolates at a fixed 0.3 real + 0.7 fake. Then "the same global
batch" means the same images and the same noise, whether in one process or split over two.

Usage: python -m torch.distributed.run --standalone --nproc-per-node 2 distributed_worker.py RUNS PROBE PER_RANK
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import torch

PER_RANK = 8
TINY: dict[str, Any] = {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16, "steps": 4, "log_every": 2,
                        "checkpoint_every": 2, "sample_every": 1000, "num_samples": 4, "ema": 0.9}
# name -> (config overrides, sync_batchnorm)
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    # BatchNorm in both networks: equal to one process only with synchronised statistics
    "bn": ({}, True),
    # LayerNorm critic, gradient penalty (double backward through DDP), 2 critic steps per step
    # (the generator still has BatchNorm, hence synchronised statistics)
    "gp": ({"d_norm": "layer", "gp_weight": 10.0, "d_steps": 2}, True),
    # plain DDP: per-rank BatchNorm statistics over 8 images, so NOT equal to one process
    "bn-local": ({}, False),
}
EQUAL = ("bn", "gp")  # the variants that must equal one process on the global batch


def data_with_noise():
    from genzoo.data import load_dataset

    data = load_dataset("digits", image_size=16, limit=256)
    data.extra["z"] = torch.randn(len(data), TINY["latent_dim"], generator=torch.Generator().manual_seed(123))
    return data


@contextlib.contextmanager
def patched_randomness():
    """Latents from the data and fixed GP interpolates, restored afterwards: the test process
    goes on to train other models, which must see genzoo's own randomness again."""
    import genzoo.adversarial as adv
    from genzoo.regularizers import penalty_at

    saved = adv._fake, adv.gradient_penalty
    adv._fake = lambda ctx, n: ctx.model.generator(ctx.batch.extra["z"], ctx.batch.labels)
    adv.gradient_penalty = lambda critic, real, fake, labels=None: penalty_at(
        critic, (0.3 * real.detach() + 0.7 * fake.detach()).requires_grad_(True), labels)
    try:
        yield
    finally:
        adv._fake, adv.gradient_penalty = saved


def train(out: Path, variant: str, batch_size: int, rank: int = 0, world_size: int = 1):
    from genzoo.engine import Trainer
    from genzoo.registry import families

    overrides, sync_bn = VARIANTS[variant]
    with patched_randomness():
        trainer = Trainer(families.get("dcgan"), overrides={**TINY, **overrides, "batch_size": batch_size},
                          data=data_with_noise(), out=out, device="cpu", progress=False, rank=rank,
                          world_size=world_size, sync_batchnorm=sync_bn and world_size > 1)
        trainer.fit()
    return trainer


if __name__ == "__main__":
    from safetensors.torch import save_file

    from genzoo import distributed

    runs, probe, per_rank = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    info = distributed.init_from_env("cpu")
    try:
        for name in VARIANTS:
            t = train(runs / name, name, per_rank, info.rank, info.world_size)
            # each rank's live weights, outside the run directory, to check that replicas agree
            sd = {k: v.contiguous() for k, v in t.model.state_dict().items()}
            save_file(sd, str(probe / f"rank{info.rank}-{name}.safetensors"))
    finally:
        distributed.shutdown()
