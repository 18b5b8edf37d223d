"""`genzoo edit RUN image.png --direction 'A->B'` and `genzoo latent-map RUN`: latent editing
and maps of a latent space, for models that encode images (the EncodesImages capability)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from genzoo.cli.checks import COUNT, SEED, number
from genzoo.cli.reconstruct import expand_images
from genzoo.console import console, esc, make_progress
from genzoo.errors import GenzooError

DATA_SPLITS = ("train", "test")


def parse_strengths(text: str) -> list[float]:
    """'-2,-1,0,1,2' -> [-2.0, -1.0, 0.0, 1.0, 2.0], finite numbers only."""
    try:
        vals = [float(v) for v in text.replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        raise GenzooError(f"--strengths takes numbers like -2,-1,0,1,2; got '{text}'") from None
    if not vals:
        raise GenzooError("--strengths is empty; give numbers like -2,-1,0,1,2")
    if not all(math.isfinite(v) for v in vals):
        raise GenzooError(f"--strengths must be finite numbers; got '{text}'")
    if len(vals) > 64:
        raise GenzooError(f"--strengths gave {len(vals)} values; at most 64 columns fit a picture")
    return vals


def _title(s: float) -> str:
    return "0" if s == 0 else f"{s:+g}"


def _check_png(out: str) -> Path:
    dest = Path(out)
    if dest.suffix.lower() != ".png":
        raise GenzooError(f"--out '{out}': this command writes a .png picture")
    if dest.is_dir():
        raise GenzooError(f"--out '{out}' is a folder; name a .png file")
    return dest


def _class_label(label: str | None, class_names: list[str]) -> int | None:
    """--label as a class number or name -> its index (None when not given)."""
    if label is None:
        return None
    from genzoo.latent import class_index  # here: genzoo.latent imports torch (keeps --help instant)

    if label.strip().lstrip("-").isdigit():
        return int(label)  # the model checks the range
    return class_index(label, class_names)


@click.command()
@click.argument("source")
@click.argument("images", nargs=-1)
@click.option("--direction", required=True, metavar="'FROM->TO'",
              help="Two classes of the data, e.g. 'Sneaker->Ankle boot' (names or numbers): the direction is the "
                   "mean latent of TO minus that of FROM.")
@click.option("--strengths", default="-2,-1,0,1,2", show_default=True,
              help="How far to move along the direction, one column each (1 = the whole distance between the means).")
@click.option("--out", default="edit.png", show_default=True, help="PNG: one row per image, a column per strength.")
@click.option("-n", "--num", "n", type=int, callback=COUNT, help="Without images: how many sampled latents to edit (default 4).")
@click.option("--seed", type=int, callback=SEED, help="Without images: the seed of the sampled latents (default 0).")
@click.option("--label", help="Conditional models: the class the images are encoded and decoded with "
                              "(default: the direction's FROM class).")
@click.option("--data", help="Labelled data whose class means give the direction (default: the model's training data).")
@click.option("--split", type=click.Choice(DATA_SPLITS), default="train", show_default=True,
              help="Split of --data the class means come from.")
@click.option("--per-class", type=int, default=1000, callback=COUNT, show_default=True,
              help="Images of each class averaged into its mean latent (the first ones in the data).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def edit(source: str, images: tuple[str, ...], direction: str, strengths: str, out: str, n: int | None,
         seed: int | None, label: str | None, data: str | None, split: str, per_class: int, data_dir: str | None,
         device: str) -> None:
    """Move real IMAGES (or sampled latents) of SOURCE along an attribute direction between two classes.

    The direction is the difference of two classes' mean latents over encoded real data;
    each image is encoded, moved by every strength and decoded. Strength 0 is the plain
    reconstruction. Needs a model with an encoder (vae, cvae, ae, ...).

    \b
    genzoo edit runs/vae-fashion-mnist sneaker.png --direction 'Sneaker->Ankle boot' --out edit.png
    genzoo edit runs/vae-fashion-mnist --direction 'Sneaker->Ankle boot' -n 6 --seed 1 --strengths 0,0.5,1,1.5
    """
    # here, not at the top: they import torch, and `genzoo edit --help` should not wait for it
    import torch

    from genzoo.hub import load  # (these too: they import torch)
    from genzoo.images import load_images
    from genzoo.latent import (attribute_direction, conditional_label, decode_edits, encode_latents, labelled_data,
                               labelled_grid, parse_direction, require_encoder, sample_latents, save_png)

    values = parse_strengths(strengths)
    dest = _check_png(out)
    if images and (n is not None or seed is not None):
        raise GenzooError("-n and --seed choose sampled latents to edit; with image files given, drop them")
    n = 4 if n is None else n
    seed = 0 if seed is None else seed
    if not 1 <= n <= 256:
        raise GenzooError(f"-n must be between 1 and 256 (one row each), got {n}")
    paths = expand_images(images) if images else []
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise GenzooError(f"image '{missing[0]}' not found")
    if len(paths) > 256:
        raise GenzooError(f"{len(paths)} images would make {len(paths)} rows; give at most 256")

    model = load(source, device=device)
    require_encoder(model, "an attribute direction")
    x, y, names, spec = labelled_data(model, data, split=split, data_dir=data_dir)
    if y is None:
        raise GenzooError(f"data '{spec}' has no class labels, so it has no classes to take a direction between; "
                          "use labelled data (--data)")
    src, dst = parse_direction(direction, names)
    chosen = _class_label(label, names)
    # a conditional model encodes and decodes with one class: by default the one the edit starts from
    cls = conditional_label(model, src if chosen is None and model.is_conditional else chosen, "images")
    total = int(min(per_class, int((y == src).sum())) + min(per_class, int((y == dst).sum())))
    with make_progress(transient=True) as bar:
        task = bar.add_task("encoding class means", total=total)
        d = attribute_direction(model, x, y, src, dst, per_class=per_class,
                                progress=lambda k: bar.advance(task, k))
    if paths:
        real = load_images(paths, model.config.image_size, model.config.channels)
        z = encode_latents(model, real, None if cls is None else torch.full((len(paths),), cls))
    else:
        z = sample_latents(model, n, seed)
    edited = decode_edits(model, z, d, values, cls)  # (N, S, C, H, W)
    titles = [_title(v) for v in values]
    if paths:
        edited = torch.cat([real[:, None], edited], dim=1)
        titles = ["input"] + titles
    picture = labelled_grid(edited, titles, separator_after=0 if paths else None)
    save_png(picture, dest)
    what = f"{len(paths)} image(s)" if paths else f"{n} sampled latent(s) (seed {seed})"
    console.print(
        f"moved {what} along '{esc(names[src])}' -> '{esc(names[dst])}' (class means of {spec} {split}, "
        f"length {float(d.norm()):.2f}) at strengths {', '.join(titles[-len(values):])} -> [bold]{esc(dest)}[/]")


@click.command("latent-map")
@click.argument("source")
@click.option("--kind", type=click.Choice(["auto", "manifold", "scatter"]), default="auto", show_default=True,
              help="manifold: decode a grid over a 2-D latent space; scatter: the encoded data coloured by class "
                   "(PCA to 2-D above 2 dimensions); auto: manifold for a 2-D latent, else scatter.")
@click.option("--out", default="latent-map.png", show_default=True, help="PNG picture.")
@click.option("--size", type=int, default=15, callback=number(2, 64), show_default=True, help="manifold: images per side of the grid.")
@click.option("--margin", type=float, default=0.05, callback=number(0, 0.5, lo_open=True, hi_open=True), show_default=True,
              help="manifold: the grid spans the quantiles MARGIN .. 1 - MARGIN of each latent axis.")
@click.option("--sampler", help="manifold: whose quantiles span the grid (default: the model's sampler, e.g. the "
                                "normal prior, or the fitted gmm of an autoencoder).")
@click.option("--label", help="manifold, conditional models: the class to decode with.")
@click.option("--data", help="scatter: labelled data to encode (default: the model's training data).")
@click.option("--split", type=click.Choice(DATA_SPLITS), default="test", show_default=True, help="scatter: split of --data.")
@click.option("-n", "--num", "n", type=int, default=5000, callback=COUNT, show_default=True, help="scatter: images to encode (the first N).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def latent_map(source: str, kind: str, out: str, size: int, margin: float, sampler: str | None, label: str | None,
               data: str | None, split: str, n: int, data_dir: str | None, device: str) -> None:
    """Draw the latent space of SOURCE: the decoded 2-D manifold, or a scatter of encoded data.

    \b
    genzoo latent-map runs/vae2 --kind manifold --out manifold.png     # a vae trained with --set latent_dim=2
    genzoo latent-map runs/vae-fashion-mnist --kind scatter --out scatter.png
    """
    # here, not at the top: they import torch, and `genzoo latent-map --help` should not wait for it
    from genzoo.capabilities import DecodesLatents, has_capability
    from genzoo.hub import load

    dest = _check_png(out)
    if n < 2:
        raise GenzooError(f"-n must be at least 2 images to map, got {n}")
    model = load(source, device=device)
    if kind == "auto":
        kind = "manifold" if has_capability(model, DecodesLatents) and model.latent_dim == 2 else "scatter"
    if kind == "manifold":
        _manifold(model, dest, size, margin, sampler, label)
    else:
        _scatter(model, dest, data, split, n, data_dir)


def _manifold(model: Any, dest: Path, size: int, margin: float, sampler: str | None, label: str | None) -> None:
    # here: they import torch (see latent_map)
    from genzoo.images import save_grid
    from genzoo.latent import conditional_label, manifold

    names = list((model.meta.get("data") or {}).get("class_names") or [])
    cls = conditional_label(model, _class_label(label, names), "the grid")
    grid = manifold(model, size, margin=margin, label=cls, sampler=sampler)
    save_grid(grid.flatten(0, 1), dest, nrow=size, min_side=512)
    name = sampler or model.default_sampler
    console.print(
        f"decoded a {size} x {size} grid over the 2-D latent space (quantiles {margin:g} .. {1 - margin:g} of the "
        f"{esc(name)} sampler; z1 left to right, z2 bottom to top) -> [bold]{esc(dest)}[/]")


def _scatter(model: Any, dest: Path, data: str | None, split: str, n: int, data_dir: str | None) -> None:
    # here: they import torch (see latent_map)
    from genzoo.capabilities import EncodesImages, require
    from genzoo.latent import draw_scatter, encode_latents, labelled_data, project_2d, save_png

    require(model, EncodesImages, message=(
        "a latent scatter of encoded images needs a model with an encoder, and a {family} model has none; "
        "use a run of {families}"))
    x, y, names, spec = labelled_data(model, data, split=split, data_dir=data_dir, limit=n)
    if model.is_conditional and y is None:
        raise GenzooError(f"this conditional model encodes images given their class, and data '{spec}' has no labels")
    with make_progress(transient=True) as bar:
        task = bar.add_task("encoding", total=x.shape[0])
        z = encode_latents(model, x, y if model.is_conditional else None, progress=lambda k: bar.advance(task, k))
    pts, share = project_2d(z)
    d = z.shape[1]
    if d > 2:
        axes = (f"PC1 ({share[0]:.0%} of the variance)", f"PC2 ({share[1]:.0%})")
    else:
        axes = ("z1", "z2" if d == 2 else "(1-D latent)")
    title = f"{model.family_name} latent ({d}-D{', PCA' if d > 2 else ''}): {len(z)} {spec} {split} images"
    save_png(draw_scatter(pts, y, names, title=title, axis_names=axes), dest)
    legend = "coloured by class" if y is not None else "no labels, one colour"
    console.print(f"encoded {len(z)} {esc(spec)} {split} images, {legend}"
                  f"{', projected on 2 principal components' if d > 2 else ''} -> [bold]{esc(dest)}[/]")
