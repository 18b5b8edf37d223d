"""`genzoo translate RUN INPUT... --out DIR`: models that TranslatesImages, on files or datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from genzoo.capabilities import TranslatesImages, require
from genzoo.cli.checks import COUNT, SEED
from genzoo.console import console, esc
from genzoo.errors import GenzooError


def expand_inputs(items: tuple[str, ...]) -> list[Path]:
    """Files as given; folders -> their image files, sorted."""
    from genzoo.data import IMAGE_SUFFIXES  # here: genzoo.data imports torch (keeps --help instant)

    out: list[Path] = []
    for it in items:
        p = Path(it).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise GenzooError(f"folder '{p}' has no images")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise GenzooError(f"input '{p}' does not exist")
    return out


def unique_names(paths: list[Path]) -> list[str]:
    """File stems, made unique (a_1, a_2 ...) when two inputs share one."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        k = seen.get(p.stem, 0)
        seen[p.stem] = k + 1
        names.append(p.stem if k == 0 else f"{p.stem}_{k}")
    return names


@click.command()
@click.argument("run")
@click.argument("inputs", nargs=-1)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder for one output PNG per input.")
@click.option("--grid", type=click.Path(dir_okay=False), help="PNG with one row per input: input | output | target (when known).")
@click.option("--data", help="Translate items of a dataset instead of files, e.g. fashion-mnist or pairs:PATH "
              "(pairs built with the run's task and direction); targets are known.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test"]), help="Split of --data.")
@click.option("-n", "--num", "n", type=int, default=16, show_default=True, callback=COUNT, help="Items of --data to translate.")
@click.option("--from-targets", is_flag=True, help="Treat each INPUT as the target: build the model's input from it with "
              "the run's task (or --task), so the grid and --metrics can compare with it.")
@click.option("--task", help="Paired task for --data/--from-targets instead of the run's, e.g. superres:4.")
@click.option("--metrics", is_flag=True, help="Print PSNR and SSIM against the targets, and the task's trivial baseline.")
@click.option("--metrics-json", type=click.Path(dir_okay=False), help="Also write the metrics to this JSON file.")
@click.option("--raw", is_flag=True, help="Keep the model's raw output even where the task gives the answer "
              "(inpaint: by default the known pixels around the holes are kept).")
@click.option("--direction", help="For models that translate several ways (e.g. AtoB, BtoA): which one; "
              "default: the model's first.")
