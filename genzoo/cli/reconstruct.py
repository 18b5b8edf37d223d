"""`genzoo reconstruct RUN IMAGES... --out grid.png`: inputs over their reconstructions."""

from __future__ import annotations

from pathlib import Path

import click

from genzoo.capabilities import Reconstructs, require
from genzoo.cli.checks import COUNT, SEED
from genzoo.console import console, esc
from genzoo.errors import GenzooError


def expand_images(paths: tuple[str, ...]) -> list[Path]:
    """Files as given; a folder stands for the image files directly inside it (sorted)."""
    from genzoo.data import IMAGE_SUFFIXES  # here: genzoo.data imports torch (keeps --help instant)

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise GenzooError(f"folder '{p}' holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise GenzooError("give at least one image file (or a folder of images)")
    return out


def parse_labels(label: str | None, n: int) -> list[int] | None:
    """'3' -> [3] * n, '0,1,2' -> [0, 1, 2] (one per image)."""
    if label is None:
        return None
    try:
        vals = [int(v) for v in label.split(",")]
    except ValueError:
        raise GenzooError(f"--label takes a class number or one per image like 0,3,1; got '{label}'") from None
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise GenzooError(f"--label gave {len(vals)} labels for {n} images; give one, or one per image")
    return vals


@click.command()
@click.argument("source")
@click.argument("images", nargs=-1, required=True)
@click.option("--out", default="reconstructions.png", show_default=True, help="PNG grid: inputs over reconstructions.")
@click.option("--label", help="Class of the images for conditional models (e.g. cvae): 3, or one per image 0,3,1.")
@click.option("--sample", "draw", is_flag=True, help="Decode a draw from q(z|x) instead of its mean.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Seed for --sample.")
@click.option("--nrow", type=int, default=8, show_default=True, callback=COUNT, help="Images per row.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def reconstruct(source: str, images: tuple[str, ...], out: str, label: str | None, draw: bool, seed: int,
                nrow: int, device: str) -> None:
    """Encode IMAGES with the model at SOURCE (run directory or Hub repo id) and decode them again.

    The grid shows each row of inputs above the row of their reconstructions. Images are
    centre-cropped and resized to the model's size; a folder stands for the images in it.
    """
    # here, not at the top: they import torch, and `genzoo reconstruct --help` should not wait for it
    import torch

    from genzoo.hub import load  # (these too: they import torch)
    from genzoo.images import load_images, save_grid

    model = load(source, device=device)
    require(model, Reconstructs, message=(
        f"'{source}' holds a {{family}} model, which has no encoder to reconstruct with; use a run of {{families}}"))
    if not out.lower().endswith(".png"):
        raise GenzooError(f"--out '{out}': reconstruct writes a .png grid")
    paths = expand_images(images)
    x = load_images(paths, model.config.image_size, model.config.channels)
    labels = parse_labels(label, len(paths))
    rec = model.reconstruct(x, labels, sample=draw, seed=seed)
    rows = []
    for i in range(0, len(x), nrow):  # input row, then its reconstruction row
        a, b = x[i : i + nrow], rec[i : i + nrow]
        pad = nrow - a.shape[0]
        if pad and len(x) > nrow:
            blank = torch.ones(pad, *a.shape[1:])
            a, b = torch.cat([a, blank]), torch.cat([b, blank])
        rows += [a, b]
    save_grid(torch.cat(rows), Path(out), nrow=min(nrow, len(x)))
    err = (x - rec).pow(2).flatten(1).mean(1)
    console.print(f"wrote {len(x)} inputs over their reconstructions -> [bold]{esc(out)}[/] "
                  f"(mean squared error {float(err.mean()):.4f} in [0, 1] units)")
