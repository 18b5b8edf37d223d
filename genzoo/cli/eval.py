"""`genzoo eval SOURCE`: score generated images against a dataset."""

from __future__ import annotations

import math
from pathlib import Path

import click
from rich.table import Table

from genzoo.cli.checks import COUNT, SEED, number
from genzoo.console import console, esc
from genzoo.errors import GenzooError


@click.command("eval")
@click.argument("source")
@click.option("--data", help="Dataset to compare with (default: the one the model was trained on).")
@click.option("--metrics", "metrics", default="all", show_default=True,
              help="Comma-separated: fid, kid, is, prdc, memorisation, birthday, or all (`genzoo list metrics`).")
@click.option("-n", "--num-samples", "n", type=int, default=10000, show_default=True, callback=number(2), help="Generated images to score.")
@click.option("--n-ref", type=int, callback=number(2), help="Real reference images (default: as many as generated).")
@click.option("--extractor", help="Feature space: fashion-mnist, digits, inception-v3[:FILE], timm:NAME[:random], "
              "classifier:PATH (default: genzoo's classifier for the data if it has one, else inception-v3).")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True, help="Real split to compare with.")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED, help="Sampling seed (same seed, same numbers).")
@click.option("--sampler", help="Sampler a model's images are drawn with (`genzoo list samplers`; default: the model's).")
@click.option("--batch-size", type=int, default=250, show_default=True, callback=COUNT, help="Images per feature-extraction batch.")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda[:N] | mps | auto.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the full report as JSON here.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for inspection grids (memorisation.png, birthday.png); default RUN/eval for a run directory.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--no-cache", is_flag=True, help="Recompute the real data's reference features instead of using the cache.")
@click.option("--to-card", is_flag=True, help="Write the results into the run directory's config.json and model card.")
def eval_cmd(source: str, data: str | None, metrics: str, n: int, n_ref: int | None, extractor: str | None,
             split: str, seed: int, sampler: str | None, batch_size: int, device: str, json_out: str | None,
             out_dir: str | None, data_dir: str | None, no_cache: bool, to_card: bool) -> None:
    """Score SOURCE (a run directory, a Hub repo id, or a folder of images) with FID, KID, IS,
    precision/recall, density/coverage, memorisation and the birthday test.

    \b
    Examples:
      genzoo eval runs/dcgan-fashion-mnist -n 5000
      genzoo eval runs/dcgan-fashion-mnist --metrics fid,kid,prdc --json scores.json
      genzoo eval runs/vae-digits --metrics fid --sampler normal
      genzoo eval my_samples/ --data fashion-mnist --extractor inception-v3
    """
    # here, not at the top: they import torch, and `genzoo eval --help` should not wait for it
    from genzoo.cards import write_card
    from genzoo.family import CONFIG_NAME
    from genzoo.hub import load_from_dir
    from genzoo.io import write_json
    from genzoo.metrics import evaluate

    run_dir = Path(source).expanduser()
    is_run = (run_dir / "config.json").is_file()
    if to_card and not is_run:
        raise GenzooError("--to-card needs a run directory (a folder with config.json) as SOURCE")
    if out_dir is None and is_run:
        out_dir = str(run_dir / "eval")
    report = evaluate(source, data=data, metrics=metrics, n=n, n_ref=n_ref, extractor=extractor, split=split,
                      seed=seed, batch_size=batch_size, device=device, out_dir=out_dir, data_dir=data_dir,
                      use_cache=not no_cache, sampler=sampler)
    # The table is the command's output (stdout); piped, it is 120 wide so metric names stay whole.
    out = console.__class__(highlight=False, width=None if console.__class__().is_terminal else 120)
    print_report(report, out)
    if json_out:
        write_json(json_out, report.to_dict())
        out.print(f"wrote {esc(json_out)}")
    if to_card:
        model = load_from_dir(run_dir)
        model.meta["evaluation"] = report.card_entries()
        write_json(run_dir / CONFIG_NAME, model.config_dict())
        write_card(model, run_dir)
        out.print(f"wrote the results into {esc(run_dir / CONFIG_NAME)} and {esc(run_dir / 'README.md')}")


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:.4f}"


def print_report(report, out) -> None:  # type: ignore[no-untyped-def]
    i = report.info
    ex = i["extractor"]
    acc = ex.get("test_accuracy")
    acc_s = f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
    out.print(
        f"[bold]genzoo eval[/] {esc(i['source'])}: {i['num_images']} generated vs {i['num_reference']} real "
        f"{esc(i['data'])} {esc(i['split'])} images at {i['image_size']}x{i['image_size']}; features: {esc(ex['label'])}{acc_s}"
        + (f"; sampler: {esc(i['sampler'])}" if i.get("sampler") else "")
        + (" (reference from cache)" if i.get("reference_cached") else "")
    )
    table = Table(show_edge=False)
    table.add_column("metric", style="cyan", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("± std", justify="right")
    table.add_column("held-out real", justify="right")
    table.add_column("better", justify="center")
    for r in report.results:
        table.add_row(r.name, _fmt(r.value), _fmt(r.std), _fmt(r.baseline), "higher" if r.higher_is_better else "lower")
    out.print(table)
    files = sorted({f for r in report.results for f in r.files})
    if files:
        out.print("inspect: " + esc(", ".join(files)))
    for r in report.results:
        if r.note:
            out.print(f"[yellow]note:[/] {esc(r.note)}")
    for note in report.notes:
        out.print(f"[yellow]skipped[/] {esc(note)}")
    out.print(f"[dim]{i['wall_time_s']:.1f}s; protocols: --json FILE has each metric's protocol[/]")
