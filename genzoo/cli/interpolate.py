"""`genzoo interpolate RUN --seeds 1 2` and `genzoo arithmetic RUN --a .. --b .. --c ..`: latent-space tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from genzoo.cli import set_pairs
from genzoo.cli.checks import COUNT, SEED, TRUNCATION, number
from genzoo.cli.reconstruct import expand_images
from genzoo.cli.sample import parse_label
from genzoo.console import console, esc
from genzoo.errors import GenzooError

GRID_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _int_list(text: str, what: str) -> list[int]:
    """'1,2, 3' -> [1, 2, 3] with a clear error."""
    try:
        vals = [int(v) for v in text.replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        raise GenzooError(f"{what} takes whole numbers like 3 or 3,7,9; got '{text}'") from None
    if not vals:
        raise GenzooError(f"{what} is empty; give numbers like 3 or 3,7,9")
    return vals


def _sampler_options(sampler: str | None, truncation: float | None, opts: tuple[str, ...]) -> tuple[str | None, dict[str, Any]]:
    kwargs: dict[str, Any] = {}
    for k, v in set_pairs(opts).items():
        try:
            kwargs[k] = float(v) if "." in v or "e" in v.lower() else int(v)
        except ValueError:
            kwargs[k] = v
    if truncation is not None:
        kwargs["truncation"] = truncation
        sampler = sampler or "truncated-normal"
    return sampler, kwargs


def _load(source: str, device: str) -> Any:
    # here, not at the top: they import torch, and `genzoo interpolate --help` should not wait for it
    from genzoo.hub import load
    from genzoo.latent import require_latent_model

    model = load(source, device=device)
    require_latent_model(model)
    return model


def _label(label: str | None, model: Any) -> Any:
    return parse_label(label, model)


def _check_out(out: str, allowed: tuple[str, ...]) -> Path:
    dest = Path(out)
    if dest.suffix.lower() not in allowed:
        raise GenzooError(f"--out '{out}': use {' or '.join(allowed)}")
    return dest


def _image_args(from_images: str | None, extra: tuple[str, ...], from_file: str | None,
                seeds: str | None = None, least: int = 1) -> list[Path] | None:
    """--from-images A [B ...] (the option takes the first file, the rest arrive as arguments)
    -> the image files, a folder standing for the images in it; None without --from-images."""
    if from_images is None:
        return None
    if seeds is not None:
        raise GenzooError("--seeds and --from-images both name the points to walk through; give one of them")
    if from_file:
        raise GenzooError("--from (stored latents) and --from-images (real images) both give the latents; use one")
    files = expand_images((from_images, *extra))
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise GenzooError(f"image '{missing[0]}' not found")
    if len(files) < least:
        raise GenzooError(f"--from-images needs at least {least} images here, got {len(files)}")
    return files


def _encode_files(model: Any, files: list[Path], label: str | None, sampler: str | None,
                  kwargs: dict[str, Any]) -> tuple[Any, list[int | None]]:
    """Encode image files with the model's encoder -> (latents (N, d), the one decoding row)."""
    from genzoo.latent import conditional_label, image_latents, require_encoder  # here: they import torch

    require_encoder(model, "--from-images")
    if sampler is not None or kwargs:
        raise GenzooError("--sampler, --truncation and --opt choose how seeds become latents; "
                          "--from-images encodes real images instead, so drop them")
    cls = conditional_label(model, _label(label, model), "the images")
    return image_latents(model, files, label=cls)[1], [cls]


sampler_options = [
    click.option("--sampler", help="Latent sampler for seeds (`genzoo list samplers`), e.g. truncated-normal."),
    click.option("--truncation", type=float, callback=TRUNCATION, help="Threshold for the truncated-normal sampler."),
    click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE", help="Extra sampler option (repeatable)."),
    click.option("--label", help="Class for conditional models: 3, 0,1,2 or 'all' (default: a row per class)."),
    click.option("--from", "from_file", type=click.Path(dir_okay=False),
                 help="Stored latents (.npz from `genzoo sample --save-latents`): numbers are then row indices, not seeds."),
    click.option("--save-latents", type=click.Path(dir_okay=False), help="Also write the latents used to FILE.npz."),
    click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps."),
]


def with_sampler_options(f: Any) -> Any:
    for opt in reversed(sampler_options):
        f = opt(f)
    return f


