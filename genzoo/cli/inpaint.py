"""`genzoo inpaint RUN IMAGE --mask MASK.png --out result.png`: any model that Inpaints."""

from __future__ import annotations

import click

from genzoo.capabilities import Inpaints, require
from genzoo.cli.checks import COUNT, SEED, number
from genzoo.console import console, esc
from genzoo.errors import GenzooError


@click.command()
@click.argument("source")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--mask", "mask_path", required=True, type=click.Path(dir_okay=False),
              help="Mask image, same framing as IMAGE: white (> 50%) = fill, black = keep.")
@click.option("--out", default="inpainted.png", show_default=True, help="Result PNG at the model's resolution (a grid, enlarged, with --num > 1).")
@click.option("-n", "--num", "n", type=int, default=1, show_default=True, callback=COUNT,
              help="Number of different fills; more than 1 writes a grid.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Same seed, same fill.")
@click.option("--sampler", type=click.Choice(["ddim", "ddpm"]), default="ddim", show_default=True)
@click.option("--steps", type=int, default=100, show_default=True, callback=COUNT, help="ddim timesteps (ddpm runs all T).")
@click.option("--eta", type=float, default=1.0, show_default=True, callback=number(0), help="ddim noise: 1 = ancestral, as RePaint.")
@click.option("--resample", type=int, default=5, show_default=True, callback=COUNT,
              help="RePaint resampling rounds per step (1 = none; more = better blending, slower).")
@click.option("--label", type=int, callback=number(0), help="Class for a conditional model (default: unconditional).")
@click.option("--guidance", type=float, callback=number(0), help="Classifier-free guidance scale with --label.")
@click.option("--revision", help="Hub branch, tag or commit.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def inpaint(source: str, image: str, mask_path: str, out: str, n: int, seed: int, sampler: str, steps: int,
            eta: float, resample: int, label: int | None, guidance: float | None, revision: str | None,
            device: str) -> None:
    """Fill the white part of MASK in IMAGE with the model SOURCE (run directory or Hub repo) that inpaints.

    The image is centre-cropped and resized to the model's size; pixels outside the mask
    are kept exactly.
    """
    # here, not at the top: they import torch, and `genzoo inpaint --help` should not wait for it
    from genzoo.hub import load
    from genzoo.images import load_images, save_grid, save_image

    if n < 1:
        raise GenzooError(f"--num must be at least 1, got {n}")
    if not out.lower().endswith(".png"):
        raise GenzooError(f"--out '{out}': the result is written as a .png file")
    model = load(source, revision=revision, device=device)
    require(model, Inpaints, message="a {family} model cannot inpaint; use a model of a family that can: {families}")
    c = model.config
    x = load_images([image], c.image_size, c.channels)
    mask = load_images([mask_path], c.image_size, 1)
    if not bool((mask > 0.5).any()):
        raise GenzooError(f"mask '{mask_path}' has no white pixels: nothing to fill (white = fill, black = keep)")
    if guidance is not None and label is None:
        raise GenzooError("--guidance needs --label (the class to guide towards)")
    result = model.inpaint(
        x.expand(n, -1, -1, -1), mask, seed=seed, labels=label, sampler=sampler, steps=steps, eta=eta,
        resample=resample, guidance=guidance, progress=True,
    )
    if n == 1:
        save_image(result[0], out)
    else:
        save_grid(result, out)
    filled = float((mask > 0.5).float().mean()) * 100
    console.print(f"filled {filled:.0f}% of the image ({n} fill{'s' if n > 1 else ''}, seed {seed}) -> [bold]{esc(out)}[/]")
