"""`genzoo bench [FAMILY...]`."""

from __future__ import annotations

import click

from genzoo.cli import set_pairs
from genzoo.cli.checks import COUNT, POSITIVE, SEED, number
from genzoo.console import console, esc, stdout_console
from genzoo.errors import GenzooError


def _steps_list(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GenzooError(f"--sample-steps takes comma-separated integers like 10,50; got '{text}'") from None
    if not vals or min(vals) < 1:
        raise GenzooError(f"--sample-steps needs positive step counts like 10,50; got '{text}'")
    return vals


@click.command()
@click.argument("families", nargs=-1)
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda[:N] | auto.")
@click.option("--batch-size", type=int, callback=COUNT, help="Images per training step (default: each family's).")
@click.option("--data", default="digits", show_default=True, help="Dataset to train on (held in memory).")
@click.option("--image-size", type=int, callback=COUNT, help="Image side in pixels (default: the family's for the data).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the full report as JSON here.")
@click.option("--train-seconds", type=float, default=10.0, show_default=True, callback=POSITIVE,
              help="Timed training per family and loop (engine and bare loop each).")
@click.option("--sample-n", type=int, callback=COUNT, help="Images per sampling call (default: the batch size).")
@click.option("--sample-steps", default="10,50", show_default=True, help="Step counts for samplers that take steps (DDIM).")
@click.option("--sample-seconds", type=float, default=3.0, show_default=True, callback=POSITIVE, help="Time per sampling configuration.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Autocast precision (both loops).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks (both loops).")
@click.option("--channels-last", is_flag=True, help="Channels-last memory format (both loops).")
@click.option("--chunk-seconds", type=float, default=0.5, show_default=True, callback=POSITIVE,
              help="Target length of one interleaved chunk of steps.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Config field for every family (repeatable).")
@click.option("--switches", help="Also compare speed switches, interleaved: comma-separated from "
              "fp32, bf16, fp16, channels-last, compile, compile+bf16 (speedups relative to the first).")
@click.option("--peak-tflops", type=float, callback=POSITIVE, help="The device's peak TFLOP/s, to report training as a fraction of it "
              "(known GPUs: looked up by name, bf16 dense).")
@click.option("--seed", type=int, default=0, show_default=True, callback=SEED)
@click.option("--data-loading", is_flag=True, help="Measure the data paths instead: images/s that memory, the disk cache "
              "and the streamed loader deliver at each of --sizes, next to FAMILY's training step (default dcgan).")
@click.option("--sizes", default="28,64,128", show_default=True, help="--data-loading: image sides to measure.")
@click.option("--data-paths", default="memory,cache,stream", show_default=True, help="--data-loading: the paths to measure.")
@click.option("--data-seconds", type=float, default=3.0, show_default=True, callback=POSITIVE,
              help="--data-loading: timed reading per path and size.")
@click.option("--data-workers", type=int, callback=number(0), help="--data-loading: streamed path's worker processes.")
@click.option("--memory-limit", help="--data-loading: the memory budget (the memory path is skipped above it).")
def bench(families: tuple[str, ...], device: str, batch_size: int | None, data: str, image_size: int | None,
          json_path: str | None, train_seconds: float, sample_n: int | None, sample_steps: str,
          sample_seconds: float, precision: str, compile_: bool, channels_last: bool, chunk_seconds: float,
          sets: tuple[str, ...], switches: str | None, peak_tflops: float | None, seed: int,
          data_loading: bool = False, sizes: str = "28,64,128", data_paths: str = "memory,cache,stream",
          data_seconds: float = 3.0, data_workers: int | None = None, memory_limit: str | None = None) -> None:
    """Measure training and sampling speed, peak memory and parameters of FAMILIES
    (default: dcgan and diffusion when installed), and the engine's overhead against a
    bare hand-written loop on the same networks (genzoo/bare; 1.0 = no overhead)."""
    # here, not at the top: it imports torch and the engine, and `genzoo bench --help` should not wait for them
    from genzoo.bench import BenchSettings, check_switches, run_bench, table, write_report

    if batch_size is not None and batch_size < 1:
        raise GenzooError(f"--batch-size must be at least 1, got {batch_size}")
    if data_loading:
        return _data_loading(families, data, device, batch_size, json_path, seed, sizes, data_paths, data_seconds,
                             data_workers, memory_limit)
    if train_seconds <= 0 or sample_seconds <= 0 or chunk_seconds <= 0:
        raise GenzooError("--train-seconds, --sample-seconds and --chunk-seconds must be positive")
    settings = BenchSettings(
        device=device, batch_size=batch_size, data=data, image_size=image_size, train_seconds=train_seconds,
        sample_n=sample_n, sample_steps=_steps_list(sample_steps), sample_seconds=sample_seconds,
        precision=precision, compile=compile_, channels_last=channels_last, seed=seed,
        chunk_seconds=chunk_seconds, overrides=set_pairs(sets),
        switches=tuple(x.strip() for x in switches.split(",") if x.strip()) if switches else (),
        peak_tflops=peak_tflops,
    )
    if settings.switches:  # before any family has run for minutes
        check_switches(settings.switches)

    def progress(r: object) -> None:
        tr = r.train  # type: ignore[attr-defined]
        console.print(f"[cyan]{esc(r.family)}[/]: genzoo {tr['genzoo_images_per_s']:.0f} img/s, "  # type: ignore[attr-defined]
                      f"bare {tr['bare_images_per_s']:.0f} img/s, ratio {tr['ratio']:.3f}")

    report = run_bench(list(families) or None, settings, on_result=progress)
    out = stdout_console()  # stdout: the table is the command's output
    out.print(table(report))
    if json_path:
        p = write_report(report, json_path)
        console.print(f"wrote {esc(p)}")


def _data_loading(fams: tuple[str, ...], data: str, device: str, batch_size: int | None, json_path: str | None,
                  seed: int, sizes: str, data_paths: str, seconds: float, workers: int | None,
                  memory_limit: str | None) -> None:
    """`genzoo bench --data-loading`: see genzoo.databench."""
    from genzoo.data.pipeline import parse_bytes  # here: these import torch (keeps --help instant)
    from genzoo.bench import write_report  # (all of these, likewise)
    from genzoo.databench import DataBenchSettings, data_table, parse_paths, parse_sizes, run_data_bench  # likewise

    if len(fams) > 1:
        raise GenzooError("--data-loading times one family's training step; give one FAMILY (default dcgan)")
    if memory_limit is not None:
        parse_bytes(memory_limit)
    settings = DataBenchSettings(data=data, sizes=parse_sizes(sizes), paths=parse_paths(data_paths),
                                 family=fams[0] if fams else "dcgan", batch_size=batch_size or 64, seconds=seconds,
                                 workers=workers, memory_limit=memory_limit, device=device, seed=seed)

    def progress(row: dict) -> None:
        parts = [f"{p} {r['images_per_s']:.0f}" for p, r in row["paths"].items() if "images_per_s" in r]
        step = row.get("train_step")
        console.print(f"[cyan]{row['image_size']}px[/]: " + ", ".join(parts) + " img/s"
                      + (f"; {esc(step['family'])} step {step['images_per_s']:.0f} img/s" if step else ""))

    report = run_data_bench(settings, on_size=progress)
    stdout_console().print(data_table(report))
    if json_path:
        p = write_report(report, json_path)
        console.print(f"wrote {esc(p)}")
