"""`genzoo likelihood RUN IMAGES...`: bits/dim of images under a model that has a likelihood.

Works with every model that has the HasLikelihood capability: exact for a normalizing flow
(flow), a lower bound on log p(x) (the ELBO, so an upper bound on bits/dim) for the VAEs.
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any

import click

from genzoo.capabilities import HasLikelihood, require
from genzoo.cli.checks import COUNT, SEED
from genzoo.cli.reconstruct import expand_images, parse_labels
from genzoo.console import console, esc
from genzoo.errors import GenzooError


@click.command()
@click.argument("source")
@click.argument("images", nargs=-1)
@click.option("--data", help="Score a dataset split instead of files, e.g. fashion-mnist (`genzoo list datasets`).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test"]), help="Split of --data.")
@click.option("-n", "--num", "n", type=int, callback=COUNT, help="Only the first N items of --data (default: all).")
@click.option("--label", help="Class of the images for conditional models: 3, or one per image 0,3,1 "
              "(with --data: the dataset's labels unless given).")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED,
              help="Same seed, same numbers (dequantization noise, z draws).")
@click.option("--samples", type=int, default=1, show_default=True, callback=COUNT,
              help="Noise draws averaged per image (flow: dequantization noise; VAEs: z draws).")
@click.option("--out", help="Also write the per-image values to FILE.csv or FILE.json.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def likelihood(source: str, images: tuple[str, ...], data: str | None, split: str, n: int | None,
               label: str | None, seed: int, samples: int, out: str | None, device: str) -> None:
    """Print the log-likelihood of each image under SOURCE in bits per dimension, and the mean.

    Bits/dim = -log2 p(x) / (C * H * W) for 8-bit images: 8 for a model that knows nothing,
    lower is better. A flow's value is exact; a VAE's comes from the ELBO, a bound (its true
    bits/dim is lower). A folder stands for the images in it.

    \b
    genzoo likelihood runs/flow-digits my_digits/
    genzoo likelihood runs/flow-fashion-mnist --data fashion-mnist --out test.csv
    """
    # here, not at the top: they import torch, and `genzoo likelihood --help` should not wait for it
    from genzoo.data import load_dataset
    from genzoo.hub import load
    from genzoo.images import load_images
    from genzoo.io import write_text

    if bool(images) == bool(data):
        raise GenzooError("give IMAGES (files or folders) or --data DATASET, exactly one")
    if samples < 1:
        raise GenzooError(f"--samples must be at least 1, got {samples}")
    if n is not None and n < 1:
        raise GenzooError(f"-n must be at least 1, got {n}")
    if out and Path(out).suffix.lower() not in (".csv", ".json"):
        raise GenzooError(f"--out '{out}': use a .csv or .json file")
    model = load(source, device=device)
    require(model, HasLikelihood, message=(
        f"'{source}' holds a {{family}} model, which has no likelihood to evaluate; use a run of {{families}}"))
    c = model.config
    labels: Any
    if data:
        ds = load_dataset(data, split=split, image_size=c.image_size, channels=c.channels, limit=n)
        x = (ds.images + 1) / 2
        names = [f"{data}:{split}[{i}]" for i in range(len(x))]
        labels = parse_labels(label, len(x)) if label is not None else (
            ds.labels if model.is_conditional and ds.labels is not None else None)
    else:
        paths = expand_images(images)
        x = load_images(paths, c.image_size, c.channels)
        names = [str(p) for p in paths]
        labels = parse_labels(label, len(paths))
    options: dict[str, Any] = {"seed": seed, "samples": samples}
    params = inspect.signature(model.log_likelihood).parameters  # pass each model the options it takes
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    ll = model.log_likelihood(x, labels, **options)
    kind = "exact" if ll.exact else "bound"
    bpd, nats = ll.bits_per_dim.tolist(), ll.nats.tolist()
    rows = [{"image": name, "bits_per_dim": b, "nats": v, "kind": kind} for name, b, v in zip(names, bpd, nats)]
    if out:
        dest = Path(out)
        if dest.suffix.lower() == ".json":
            write_text(dest, json.dumps(rows, indent=2) + "\n")
        else:
            lines = ["image,bits_per_dim,nats,kind"]
            lines += [f"{_csv(r['image'])},{r['bits_per_dim']:.6g},{r['nats']:.6g},{kind}" for r in rows]
            write_text(dest, "\n".join(lines) + "\n")
    # the table goes to stdout (pipeable); the summary to stderr
    click.echo("bits/dim\tlog p (nats)\timage")
    for r in rows:
        click.echo(f"{r['bits_per_dim']:.4f}\t{r['nats']:.2f}\t{r['image']}")
    total_bits = -sum(nats) / math.log(2)
    what = "exact log-likelihood" if ll.exact else "a bound: the true bits/dim is lower"
    console.print(f"{len(rows)} images under {esc(model.family_name)}: mean {sum(bpd) / len(bpd):.4f} bits/dim "
                  f"({what}); total {total_bits:.1f} bits" + (f" -> {esc(out)}" if out else ""))


def _csv(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s
