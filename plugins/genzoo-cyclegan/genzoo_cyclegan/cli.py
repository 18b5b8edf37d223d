"""`genzoo cycle-shares RUN`: which share of a class-to-class CycleGAN's translations land in
the target class, and of its cycles back in the source class (genzoo's shipped classifier)."""

import json

import click


@click.command("cycle-shares")
@click.argument("run")
@click.option("-n", "--num", "n", default=1000, show_default=True, help="Held-out images per class.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test"]))
@click.option("--data", help="Labelled dataset (default: the run's).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--no-baselines", is_flag=True, help="Skip the identity and untrained-model rows.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the numbers to this JSON file.")
@click.option("--device", default="cpu", show_default=True, help="auto | cpu | cuda | mps.")
def cycle_shares(run: str, n: int, split: str, data: str | None, data_dir: str | None, no_baselines: bool,
                 json_path: str | None, device: str) -> None:
    """Translate held-out images of both classes of a `--task classes:A,B` CycleGAN in RUN and
    print the target-class and cycle-return shares, beside the identity and the untrained model."""
    # here, not at the top: they import torch, and `genzoo --help` must stay instant
    import genzoo
    from genzoo.plugin import GenzooError, TranslatesImages, require
    from genzoo_cyclegan.shares import class_shares, format_shares

    model = genzoo.load(run, device=device)
    require(model, TranslatesImages)
    if getattr(model, "family_name", "") != "cyclegan":
        raise GenzooError(f"'{run}' holds a {model.family_name} model; cycle-shares measures cyclegan runs")
    r = class_shares(model, data=data, split=split, n=n, data_dir=data_dir, baselines=not no_baselines)
    for line in format_shares(r):
        click.echo(line)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"run": str(run), **r}, f, indent=2)
