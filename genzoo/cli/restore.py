"""`genzoo restore RUN IMAGE --task superres:4 --out out.png`: invert a linear degradation with a model that Restores.

The degradations are the paired tasks' (genzoo/data/tasks.py): the same names, the same code,
each with its linear operator A and pseudo-inverse A^+ (genzoo/degradations.py).
"""

from __future__ import annotations

from typing import Any

import click

from genzoo.capabilities import Restores, require
from genzoo.cli.checks import COUNT, SEED, number
from genzoo.console import console, esc
from genzoo.errors import GenzooError


@click.command()
@click.argument("source")
@click.argument("image", required=False, type=click.Path(dir_okay=False))
@click.option("--task", "task_spec", required=True,
              help="The degradation, a linear paired task: superres[:2|4], deblur[:S], colorize, inpaint, denoise[:S].")
@click.option("--out", default="restored.png", show_default=True,
              help="Result PNG: the restored image, or with --data / --from-targets a grid degraded | restored | original.")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False),
              help="--task inpaint on a file: mask image, white (> 50%) = missing, black = measured.")
@click.option("--from-targets", is_flag=True, help="IMAGE is the clean original: degrade it with --task (seeded), "
              "restore it and compare (grid and --metrics).")
@click.option("--data", help="Restore held-out items of a dataset instead of a file, e.g. fashion-mnist (degraded with --task).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test"]), help="Split of --data.")
@click.option("-n", "--num", "n", type=int, default=16, callback=COUNT, show_default=True, help="Items of --data to restore.")
@click.option("--metrics", is_flag=True, help="Print PSNR and SSIM against the originals, for the restoration, "
              "the task's trivial baseline and A^+ y (no prior).")
@click.option("--metrics-json", type=click.Path(dir_okay=False), help="Also write the metrics to this JSON file.")
@click.option("--steps", type=int, default=100, callback=COUNT, show_default=True, help="Sampler steps.")
@click.option("--eta", type=float, default=0.85, callback=number(0, 1), show_default=True, help="Sampler noise (DDIM eta; DDNM uses 0.85).")
@click.option("--resample", type=int, default=1, callback=COUNT, show_default=True,
              help="Takes of each step, re-noising in between (DDNM's time-travel; slower, better for large null spaces).")
