"""`genzoo augment RUN [RUN ...]`: does adding a conditional generator's samples help a classifier?"""

from __future__ import annotations

import click

from genzoo.cli.checks import COUNT, SEED
from genzoo.cli.sample import check_writable
from genzoo.console import console, esc
from genzoo.errors import GenzooError


@click.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("--data", help="Labelled dataset (default: the one the first run was trained on).")
@click.option("--real", type=int, default=1000, callback=COUNT, show_default=True, help="Real training images (class-balanced subset, drawn per seed).")
@click.option("--synthetic", type=int, default=10000, callback=COUNT, show_default=True,
              help="Synthetic images added from each run (classes in turn), drawn once with --seed.")
@click.option("--seeds", type=int, default=3, callback=COUNT, show_default=True, help="Classifier seeds (--seed, --seed + 1, ...): the spread.")
@click.option("--seed", type=int, default=0, callback=SEED, show_default=True, help="First seed; also the sampling seed.")
@click.option("--steps", type=int, callback=COUNT, help="Classifier steps, the same for every training set "
              "(default: two passes over real + synthetic, at least 500).")
@click.option("--batch-size", type=int, default=128, callback=COUNT, show_default=True, help="Classifier batch size.")
@click.option("--sampler", help="Sampler the synthetic images are drawn with (default: each model's).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--device", default="cpu", show_default=True, help="Device the runs sample on: cpu | cuda[:N] | mps | auto.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write every accuracy as JSON here.")
def augment(runs: tuple[str, ...], data: str | None, real: int, synthetic: int, seeds: int, seed: int,
            steps: int | None, batch_size: int, sampler: str | None, data_dir: str | None, device: str,
            json_out: str | None) -> None:
    """Train a classifier on a small real subset with and without each RUN's synthetic labelled
    images, and print the real test accuracy of both (mean ± std over seeds).

    Each RUN (a run directory or a Hub repo id) must be class-conditional (`genzoo list
    capabilities`: ConditionalOnLabels). The classifier is genzoo's evaluation CNN, trained fresh.

    \b
    Examples:
      genzoo augment runs/cgan-fashion-mnist --real 1000 --synthetic 10000
      genzoo augment runs/cgan-fm runs/cvae-fm --real 500 --seeds 5 --json augment.json
    """
    # here, not at the top: they import torch, and `genzoo augment --help` should not wait for it
    from genzoo.augment import augmentation_study
    from genzoo.hub import load
    from genzoo.io import write_json

    if json_out:
        try:
            check_writable(json_out)
        except GenzooError as e:  # the same checks as --out, named after this option
            raise GenzooError(str(e).replace("--out", "--json")) from None
    models = [load(r, device=device) for r in runs]
    report = augmentation_study(models, sources=list(runs), data=data, real=real, synthetic=synthetic, seeds=seeds,
                                seed=seed, steps=steps, batch_size=batch_size, data_dir=data_dir, sampler=sampler)
    print_report(report)
    if json_out:
        try:
            write_json(json_out, report.to_dict())
        except OSError as e:
            raise GenzooError(f"cannot write --json '{json_out}': {e.strerror or e}") from None
        console.print(f"wrote {esc(json_out)}")


def print_report(report) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table  # here: rich tables are slow to import, and only the result needs one

    r = report
    out = console.__class__(highlight=False, width=None if console.__class__().is_terminal else 120)
    out.print(f"[bold]genzoo augment[/] {esc(r.data)} at {r.image_size}x{r.image_size}: real test accuracy of a "
              f"fresh classifier ({r.steps} steps of {r.batch_size}) on {r.test_images} test images, "
              f"seeds {', '.join(map(str, r.seeds))}; synthetic images drawn with seed {r.sample_seed}")
    table = Table(show_edge=False)
    table.add_column("training set", style="cyan")
    for s in r.seeds:
        table.add_column(f"seed {s}", justify="right")
    table.add_column("mean ± std", justify="right")
    table.add_column("vs real only", justify="right")
    base = r.arms[0].mean
    for i, arm in enumerate(r.arms):
        delta = "" if i == 0 else f"{arm.mean - base:+.4f}"
        table.add_row(esc(arm.name), *(f"{a:.4f}" for a in arm.accuracies), f"{arm.mean:.4f} ± {arm.std:.4f}", delta)
    out.print(table)
    for arm, src in zip(r.arms[1:], r.sources):
        d, spread = arm.mean - base, max(arm.std, r.arms[0].std)
        verdict = ("helps" if d > 0 else "hurts") if abs(d) > spread else "makes no clear difference (within the spread)"
        out.print(f"{esc(src)}: adding its samples {verdict} ({d:+.4f} mean accuracy; spread ± {spread:.4f})")
