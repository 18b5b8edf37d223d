"""`genzoo zoo list | run | push | table`: the families' reference recipes and their results."""

from __future__ import annotations

from pathlib import Path

import click

from genzoo.console import console, esc, stdout_console
from genzoo.errors import GenzooError


@click.group("zoo")
def zoo() -> None:
    """Reference recipes of every family: list them with their last results, run one
    (train + evaluate + model card), publish a run, and regenerate docs/zoo.md.

    \b
    Examples:
      genzoo zoo list fashion-mnist
      genzoo zoo run dcgan/digits-10min-cpu --budget 60s --out runs/try
      genzoo zoo push runs/try --to my-org
      genzoo zoo table
    """


_RESULTS_HELP = "Folder of stored results (default: $GENZOO_ZOO_RESULTS or docs/zoo/results of the checkout)."


@zoo.command("list")
@click.argument("pattern", required=False)
@click.option("--results", type=click.Path(file_okay=False), help=_RESULTS_HELP)
def list_cmd(pattern: str | None, results: str | None) -> None:
    """Recipes whose name contains PATTERN (or matches it as a glob, e.g. '*-cpu'), with
    their budget, hardware, last stored result and purpose."""
    from rich.table import Table  # here: rich tables are slow to import

    from genzoo.zoo import describe, load_results, matching  # here: loads every family (torch)

    entries = matching(pattern)
    if not entries:
        raise GenzooError(f"no recipe matches '{pattern}'; `genzoo zoo list` shows them all")
    stored = load_results(results)
    table = Table(title="reference recipes", show_edge=False)
    for col in ("recipe", "budget", "hardware", "last result", "purpose"):
        table.add_column(col, overflow="fold", no_wrap=col == "recipe")
    for e in entries:
        row = describe(e, stored.get(e.name))
        table.add_row(*(esc(row[c]) for c in ("recipe", "budget", "hardware", "last result", "purpose")))
    stdout_console().print(table)


@zoo.command("run")
@click.argument("name")
@click.option("--budget", help="Replace the recipe's budget: a time (60s, 10m) or steps (500steps). "
              "Results of a shortened budget say so.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/zoo/<family>-<recipe>).")
@click.option("--eval-n", type=int, help="Generated images to evaluate (default: the recipe's).")
@click.option("--device", default="auto", show_default=True, help="Training device: auto | cpu | cuda[:N].")
@click.option("--eval-device", help="Device for sampling and features in the evaluation (default: cpu; cuda for a GPU recipe).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--record", is_flag=True, help="Also store the result in the results folder (docs/zoo/results); "
              "refused for a shortened --budget.")
@click.option("--results", type=click.Path(file_okay=False), help=_RESULTS_HELP)
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
def run_cmd(name: str, budget: str | None, out: str | None, eval_n: int | None, device: str, eval_device: str | None,
            data_dir: str | None, record: bool, results: str | None, progress: bool | None) -> None:
    """Train the recipe NAME (e.g. dcgan/fashion-mnist-10min-cpu), evaluate it (FID, KID,
    precision, recall, coverage, and the family's own metric) and write RUN/zoo-result.json
    and the model card with the evaluation."""
    from genzoo.io import write_json  # here: imports torch
    from genzoo.recipes import parse_budget  # here: imports torch
    from genzoo.zoo import (  # here: torch
        default_results_dir, default_run_dir, get_recipe, is_recipe_budget, result_path, run_recipe,
    )

    if budget is not None:
        parse_budget(budget)  # a bad budget fails before any family is loaded
    if record and budget is not None and not is_recipe_budget(budget, get_recipe(name).recipe):
        raise GenzooError("--record stores only full-budget results; drop --budget (or --record)")
    res = run_recipe(name, budget=budget, out=out, device=device, eval_n=eval_n, eval_device=eval_device,
                     progress=progress, data_dir=data_dir)
    m = res["metrics"]
    own = res["own_metric"]
    line = ", ".join(f"{k} {m[k]:.4g}" for k in ("fid", "kid", "precision", "recall", "coverage") if m.get(k) is not None)
    if own:
        line += f"; {own['name']} {own['value']:.4g}"
    out_ = stdout_console()  # the results are the command's output
    out_.print(f"[bold]{esc(res['recipe'])}[/]: {esc(line)}")
    out_.print(f"{res['steps']} steps, {res['images_seen']} images, {res['wall_time_s']:.0f} s training on "
                  f"{esc(res['hardware'])}")
    run_dir = Path(out) if out else default_run_dir(get_recipe(name))
    out_.print(f"wrote {esc(run_dir / 'zoo-result.json')} and the model card {esc(run_dir / 'README.md')}")
    if record:
        dest = result_path(results or default_results_dir(), res["recipe"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_json(dest, res)
        console.print(f"recorded {esc(dest)}; regenerate the table with `genzoo zoo table`")


@zoo.command("push")
@click.argument("name_or_run", metavar="NAME-or-RUN")
@click.option("--to", "org", required=True, metavar="ORG", help="User or organisation; the repo is ORG/<family>-<recipe>.")
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--revision", metavar="BRANCH", help="Push to this branch.")
def push_cmd(name_or_run: str, org: str, private: bool, revision: str | None) -> None:
    """Publish an evaluated zoo run (a run directory, or a recipe name for its default
    runs/zoo/ directory) to the Hugging Face Hub as ORG/<family>-<recipe>."""
    from genzoo.zoo import push_run  # here: loads the families and the Hub client

    result = push_run(name_or_run, org, private=private, revision=revision)
    console.print(f"pushed {esc(name_or_run)} -> [bold]{esc(result.repo_id)}[/], commit {result.commit[:8]}")
    click.echo(result.url)


@zoo.command("table")
@click.option("--results", type=click.Path(file_okay=False), help=_RESULTS_HELP)
@click.option("--out", type=click.Path(dir_okay=False), help="Markdown file to write (default: docs/zoo.md of the checkout).")
@click.option("--check", is_flag=True, help="Write nothing; fail if the file differs from what the results give.")
def table_cmd(results: str | None, out: str | None, check: bool) -> None:
    """Regenerate docs/zoo.md from the stored results: per dataset, every recipe with FID, KID,
    precision, recall, coverage, its own metric, images evaluated, steps, images seen, wall time,
    hardware and command; a recipe without a result is shown as "not measured"."""
    from genzoo.zoo import default_results_dir, load_results, matching, render_table, write_table  # here: torch

    rdir = Path(results) if results else default_results_dir()
    target = Path(out) if out else default_results_dir().parent.parent / "zoo.md"
    if check:
        want = render_table(matching(None), load_results(rdir))
        have = target.read_text() if target.is_file() else ""
        if have != want:
            raise GenzooError(f"{target} is out of date with {rdir}; run `genzoo zoo table` to regenerate it")
        stdout_console().print(f"{esc(target)} is up to date")
        return
    text = write_table(target, results_dir=rdir)
    rows = sum(1 for line in text.splitlines() if line.startswith("| `"))
    measured = len(load_results(rdir))
    stdout_console().print(f"wrote {esc(target)}: {rows} recipes, {measured} measured")