@click.command()
@click.argument("source")
@click.argument("more_seeds", nargs=-1, metavar="")
@click.option("--seeds", metavar="S1 S2 [S3 ...]",
              help="Seeds (or row indices with --from) to walk through, in order: --seeds 1 2 or --seeds 1,2,3.")
@click.option("--from-images", "from_images", metavar="A.png B.png [...]",
              help="Walk through real images instead, encoded by the model's encoder (vae, cvae, ae ...).")
@click.option("--steps", type=int, default=8, show_default=True, callback=number(2), help="Images per leg, both ends included.")
@click.option("--method", type=click.Choice(["slerp", "lerp"]), default="slerp", show_default=True,
              help="Spherical (great circle) or linear interpolation.")
@click.option("--loop", is_flag=True, help="Walk back to the first seed at the end (a seamless GIF).")
@click.option("--out", default="walk.gif", show_default=True, help="FILE.gif (animation) or FILE.png (grid, a row per class).")
@click.option("--duration-ms", type=int, default=120, show_default=True, callback=COUNT, help="GIF frame duration.")
@with_sampler_options
def interpolate(source: str, more_seeds: tuple[str, ...], seeds: str | None, from_images: str | None, steps: int,
                method: str, loop: bool,
                out: str, duration_ms: int, sampler: str | None, truncation: float | None, opts: tuple[str, ...],
                label: str | None, from_file: str | None, save_latents: str | None, device: str) -> None:
    """Walk the latent space of SOURCE (a run directory, Hub repo id or family name) between seeds.

    \b
    genzoo interpolate runs/gan-digits --seeds 1 2 --steps 8 --out walk.gif
    genzoo interpolate runs/cgan-digits --seeds 1 2 3 --loop --out grid.png --label all
    genzoo interpolate runs/vae-fashion-mnist --from-images shoe.png boot.png --out walk.gif
    """
    # here: they import torch (see _load)
    from genzoo.images import make_grid, save_gif, save_grid
    from genzoo.latent import decode_rows, label_rows, load_latents, path, pick
    from genzoo.latent import save_latents as write_latents

    files = _image_args(from_images, more_seeds, from_file, seeds, least=2)
    if files is None:
        if seeds is None:
            raise GenzooError("name the points to walk through: --seeds 1 2, or real images with --from-images a.png b.png")
        refs = _int_list(seeds, "--seeds") + [v for s in more_seeds for v in _int_list(s, "--seeds")]
        if len(refs) < 2:
            raise GenzooError("--seeds needs at least two values to walk between, e.g. --seeds 1 2")
    else:
        refs = list(range(len(files)))
    if loop:
        refs.append(refs[0])
    dest = _check_out(out, (".gif",) + GRID_SUFFIXES)
    if duration_ms < 1:
        raise GenzooError(f"--duration-ms must be positive, got {duration_ms}")
    model = _load(source, device)
    sampler, kwargs = _sampler_options(sampler, truncation, opts)
    if files is not None:
        stored, rows = _encode_files(model, files, label, sampler, kwargs)
    else:
        stored = load_latents(from_file, model.latent_dim) if from_file else None
        rows = label_rows(model, _label(label, model))
    z = pick(model, refs, stored=stored, sampler=sampler, **kwargs)
    points = path(z, steps, method)
    images = decode_rows(model, points, rows)  # (R, M, C, H, W)
    if dest.suffix.lower() == ".gif":
        frames = [make_grid(images[:, m], nrow=len(rows)) if len(rows) > 1 else images[0, m] for m in range(images.shape[1])]
        save_gif(frames, dest, duration_ms=duration_ms)
        what = f"{len(frames)} frames"
    else:
        save_grid(images.flatten(0, 1), dest, nrow=images.shape[1])
        what = f"{len(rows)} row(s) of {images.shape[1]}"
    if save_latents:
        write_latents(save_latents, points)
    if files is not None:
        through = "images " + ", ".join(esc(files[r].name) for r in refs)
    else:
        through = ("rows of " if from_file else "seeds ") + ", ".join(map(str, refs))
    console.print(f"wrote a {method} walk through {through} ({what}) -> [bold]{esc(dest)}[/]")


