"""`genzoo score RUN IMAGES...`: a per-image anomaly score (see genzoo.anomaly)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from genzoo.cli.checks import COUNT, SEED, number
from genzoo.cli.reconstruct import expand_images, parse_labels
from genzoo.console import console, esc
from genzoo.errors import GenzooError


@click.command()
@click.argument("source")
@click.argument("images", nargs=-1, required=True)
@click.option("--label", help="Class of the images for conditional models: 3, or one per image 0,3,1.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Same seed, same scores.")
@click.option("--samples", type=int, default=4, show_default=True, callback=COUNT, help="Latent-variable scores (e.g. an ELBO): z draws averaged per image.")
@click.option("--steps", type=int, default=100, show_default=True, callback=number(0), help="Latent-search scores (e.g. AnoGAN): Adam steps of the search.")
@click.option("--restarts", type=int, default=8, show_default=True, callback=COUNT, help="Latent-search scores: prior draws the search starts from.")
@click.option("--lam", type=float, default=0.1, show_default=True, callback=number(0, 1), help="Latent-search scores: weight of the discriminator term.")
@click.option("--raw", is_flag=True, help="ELBO scores: the plain negative ELBO, without subtracting the pixel entropy.")
@click.option("--out", help="Also write the scores to FILE.csv or FILE.json.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def score(source: str, images: tuple[str, ...], label: str | None, seed: int, samples: int, steps: int,
          restarts: int, lam: float, raw: bool, out: str | None, device: str) -> None:
    """Print an anomaly score per image (higher = less like the training data) from a model
    at SOURCE that scores anomalies; each model takes the options that apply to its score.

    For example, a model with an ELBO scores the negative ELBO in nats (Bernoulli models:
    minus the image's own pixel entropy, which the ELBO contains but no model can change;
    --raw keeps it), and one with a latent search and a discriminator scores as AnoGAN:
    (1 - lam) * residual after the search plus lam * the discriminator's "fake" loss.
    A folder stands for the images in it.
    """
    # here, not at the top: they import torch, and `genzoo score --help` should not wait for it
    from genzoo.anomaly import anomaly_scores
    from genzoo.hub import load
    from genzoo.images import load_images
    from genzoo.io import write_text

    if samples < 1:
        raise GenzooError(f"--samples must be at least 1, got {samples}")
    model = load(source, device=device)
    paths = expand_images(images)
    x = load_images(paths, model.config.image_size, model.config.channels)
    res = anomaly_scores(model, x, parse_labels(label, len(paths)), seed=seed, steps=steps, lam=lam,
                         restarts=restarts, samples=samples, raw=raw)
    cols = [k for k in res if k != "score"]
    rows = [{"image": str(p), "score": float(res["score"][i]), **{k: float(res[k][i]) for k in cols}}
            for i, p in enumerate(paths)]
    if out:
        dest = Path(out)
        if dest.suffix.lower() == ".json":
            write_text(dest, json.dumps(rows, indent=2) + "\n")
        elif dest.suffix.lower() == ".csv":
            lines = [",".join(["image", "score", *cols])]
            lines += [",".join([_csv(r["image"]), *(f"{r[k]:.6g}" for k in ["score", *cols])]) for r in rows]
            write_text(dest, "\n".join(lines) + "\n")
        else:
            raise GenzooError(f"--out '{out}': use a .csv or .json file")
    # the table goes to stdout (pipeable); notes go to stderr
    click.echo("\t".join(["score", *cols, "image"]))
    for r in rows:
        click.echo("\t".join([f"{r['score']:.4f}", *(f"{r[k]:.4f}" for k in cols), r["image"]]))
    if "kl" in cols:
        what = "negative ELBO" + (" minus pixel entropy" if "pixel_entropy" in cols and not raw else "") + ", nats"
    elif "residual" in cols:
        what = "AnoGAN score"
    else:  # another family's own anomaly_score
        what = "anomaly score"
    console.print(f"scored {len(rows)} images with {esc(model.family_name)} ({what}; higher = more anomalous)"
                  + (f" -> {esc(out)}" if out else ""))


def _csv(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s
