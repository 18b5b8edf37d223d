"""`genzoo train FAMILY`."""

from __future__ import annotations

import click

from genzoo.cli import invoked_args, set_pairs
from genzoo.cli.checks import COUNT, SEED, number
from genzoo.config import read_config_file
from genzoo.errors import GenzooError
from genzoo.registry import families


def _overrides(config_file: str | None, sets: tuple[str, ...], **options: object) -> dict[str, object]:
    """Config fields from --config, then --set, then the named options that were given."""
    overrides: dict[str, object] = dict(read_config_file(config_file)) if config_file else {}
    overrides.update(set_pairs(sets))
    overrides.update({k: v for k, v in options.items() if v is not None})
    return overrides


@click.command()
@click.argument("family")
@click.option("--data", help="Dataset: digits (default), fashion-mnist, folder:PATH, hf:USER/NAME ... (`genzoo list datasets`).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where to look for dataset files first.")
@click.option("--memory-limit", help="Largest float32 size of data held in memory, e.g. 8GB (default: half the RAM, "
              "or GENZOO_MEMORY_LIMIT); larger data is read lazily (--data-path).")
@click.option("--data-path", type=click.Choice(["auto", "memory", "cache", "stream"], case_sensitive=False), default="auto",
              show_default=True, help="How data is read: in memory, a uint8 disk cache (memory-mapped), or streamed from "
              "the source by worker processes; auto = in memory when it fits, else the cache.")
@click.option("--data-workers", type=int, callback=number(0), help="Worker processes decoding the streamed path "
              "(default: one per spare CPU, at most 4; 0 decodes in the training process).")
@click.option("--steps", type=int, callback=COUNT, help="Optimisation steps (default: the family's).")
@click.option("--epochs", type=float, callback=number(0, lo_open=True), help="Train for this many passes over the data instead of --steps.")
@click.option("--batch-size", type=int, callback=COUNT, help="Images per step.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/<family>-<data>[-N]).")
@click.option("--max-time", help="Wall-clock budget, e.g. 90s, 10m, 1h: stop cleanly, checkpoint and samples written.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a config field (repeatable), e.g. --set lr=1e-4.")
@click.option("--config", "config_file", type=click.Path(), help="JSON or YAML file of config fields.")
@click.option("--resume", is_flag=True, help="Continue the run in --out (or the latest matching run) from its last checkpoint.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N] | mps.")
@click.option("--seed", type=int, callback=SEED, help="Random seed (default 0): same seed, same run.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True, help="Autocast precision.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks.")
@click.option("--channels-last", is_flag=True, help="Use channels-last memory format.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option("--nproc", type=int, callback=COUNT, help="Train in N processes on this machine (torchrun --standalone, DDP; "
              "--batch-size is per process). Under torchrun, leave it out.")
@click.option("--sync-bn", is_flag=True, help="Multi-process: BatchNorm statistics over all processes' batches (SyncBatchNorm).")
@click.option("--eval-every", type=int, callback=COUNT, help="Evaluate every N steps (log.jsonl; best value to the model card).")
@click.option("--eval-metrics", default="fid", show_default=True, help="Metrics for --eval-every (`genzoo list metrics`).")
@click.option("--eval-n", type=int, default=1000, show_default=True, callback=number(2), help="Generated images per --eval-every evaluation.")
@click.option("--task", help="Image-to-image families (e.g. pix2pix): build (input, target) pairs from the data: "
              "superres[:2|4], inpaint[:K], denoise[:S], deblur[:S], edges, colorize.")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), help="Image-to-image families with pairs: data: translate A to B (default) or B to A.")
def train(family: str, data: str | None, data_dir: str | None, steps: int | None, epochs: float | None,
          batch_size: int | None, out: str | None, max_time: str | None, sets: tuple[str, ...],
          config_file: str | None, resume: bool, device: str, seed: int | None, precision: str,
          compile_: bool, channels_last: bool, progress: bool | None, task: str | None = None,
          direction: str | None = None, eval_every: int | None = None, eval_metrics: str = "fid",
          eval_n: int = 1000, nproc: int | None = None, sync_bn: bool = False, memory_limit: str | None = None,
          data_path: str = "auto", data_workers: int | None = None) -> int | None:
    """Train FAMILY (e.g. dcgan) and write a run directory: config.json, model.safetensors,
    README.md, samples.png, log.jsonl and resumable checkpoints.

    `genzoo train classifier --data D` trains the small classifier whose features
    `genzoo eval` uses for D (see docs/evaluation.md)."""
    # here, not at the top: they import torch, and `genzoo train --help` should not wait for it
    from genzoo import distributed
    from genzoo.engine import Trainer, check_length, parse_duration

    budget = parse_duration(max_time)
    if memory_limit is not None:  # a bad size fails now, before any process starts or data loads
        from genzoo.data.pipeline import parse_bytes  # here: imports torch (keeps --help instant)

        parse_bytes(memory_limit)
    if family == "classifier":  # evaluation's feature extractor, not a generator: see genzoo.metrics.classifier
        from genzoo.metrics.classifier import train_from_cli  # only for this family: it loads the metrics

        return train_from_cli(data, steps, epochs, batch_size, out, seed, budget, data_dir, set_pairs(sets))
    fam = families.get(family)
    if (task or direction) and "task" not in fam.config_class.field_names():
        raise GenzooError(f"--task and --direction are for image-to-image families such as pix2pix; {fam.name} does not take them")
    overrides = _overrides(config_file, sets, data=data, steps=steps, batch_size=batch_size, seed=seed, task=task,
                           direction=direction)
    check_length(steps, epochs)
    fam.default_config().update(overrides, source="--set" if sets else "config")  # bad keys and types fail now, before any data is loaded
    if nproc is not None and nproc != 1:  # start the processes; each runs this command without --nproc
        code = distributed.launch(nproc, invoked_args())
        if code in distributed.STOPPED_CODES:  # stopped by SIGINT/SIGTERM: rank 0 said where it saved
            return code
        if code:
            raise GenzooError(f"multi-process training failed (exit code {code}); the failing rank's message is above")
        return None
    dinfo = distributed.init_from_env(device)  # under torchrun: join the process group
    callbacks = []
    if eval_every is not None:  # built before training so a bad metric name fails at once
        from genzoo.metrics import EvalDuringTraining  # only when asked: the metrics load scipy and more

        callbacks.append(EvalDuringTraining(eval_every, eval_metrics, n=eval_n))
    trainer = Trainer(
        fam, overrides=overrides, out=out, data_dir=data_dir, device=dinfo.device, resume=resume, max_time=budget,
        epochs=epochs, precision=precision, compile=compile_, channels_last=channels_last, progress=progress,
        callbacks=callbacks, rank=dinfo.rank, world_size=dinfo.world_size, sync_batchnorm=sync_bn,
        memory_limit=memory_limit, data_path=data_path.lower(), data_workers=data_workers,
    )
    # On an error, leave the process group alone: destroying it while peers wait in a collective
    # aborts this process before the error is printed; torchrun stops the other ranks.
    result = trainer.fit()  # ends by releasing its DDP wrappers
    distributed.barrier()  # every rank must be done with its collectives before the group goes
    distributed.shutdown()
    return distributed.stopped_exit_code(result.exit_code) or None  # 130 / 143: Ctrl-C / SIGTERM stopped it (saved)