@click.option("--seed", type=int, default=0, callback=SEED, show_default=True, help="Same seed, same restoration.")
@click.option("--label", type=int, callback=number(0), help="Class for a conditional model (default: unconditional).")
@click.option("--batch-size", type=int, default=64, callback=COUNT, show_default=True)
@click.option("--revision", help="Hub branch, tag or commit.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def restore(source: str, image: str | None, task_spec: str, out: str, mask_path: str | None, from_targets: bool,
            data: str | None, split: str, n: int, metrics: bool, metrics_json: str | None, steps: int, eta: float,
            resample: int, seed: int, label: int | None, batch_size: int, revision: str | None, device: str) -> None:
    """Restore a degraded IMAGE (or --data items) with the model SOURCE (run directory or Hub repo).

    \b
    genzoo restore RUN small.png --task superres:4 --out big.png     # IMAGE is the degraded picture
    genzoo restore RUN photo.png --task inpaint --mask holes.png --out filled.png
    genzoo restore RUN --data fashion-mnist -n 16 --task deblur --out grid.png --metrics
    """
    # here, not at the top: they import torch, and `genzoo restore --help` should not wait for it
    import torch
    from genzoo.data import ImageDataset, load_dataset  # here: torch (see above)
    from genzoo.data.tasks import INPUTS, MASK, bicubic, make_paired, parse_task, tasks  # here: torch
    from genzoo.hub import load  # here: torch
    from genzoo.images import load_images, save_image  # here: torch

    if not out.lower().endswith(".png"):
        raise GenzooError(f"--out '{out}': the result is written as a .png file")
    if bool(image) == bool(data):
        raise GenzooError("give an IMAGE file or --data DATASET, exactly one")
    if mask_path and task_spec.partition(":")[0].strip() != "inpaint":
        raise GenzooError("--mask is for --task inpaint")
    task, raw_arg = parse_task(task_spec)
    if task.operator is None:
        linear = [t for t in tasks.names() if tasks.get(t).operator is not None]
        raise GenzooError(f"task {task.name} is not a linear degradation, so it cannot be restored; use one of {', '.join(linear)}")
    model: Any = load(source, revision=revision, device=device)
    require(model, Restores, message="a {family} model cannot restore degraded images; use a model of a family that can: {families}")
    cfg = model.config
    size, channels = int(cfg.image_size), int(cfg.channels)
    arg = task.parse(raw_arg, size, channels)

    targets = None
    if data or from_targets:
        if data:
            plain = load_dataset(data, split=split, limit=n)
            if plain.channels != channels:
                raise GenzooError(f"'{data}' has {plain.channels}-channel images but the model makes {channels}-channel ones")
        else:
            if metrics_json and not metrics:
                metrics = True
            plain = ImageDataset(name="inputs", split="test", images=load_images([image], size, channels) * 2 - 1,
                                 labels=None, class_names=[])
        # the task's randomness (holes, noise) from the run's seed, as `genzoo translate --data` draws it
        paired = make_paired(plain, task=task_spec, seed=int(getattr(cfg, "seed", 0)), image_size=size)
        extras = dict(paired.extra)
        targets = (paired.images + 1) / 2
    else:
        assert image is not None
        if task.name == "inpaint" and not mask_path:
            raise GenzooError("--task inpaint on a file needs --mask MASK.png (white = missing)")
        if task.name == "superres":  # the small picture, up-sampled as the task's inputs are
            small = load_images([image], size // arg, channels)
            y01 = (bicubic(small * 2 - 1, size) + 1) / 2
        else:
            y01 = load_images([image], size, 1 if task.name == "colorize" else channels)
        extras = {INPUTS: y01 * 2 - 1}
        if mask_path:
            mask = load_images([mask_path], size, 1)
            if not bool((mask > 0.5).any()):
                raise GenzooError(f"mask '{mask_path}' has no white pixels: nothing to fill (white = missing, black = measured)")
            extras[MASK] = (mask > 0.5).to(torch.uint8)
            extras[INPUTS] = extras[INPUTS].masked_fill(extras[MASK].bool(), 0.0)  # missing pixels are unmeasured
        paired = None
    if (metrics or metrics_json) and targets is None:
        raise GenzooError("--metrics needs originals: use --data DATASET or --from-targets")
    operator = task.operator(arg, size, channels, extras)
    y = (extras[INPUTS] + 1) / 2
    restored = model.restore(y, operator, seed=seed, labels=label, steps=steps, eta=eta, resample=resample,
                             batch_size=batch_size, progress=True)

    wrote = _write(out, y, restored, targets, save_image)
    if metrics or metrics_json:
        assert targets is not None and paired is not None
        _report(paired, task_spec, operator, y, restored, targets, source, data, split, steps, eta, resample, metrics_json)
        if metrics_json:
            wrote += f", {metrics_json}"
    console.print(f"restored {len(restored)} image{'s' if len(restored) > 1 else ''} ({esc(task_spec)}, "
                  f"{steps} steps, seed {seed}) -> [bold]{esc(wrote)}[/]", highlight=False)


def _write(out: str, y: Any, restored: Any, targets: Any, save_image: Any) -> str:
    """One restored image, or a grid degraded | restored | original (| further groups side by side)."""
    from genzoo.data.tasks import comparison_rows  # here: imports torch (see restore())
    from genzoo.images import save_grid

    if targets is None and len(restored) == 1:
        save_image(restored[0], out)
        return out
    cols = [y, restored] + ([targets] if targets is not None else [])
    imgs, nrow = comparison_rows(cols)
    save_grid(imgs, out, nrow=nrow)
    return f"{out} ({' | '.join(['degraded', 'restored', 'original'][: len(cols)])})"


def _report(paired: Any, task_spec: str, operator: Any, y: Any, restored: Any, targets: Any, source: str,
            data: str | None, split: str, steps: int, eta: float, resample: int, metrics_json: str | None) -> None:
    """PSNR/SSIM of the restoration, the trivial baseline and A^+ y, and how well A(restored) matches y."""
    from genzoo.data.tasks import baseline, psnr_ssim  # here: imports torch (see restore())
    from genzoo.io import write_json

    p, s = psnr_ssim(restored, targets)
    ys = y * 2 - 1
    consistency = float((operator.A(restored * 2 - 1) - ys).abs().mean() / 2)  # in [0, 1] units
    result: dict[str, Any] = {"run": str(source), "data": data or "file", "split": split if data else None,
                              "task": task_spec, "num_images": len(restored), "steps": steps, "eta": eta,
                              "resample": resample, "method": "DDNM" + ("+" if operator.noise_std > 0 else ""),
                              "model": {"psnr": p, "ssim": s}, "measurement_error": consistency}
    rows = [(f"restored ({result['method']}, {steps} steps)", p, s)]
    base = baseline(paired, task_spec)
    if base is not None:
        bp, bs = psnr_ssim((base[0] + 1) / 2, targets)
        result["baseline"] = {"name": base[1], "psnr": bp, "ssim": bs}
        rows.append((f"baseline: {base[1]}", bp, bs))
    pinv = ((operator.pinv(ys) + 1) / 2).clamp(0, 1)
    if pinv.shape == targets.shape:
        ip, is_ = psnr_ssim(pinv, targets)
        result["pinv"] = {"psnr": ip, "ssim": is_}
        rows.append(("A^+ y (pseudo-inverse, no prior)", ip, is_))
    for label, a, b in rows:
        click.echo(f"{label:<50} PSNR {a:6.2f} dB   SSIM {b:.4f}")  # the result: stdout
    click.echo(f"{'measurement error mean |A(restored) - y|':<50} {consistency:.4f} (of the [0, 1] range)")
    if metrics_json:
        write_json(metrics_json, result)