@click.command()
@click.argument("source")
@click.argument("more_images", nargs=-1, metavar="")
@click.option("--a", "a", metavar="S[,S..]", help="Seeds (or rows with --from, images with --from-images) averaged into a.")
@click.option("--b", "b", metavar="S[,S..]", help="Seeds averaged into b (subtracted).")
@click.option("--c", "c", metavar="S[,S..]", help="Seeds averaged into c (added).")
@click.option("--from-images", "from_images", metavar="A.png B.png C.png [...]",
              help="Real images encoded by the model's encoder: --a/--b/--c are then their positions (0 = the "
                   "first); three images and no --a/--b/--c mean a=0, b=1, c=2.")
@click.option("--variants", type=int, default=4, show_default=True, callback=number(0),
              help="Extra results with uniform noise of +-NOISE added (the DCGAN paper showed 8).")
@click.option("--noise", type=float, default=0.25, show_default=True, callback=number(0), help="Scale of the variants' noise.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Seed of the variants' noise.")
@click.option("--out", default="arithmetic.png", show_default=True, help="FILE.png: columns a, b, c, a-b+c, variants.")
@with_sampler_options
def arithmetic(source: str, more_images: tuple[str, ...], a: str | None, b: str | None, c: str | None,
               from_images: str | None, variants: int, noise: float, seed: int, out: str,
               sampler: str | None, truncation: float | None, opts: tuple[str, ...], label: str | None,
               from_file: str | None, save_latents: str | None, device: str) -> None:
    """Latent vector arithmetic a - b + c on SOURCE, as in the DCGAN paper.

    Each term is the mean latent of one or more seeds (or, with --from FILE.npz, rows of
    stored latents: pick images from `genzoo sample RUN --save-latents z.npz` by index).

    \b
    genzoo arithmetic runs/gan-digits --a 3,7,9 --b 12 --c 5 --out math.png
    genzoo arithmetic runs/vae-fashion-mnist --from-images boot.png sneaker.png sandal.png
    """
    # here: they import torch (see _load)
    import torch

    from genzoo.images import save_grid  # (these too: they import torch)
    from genzoo.latent import arithmetic as combine
    from genzoo.latent import decode_rows, label_rows, load_latents, pick
    from genzoo.latent import save_latents as write_latents

    if variants < 0:
        raise GenzooError(f"--variants must be 0 or more, got {variants}")
    if noise < 0:
        raise GenzooError(f"--noise must be 0 or more, got {noise}")
    dest = _check_out(out, GRID_SUFFIXES)
    if more_images and from_images is None:
        raise GenzooError(f"unexpected argument '{more_images[0]}'; image files go after --from-images")
    files = _image_args(from_images, more_images, from_file)
    given = {"a": a, "b": b, "c": c}
    if files is not None and len(files) == 3 and not any(given.values()):
        given = {"a": "0", "b": "1", "c": "2"}
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise GenzooError(f"missing --{missing[0]}: give --a, --b and --c (seeds, or image positions with --from-images)")
    terms = {name: _int_list(text, f"--{name}") for name, text in given.items()}
    model = _load(source, device)
    sampler, kwargs = _sampler_options(sampler, truncation, opts)
    rows: list[int | None] | None = None
    if files is not None:
        stored, rows = _encode_files(model, files, label, sampler, kwargs)
        bad = [v for t in terms.values() for v in t if not 0 <= v < len(files)]
        if bad:
            raise GenzooError(f"image position {bad[0]} is out of range; --from-images gave images 0..{len(files) - 1}")
    else:
        stored = load_latents(from_file, model.latent_dim) if from_file else None
    za, zb, zc = (pick(model, terms[k], stored=stored, sampler=sampler, **kwargs) for k in "abc")
    result = combine(za, zb, zc)
    gen = torch.Generator().manual_seed(seed)
    jitter = (torch.rand(variants, result.shape[0], generator=gen) * 2 - 1) * noise
    z = torch.stack([za.mean(0), zb.mean(0), zc.mean(0), result, *(result + jitter)])
    if rows is None:
        rows = label_rows(model, _label(label, model))
    images = decode_rows(model, z, rows)  # (R, 4 + variants, C, H, W)
    save_grid(images.flatten(0, 1), dest, nrow=images.shape[1])
    if save_latents:
        write_latents(save_latents, z)
    console.print(
        f"wrote a - b + c (columns: a, b, c, result, {variants} variant(s); {len(rows)} row(s)) -> [bold]{esc(dest)}[/]"
    )
