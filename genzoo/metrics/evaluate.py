"""`genzoo.evaluate(...)`: generated images (from a model, a tensor, a run, a Hub repo or a folder)
against a dataset, with the chosen metrics; and the callback behind `genzoo train --eval-every`."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.console import console
from genzoo.data import IMAGE_SUFFIXES, read_image_folder
from genzoo.engine.context import TrainingContext
from genzoo.engine.devices import resolve_device
from genzoo.errors import GenzooError
from genzoo.family import GenerativeModel
from genzoo.hub import load
from genzoo.metrics.core import EvalContext, EvalReport, MetricUnavailable, Result, check_images
from genzoo.metrics.extractors import default_extractor, get_extractor
from genzoo.registry import metrics as registry

ALL = ("fid", "kid", "is", "prdc", "memorisation", "birthday")


def metric_names(metrics: str | Sequence[str] | None) -> list[str]:
    """'fid,kid' / ['fid', 'kid'] / 'all' / None (all) -> validated names, in order, no repeats."""
    if metrics is None:
        items: list[str] = ["all"]
    elif isinstance(metrics, str):
        items = [m.strip() for m in metrics.split(",") if m.strip()]
    else:
        items = [str(m).strip() for m in metrics]
    if not items:
        raise GenzooError(f"no metrics given; choose from {', '.join(registry.names())} or 'all'")
    out: list[str] = []
    for m in items:
        names = [n for n in ALL if n in registry] + [n for n in registry.names() if n not in ALL] if m == "all" else [m.lower()]
        if m == "all":  # metrics too costly to run unasked (e.g. cas trains classifiers) run only when named
            names = [n for n in names if getattr(registry.get(n), "in_all", True)]
        for n in names:
            registry.get(n)  # unknown names fail here, with suggestions
            if n not in out:
                out.append(n)
    return out


def _is_image_folder(p: Path) -> bool:
    return p.is_dir() and not (p / "config.json").is_file() and any(
        f.suffix.lower() in IMAGE_SUFFIXES for f in p.rglob("*") if f.is_file()
    )


def resolve_source(source: Any, *, n: int, seed: int, batch_size: int = 256, device: str | None = None,
                   sampler: str | None = None) -> tuple[Tensor, dict[str, Any], str | None]:
    """A model, a tensor, or a path/repo -> (images (N, C, H, W) in [0, 1], facts, data name or None)."""
    if sampler is not None and not isinstance(source, GenerativeModel) and (
            isinstance(source, Tensor) or _is_image_folder(Path(str(source)).expanduser())):
        raise GenzooError(f"sampler '{sampler}' needs a model to sample; these are ready-made images")
    if isinstance(source, Tensor):
        x = check_images(source)
        return x[:n], {"source": "tensor", "num_images": min(n, len(x))}, None
    if isinstance(source, GenerativeModel):
        model, where = source, type(source).__name__
    elif isinstance(source, (str, Path)):
        p = Path(str(source)).expanduser()
        if _is_image_folder(p):
            raw = read_image_folder(p, max_size=4096)
            x = raw.images.float() / 255.0
            if len(x) < n:
                pass  # use what there is; the report says how many
            facts = {"source": str(p), "num_images": min(n, len(x))}
            if raw.labels is not None:  # class subfolders, in sorted order: labels for metrics that use them (cas)
                facts["labels"] = raw.labels[:n]
            return x[:n], facts, None
        model, where = load(str(source), device=device), str(source)
    else:
        raise GenzooError(f"cannot evaluate a {type(source).__name__}; pass a model, images (N, C, H, W) in [0, 1], "
                          "a run directory, a Hub repo id or a folder of images")
    if device is not None:
        model = model.to(resolve_device(device))
    labels = None
    if getattr(model, "is_conditional", False):  # its labels too, for metrics that use them (cas)
        images, labels = model.sample(n, seed=seed, batch_size=batch_size, sampler=sampler, return_labels=True)
    else:
        images = model.sample(n, seed=seed, batch_size=batch_size, sampler=sampler)
    data = (model.meta.get("data") or {}).get("name") or getattr(model.config, "data", None)
    facts = {"source": where, "family": model.family_name, "num_images": n, "sample_seed": seed,
             "sampler": sampler or getattr(model, "default_sampler", None),
             "trained_steps": (model.meta.get("training") or {}).get("steps")}
    if labels is not None:  # a conditional model's classes cycle 0..K-1
        facts["labels"] = labels.cpu()
    return images, facts, data


def evaluate(
    source: Any,
    *,
    data: str | None = None,
    metrics: str | Sequence[str] | None = None,
    n: int = 10000,
    n_ref: int | None = None,
    extractor: str | None = None,
    split: str = "train",
    seed: int = 0,
    batch_size: int = 250,
    device: str | None = None,
    out_dir: str | Path | None = None,
    data_dir: str | None = None,
    use_cache: bool = True,
    sampler: str | None = None,
    labels: Tensor | None = None,
) -> EvalReport:
    """Evaluate generated images against real ones.

    Args:
        source: a model (``n`` images are sampled with ``seed``), images (N, C, H, W) in [0, 1],
            a run directory, a Hub repo id, or a folder of images.
        data: the dataset to compare with (default: the one the model was trained on).
        metrics: names or 'all' (default all): fid, kid, is, prdc, memorisation, birthday.
        n: generated images (a tensor or folder gives at most what it holds).
        n_ref: real reference images (default: as many as generated), a seeded subset of ``split``.
        extractor: feature extractor spec (default: genzoo's classifier for digits and
            fashion-mnist, else inception-v3); see :mod:`genzoo.metrics.extractors`.
        out_dir: where grids for inspection are written (memorisation.png, birthday.png); None: none.
        labels: the classes of images given as a tensor, int64 (N,), for metrics that use them (cas);
            a conditional model's and a class-subfolder folder's come with them.

    Returns:
        an :class:`EvalReport`; ``report["fid"]`` is a value, ``report.results`` the details.
    """
    t0 = time.perf_counter()
    if n < 2:
        raise GenzooError(f"evaluation needs at least 2 generated images, got n={n}")
    names = metric_names(metrics)
    images, facts, model_data = resolve_source(source, n=n, seed=seed, device=device, sampler=sampler)
    found = facts.pop("labels", None)  # a tensor: kept out of the report's facts (JSON)
    labels = found if labels is None else torch.as_tensor(labels, dtype=torch.long).flatten()[: len(images)]
    data = data or model_data
    if not data:
        raise GenzooError("which data should these images be compared with? pass data= (--data), e.g. fashion-mnist")
    if len(images) < 2:
        raise GenzooError(f"evaluation needs at least 2 generated images, got {len(images)}")
    spec = extractor or default_extractor(data)
    ctx = EvalContext(images=images, data=data, extractor=None, n_ref=n_ref or len(images),  # type: ignore[arg-type]
                      split=split, seed=seed, batch_size=batch_size, data_dir=data_dir,
                      out_dir=Path(out_dir) if out_dir else None, use_cache=use_cache, labels=labels)
    _check_data(ctx)  # the real data first: a bad --data fails before a feature extractor is fetched
    ctx.extractor = get_extractor(spec, device=_device(device))
    ex = ctx.extractor
    results: list[Result] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    for name in names:
        t = time.perf_counter()
        try:
            results.extend(registry.get(name).compute(ctx))
        except MetricUnavailable as e:
            notes.append(f"{name}: {e}")
        timings[name] = round(time.perf_counter() - t, 3)
    ref = ctx._memo.get("reference")
    info = {
        **facts, "data": data, "split": split, "num_images": ctx.num_images,
        "num_reference": len(ref) if ref is not None else ctx.n_ref_actual,
        "reference_cached": bool(ref.cached) if ref is not None else None,
        "reference_file": str(ref.path) if ref is not None and ref.path else None,
        "image_size": ctx.image_size, "channels": ctx.channels,
        "extractor": {"spec": ex.spec, "label": ex.label, **ex.info}, "seed": seed,
        "metric_seconds": timings, "wall_time_s": round(time.perf_counter() - t0, 2),
    }
    return EvalReport(results, info, notes)


def _device(device: str | None) -> str | None:
    if device is None:
        return None
    return str(resolve_device(device))


def _check_data(ctx: EvalContext) -> None:
    c = ctx.split_data(ctx.split).channels
    if c != ctx.channels:
        kind = {1: "grayscale", 3: "RGB"}
        raise GenzooError(
            f"the generated images are {kind.get(ctx.channels, ctx.channels)} but '{ctx.data}' is "
            f"{kind.get(c, c)}; compare with data of the same kind"
        )


# ------------------------------------------------------------------------------------------
# evaluation during training
# ------------------------------------------------------------------------------------------
class EvalDuringTraining:
    """Trainer callback (``Trainer(callbacks=[...])``, called at every log line): every
    ``every`` steps, evaluate the sampling weights (EMA if any).

    Logs a line ``{"step": s, "eval": {...}}`` to the run's log.jsonl and keeps the best
    value of each metric in ``model.meta['evaluation']`` (so it reaches config.json and the
    model card, with the step it came from).
    """

    def __init__(self, every: int, metrics: str | Sequence[str] = "fid", n: int = 1000,
                 extractor: str | None = None, data: str | None = None):
        if every < 1:
            raise GenzooError(f"--eval-every must be at least 1, got {every}")
        self.every, self.n, self.extractor, self.data = every, n, extractor, data
        self.metrics = metric_names(metrics)
        self.last = 0
        self.best: dict[str, tuple[Result, int, dict[str, Any]]] = {}
        self.history: list[dict[str, Any]] = []

    def __call__(self, ctx: TrainingContext, logs: dict[str, float]) -> None:
        step, total = ctx.step, ctx.config.steps
        final = total is not None and step >= total
        if step // self.every <= self.last // self.every and not final:
            return
        if step == self.last:
            return
        self.last = step
        if not ctx.is_main:
            return
        with ctx.inference_weights() as model:
            report = evaluate(model, data=self.data or ctx.config.data, metrics=self.metrics, n=self.n,
                              extractor=self.extractor, seed=ctx.config.seed, data_dir=ctx.data_dir,
                              device=str(ctx.device))
        values = {r.metric: round(r.value, 6) if math.isfinite(r.value) else str(r.value) for r in report.results}
        record = {"step": step, "time": round(ctx.wall_time(), 3), "eval": values,
                  "eval_seconds": report.info["wall_time_s"]}
        self.history.append(record)
        ctx.log(record)
        entries = {e["metric"]: e for e in report.card_entries()}
        for r in report.results:
            old = self.best.get(r.metric)
            if r.metric not in entries:  # not finite
                continue
            if old is None or (r.value > old[0].value if r.higher_is_better else r.value < old[0].value):
                self.best[r.metric] = (r, step, entries[r.metric])
        ctx.model.meta["evaluation"] = [self._entry(r, s, e, step) for r, s, e in self.best.values()]
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        console.print(f"[dim]eval[/] step {step}: {shown} ({report.info['wall_time_s']:.1f}s)", highlight=False)

    def _entry(self, r: Result, best_step: int, entry: dict[str, Any], now: int) -> dict[str, Any]:
        e = dict(entry)
        e["name"] = f"{r.name}, best during training (step {best_step})"
        e["protocol"] = (f"{r.protocol}; evaluated every {self.every} steps on the sampling (EMA) weights, "
                         f"best at step {best_step}, last evaluation at step {now}")
        e["step"] = best_step
        return e
