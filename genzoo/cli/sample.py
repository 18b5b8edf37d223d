"""`genzoo sample SOURCE`."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from genzoo.capabilities import ShowsTrajectory, require
from genzoo.cli import set_pairs
from genzoo.cli.checks import COUNT, SEED, TRUNCATION, number
from genzoo.console import console, esc
from genzoo.errors import GenzooError
from genzoo.registry import samplers


def parse_label(label: str | None, model) -> object:  # noqa: ANN001
    """'3' -> 3, '0,1,2' -> [0, 1, 2], 'all' -> 'all'. The model validates the range."""
    if label is None:
        return None
    if label == "all":
        return "all"
    try:
        vals = [int(v) for v in label.split(",")]
    except ValueError:
        names = model.meta.get("data", {}).get("class_names", [])
        if label in names:
            return names.index(label)
        raise GenzooError(f"--label takes a class number, a list like 0,3 or 'all'; got '{label}'") from None
    return vals[0] if len(vals) == 1 else vals


def check_sampler_options(model, sampler: str | None, opts: dict, trajectory: str | None) -> None:  # noqa: ANN001
    """--steps/--eta/--guidance must be options of the chosen sampler; --trajectory needs a model
    that ShowsTrajectory."""
    if trajectory:
        require(model, ShowsTrajectory, message="--trajectory needs a {families} model; this is a {family} model")
        if not trajectory.lower().endswith((".png", ".gif")):
            raise GenzooError(f"--trajectory '{trajectory}': write it as a .png grid or a .gif animation")
    name = sampler or model.default_sampler
    if name is None:
        return
    samplers.get(name).check_options(opts, flags=True)


def write_trajectory(traj, path: str) -> None:  # noqa: ANN001
    """(N, F, C, H, W) in [0, 1] -> a PNG grid (row i: image i from x_T to x_0) or a GIF (one grid per frame)."""
    from genzoo.images import make_grid, save_gif, save_grid  # here: imports torch (keeps --help instant)

    if path.lower().endswith(".gif"):
        save_gif([make_grid(traj[:, f]) for f in range(traj.shape[1])], path, duration_ms=250, min_side=256)
    else:
        save_grid(traj.flatten(0, 1), path, nrow=traj.shape[1])


def check_numbers(n: int, batch_size: int, truncation: float | None) -> None:
    """Refuse counts and thresholds no sampler can use, before anything is loaded."""
    if n < 1:
        raise GenzooError(f"-n must be at least 1, got {n}")
    if batch_size < 1:
        raise GenzooError(f"--batch-size must be at least 1, got {batch_size}")
    if truncation is not None and not (math.isfinite(truncation) and truncation > 0):
        raise GenzooError(f"--truncation must be a finite number > 0, got {truncation}; e.g. --truncation 0.7")


def check_writable(out: str) -> None:
    """Refuse an --out whose folder cannot exist or be written, before the sampling work."""
    dest = Path(out)
    folder = dest if out.endswith(("/", "\\")) or dest.is_dir() else dest.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise GenzooError(f"--out '{out}': '{existing}' is a file, not a folder; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GenzooError(f"--out '{out}': cannot write in '{existing}'; choose another --out")


def check_memory(n: int, config: Any) -> None:
    """Refuse an -n whose images alone would not fit in the free memory (they are kept until written)."""
    need = n * max(1, config.channels) * max(1, config.image_size) ** 2 * 4 * 2  # float32 images and their noise
    free = _free_memory()
    if free and need > free:
        raise GenzooError(
            f"-n {n} needs about {need / 2**30:.1f} GiB for the images ({free / 2**30:.1f} GiB free); "
            "sample fewer at a time, e.g. several runs with different --seed values"
        )


def _free_memory() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return 0


def write_images(images: Any, labels: Any, out: str, nrow: int | None) -> str:
    """Write the samples where --out says: a grid, one PNG per image, or an npz. Returns where."""
    from genzoo.images import save_grid, save_individual, save_npz  # here: they import torch (fast --help)

    dest = Path(out)
    if out.endswith(("/", "\\")) or (dest.exists() and dest.is_dir()):
        paths = save_individual(images, dest)
        return f"{len(paths)} PNG files in {dest}/"
    if dest.suffix.lower() == ".npz":
        save_npz(images, dest, labels)
        return str(dest)
    if dest.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        save_grid(images, dest, nrow=nrow)
        return str(dest)
    raise GenzooError(f"--out '{out}': use a .png grid, a folder ending in /, or a .npz file")


@click.command()
@click.argument("source", required=False)
@click.option("--from-hub", "hub", metavar="USER/MODEL[@REV]", help="Load from the Hugging Face Hub (through the cache).")
@click.option("--revision", help="Hub branch, tag or commit.")
@click.option("-n", "--num", "n", type=int, default=64, show_default=True, callback=COUNT, help="Number of images.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Same seed, same images.")
@click.option("--out", default="samples.png", show_default=True,
              help="FILE.png for a grid, DIR/ for one PNG per image, FILE.npz for a uint8 (N, H, W, C) array.")
@click.option("--label", help="Class for conditional models: 3, 0,1,2 or 'all' (a row per class).")
@click.option("--sampler", help="Latent sampler (`genzoo list samplers`), e.g. truncated-normal.")
@click.option("--truncation", type=float, callback=TRUNCATION, help="Threshold for the truncated-normal sampler.")
@click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE", help="Extra sampler option (repeatable).")
@click.option("--steps", type=int, callback=COUNT, help="Samplers that take steps (e.g. ddim): denoising steps, ddim's default 50; ddpm always runs all T.")
@click.option("--eta", type=float, callback=number(0), help="Samplers that take eta (e.g. ddim): 0 = deterministic (default), 1 = as noisy as DDPM.")
@click.option("--guidance", type=float, callback=number(0), help="Samplers that take guidance: classifier-free guidance scale; 1 = off, e.g. 3.0.")
@click.option("--trajectory", type=click.Path(dir_okay=False),
              help="Models that show their sampling path: also write it as FILE.png (a row per image) or FILE.gif.")
@click.option("--nrow", type=int, callback=COUNT, help="Images per grid row.")
@click.option("--batch-size", type=int, default=256, show_default=True, callback=COUNT)
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile the sampling network first: pays off for many images or many sampler steps.")
@click.option("--save-latents", type=click.Path(dir_okay=False),
              help="Also write the latents behind the images to FILE.npz (for `genzoo arithmetic --from`).")
@click.option("--as-folder", is_flag=True,
              help="Conditional models: write --out DIR/ as a labelled image folder, one subfolder per class "
                   "(-n images in total, n // classes each), readable by --data folder:DIR and ImageFolder.")
def sample(source: str | None, hub: str | None, revision: str | None, n: int, seed: int, out: str,
           label: str | None, sampler: str | None, truncation: float | None, opts: tuple[str, ...],
           nrow: int | None, batch_size: int, device: str, save_latents: str | None = None,
           steps: int | None = None, eta: float | None = None, guidance: float | None = None,
           trajectory: str | None = None, compile_: bool = False, as_folder: bool = False) -> None:
    """Draw N images from SOURCE: a run directory, a Hub repo id, or a family name (untrained)."""
    # here, not at the top: they import torch, and `genzoo sample --help` should not wait for it
    import torch

    from genzoo.hub import load  # (these too: they import torch)
    from genzoo.latent import require_latent_model, sample_latents
    from genzoo.latent import save_latents as write_latents

    if bool(source) == bool(hub):
        raise GenzooError("give a SOURCE (run directory or repo id) or --from-hub USER/MODEL, exactly one")
    check_numbers(n, batch_size, truncation)
    check_writable(out)
    if as_folder:
        check_as_folder(out, label, trajectory, save_latents)
    if save_latents and not save_latents.lower().endswith(".npz"):
        raise GenzooError(f"--save-latents '{save_latents}': latents are stored as a .npz file")
    model = load(hub or source, revision=revision, device=device)
    check_memory(n, model.config)
    if compile_:
        model.compile_for_sampling()
    if save_latents:
        require_latent_model(model)
    kwargs: dict[str, object] = dict(set_pairs(opts))
    for k, v in list(kwargs.items()):
        try:
            kwargs[k] = float(v) if "." in str(v) or "e" in str(v).lower() else int(v)
        except ValueError:
            pass
    if truncation is not None:
        kwargs["truncation"] = truncation
        sampler = sampler or "truncated-normal"
    step_opts = {k: v for k, v in (("steps", steps), ("eta", eta), ("guidance", guidance)) if v is not None}
    if step_opts or trajectory:
        check_sampler_options(model, sampler, step_opts, trajectory)
        kwargs.update(step_opts)
    lab = parse_label(label, model)
    if as_folder:
        return _sample_folder(model, n, seed, out, sampler, batch_size, kwargs)
    if lab == "all":
        if not model.is_conditional:
            model.check_labels(0, 1)  # raises the "not conditional" error
        k = model.config.num_classes
        per = max(1, n // k)
        lab = torch.arange(k).repeat_interleave(per)
        n, nrow = per * k, nrow or per
    if trajectory:
        images, traj = model.sample_trajectory(n, seed=seed, labels=lab, sampler=sampler, batch_size=batch_size,
                                               progress=True, **kwargs)
        labels = model.check_labels(lab, n)
        write_trajectory(traj, trajectory)
    else:
        images, labels = model.sample(n, seed=seed, labels=lab, sampler=sampler, batch_size=batch_size,
                                      return_labels=True, progress=True, **kwargs)
    try:
        where = write_images(images, labels, out, nrow)
    except OSError as e:  # checked up front, but the disk can still fill or the folder vanish
        raise GenzooError(f"cannot write --out '{out}': {e.strerror or e}; choose another --out") from None
    if trajectory:
        where += f" (trajectory: {trajectory})"
    if save_latents:
        # The same draw model.sample made from this seed: row i is the latent of image i.
        z = sample_latents(model, n, seed, sampler=sampler, **kwargs)
        write_latents(save_latents, z, labels=labels, seed=seed)
        where += f" (latents: {save_latents})"
    console.print(f"wrote {n} samples (seed {seed}) -> [bold]{esc(where)}[/]")


def check_as_folder(out: str, label: str | None, trajectory: str | None, save_latents: str | None) -> None:
    """--as-folder writes every class into a new folder: refuse what contradicts that before loading."""
    from genzoo.labelled import check_folder_out  # here: it imports torch (keeps --help instant)

    if label not in (None, "all"):
        raise GenzooError(f"--as-folder writes every class; drop --label '{label}' or use --label all")
    if trajectory or save_latents:
        raise GenzooError("--as-folder writes images only; drop --trajectory / --save-latents")
    check_folder_out(out)


def _sample_folder(model, n: int, seed: int, out: str, sampler: str | None, batch_size: int,  # noqa: ANN001
                   kwargs: dict) -> None:
    """`--as-folder`: n // K images of each class into out/<index>_<class name>/."""
    from genzoo.labelled import class_names, per_class_labels, require_conditional, write_labelled_folder  # (torch)

    require_conditional(model, "--as-folder")
    labels, per = per_class_labels(model, n)
    images = model.sample(len(labels), seed=seed, labels=labels, sampler=sampler, batch_size=batch_size,
                          progress=True, **kwargs)
    names = class_names(model)
    try:
        dest = write_labelled_folder(images, labels, names, out)
    except OSError as e:  # checked up front, but the disk can still fill or the folder vanish
        raise GenzooError(f"cannot write --out '{out}': {e.strerror or e}; choose another --out") from None
    rest = f" ({n - len(labels)} fewer than -n: an equal number per class)" if len(labels) != n else ""
    console.print(f"wrote {len(labels)} samples (seed {seed}), {per} of each of {len(names)} classes{esc(rest)} "
                  f"-> [bold]{esc(str(dest))}/[/] (read it back with --data folder:{esc(str(dest))})")