@click.option("--dropout", is_flag=True, help="Keep the generator's dropout on (the paper's noise); --seed picks it.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Seed for --dropout and for the task's randomness.")
@click.option("--batch-size", type=int, default=64, show_default=True, callback=COUNT)
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def translate(run: str, inputs: tuple[str, ...], out_dir: str | None, grid: str | None, data: str | None, split: str,
              n: int, from_targets: bool, task: str | None, metrics: bool, metrics_json: str | None, raw: bool, dropout: bool,
              seed: int, batch_size: int, device: str, direction: str | None = None) -> None:
    """Translate INPUT images (files or folders) with the image-to-image model in RUN.

    \b
    genzoo translate runs/pix2pix-fashion-mnist shoe.png --out out/
    genzoo translate RUN --data fashion-mnist -n 8 --grid grid.png
    genzoo translate RUN --data fashion-mnist -n 1000 --metrics
    """
    # here, not at the top: they import torch, and `genzoo translate --help` should not wait for it
    from genzoo.data import ImageDataset, load_dataset
    from genzoo.data.tasks import INPUTS, apply_task, baseline, comparison_rows, finish, make_paired, parse_task, psnr_ssim, tasks
    from genzoo.hub import load
    from genzoo.images import load_images, save_grid, save_image
    from genzoo.interfaces import to_unit
    from genzoo.io import write_json

    if not (out_dir or grid or metrics or metrics_json):
        raise GenzooError("nothing to write: give --out DIR, --grid FILE.png and/or --metrics")
    if bool(inputs) == bool(data):
        raise GenzooError("give INPUT files or folders, or --data DATASET, exactly one")
    if n < 1:
        raise GenzooError(f"-n must be at least 1, got {n}")
    model: Any = load(run, device=device)
    require(model, TranslatesImages, message=(
        f"'{run}' holds a {{family}} model, which generates rather than translates; use `genzoo sample` "
        "(translate needs an image-to-image model: {families})"))
    cfg = model.config
    size, cout = int(cfg.image_size), int(cfg.channels)
    cin = int(model.in_channels)
    directions = tuple(model.directions)
    if direction is not None and direction not in directions:
        raise GenzooError(f"--direction {direction}: this {model.family_name} model translates {', '.join(directions)}")
    direction = direction or directions[0]
    # families trained on pairs (e.g. pix2pix) record the task they were trained on as the config field `task`
    run_task = task or getattr(cfg, "task", "")
    if run_task and not task and (data or from_targets) and run_task.partition(":")[0].strip() not in tasks.names():
        # another kind of task (cyclegan's classes:A,B builds two domains, not pairs)
        raise GenzooError(f"this {model.family_name} model was trained with task '{run_task}', which builds no (input, target) "
                          "pairs, so --data and --from-targets cannot be used; translate image files or folders instead")
    paired: ImageDataset | None = None
    targets = None
    if data:
        plain_data = load_dataset(data, split=split, limit=n)
        paired = make_paired(plain_data, task=run_task, direction=direction, seed=cfg.seed, image_size=size)
        if INPUTS not in paired.extra:
            raise GenzooError(f"'{data}' is not paired and the run has no task; pass --task (e.g. --task superres)")
        x, targets = to_unit(paired.extra[INPUTS].clone()), to_unit(paired.images.clone())
        names = [f"{split}_{i:05d}" for i in range(len(x))]
    else:
        paths = expand_inputs(inputs)
        names = unique_names(paths)
        if from_targets:
            if not run_task:
                raise GenzooError("--from-targets needs a task: the run has none, so pass --task (e.g. --task inpaint)")
            targets = load_images(paths, size, cout)
            plain = ImageDataset(name="inputs", split="test", images=targets * 2 - 1, labels=None, class_names=[])
            paired = apply_task(plain, run_task, seed=cfg.seed)
            x = to_unit(paired.extra[INPUTS].clone())
        else:
            x = load_images(paths, size, cin)
    if x.shape[1] != cin:
        raise GenzooError(f"the inputs have {x.shape[1]} channels but the model takes {cin}; check --data/--task")
    options: dict[str, Any] = {"seed": seed, "batch_size": batch_size}
    if dropout:
        options["dropout"] = True
    if len(directions) > 1:  # single-direction models need not take the argument (TranslatesImages)
        options["direction"] = direction
    y_raw = model.translate(x, **options)
    y = y_raw
    if paired is not None and run_task and not raw:  # the task's extras (e.g. the hole mask) are known
        y = finish(y_raw, {**paired.extra, INPUTS: x}, run_task)

    wrote = []
    if out_dir:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for img, name in zip(y, names):
            save_image(img, d / f"{name}.png")
        wrote.append(f"{len(y)} images in {d}/")
    if grid:
        cols = [x, y] + ([targets] if targets is not None else [])
        imgs, nrow = comparison_rows(cols)
        save_grid(imgs, grid, nrow=nrow)
        wrote.append(f"grid {grid} ({' | '.join(['input', 'output', 'target'][: len(cols)])})")
    if metrics or metrics_json:
        if targets is None:
            raise GenzooError("--metrics needs targets: use --data DATASET or --from-targets")
        p, s = psnr_ssim(y, targets)
        result: dict[str, Any] = {"run": str(run), "data": data or "files", "split": split if data else None,
                                  "task": run_task or None, "num_images": len(y), "model": {"psnr": p, "ssim": s}}
        rows = [("model", p, s)]
        if y is not y_raw:
            rp, rs = psnr_ssim(y_raw, targets)
            result["model_raw"] = {"psnr": rp, "ssim": rs}
            rows = [(f"model ({parse_task(run_task)[0].finish_name})", p, s), ("model, raw output", rp, rs)]
        if run_task and paired is not None:
            base = baseline(paired, run_task)
            if base is not None:
                bp, bs = psnr_ssim(to_unit(base[0]), targets)
                result["baseline"] = {"name": base[1], "psnr": bp, "ssim": bs}
                rows.append((f"baseline: {base[1]}", bp, bs))
        for label, a, b in rows:
            click.echo(f"{label:<50} PSNR {a:6.2f} dB   SSIM {b:.4f}")  # the result: stdout
        if metrics_json:
            write_json(metrics_json, result)
            wrote.append(str(metrics_json))
    if wrote:
        console.print(f"translated {len(y)} inputs -> " + esc(", ".join(wrote)), highlight=False)
