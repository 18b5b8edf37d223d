"""How well a class-to-class CycleGAN translates, as a classifier sees it.

For a model trained with ``task=classes:A,B`` on a dataset genzoo ships a classifier for
(digits, fashion-mnist), on held-out images of class A (and of B, the other way round):

* target share: the share of translations G_AB(a) the classifier puts in class B;
* cycle-return share: the share of reconstructions G_BA(G_AB(a)) it puts back in class A.

The classifier chooses among all the dataset's classes (10), not only A and B. Two
baselines frame the numbers: the **identity** (the input unchanged: its target share is the
classifier's confusion of A with B, its cycle-return share the classifier's accuracy on A,
an upper bound for the cycle) and the **untrained** model (same config and seed, initial
weights).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.plugin import GenzooError, get_extractor, load_dataset, to_unit

from genzoo_cyclegan.data import parse_classes, parse_task


def _predict(extractor: Any, images: Tensor, batch_size: int) -> Tensor:
    logits = extractor.extract(images, batch_size=batch_size)[1]
    return logits.argmax(1)


def class_shares(model: Any, *, data: str | None = None, split: str = "test", n: int = 1000,
                 data_dir: str | None = None, baselines: bool = True, batch_size: int = 250) -> dict[str, Any]:
    """Target-class and cycle-return shares of a ``classes:A,B`` CycleGAN, both directions.

    Args:
        model: a trained CycleGAN (``task`` classes:A,B in its config).
        data: the labelled dataset (default: the run's); the classifier is genzoo's for it.
        split: which split's images of classes A and B to translate (test: held out).
        n: at most this many images per class.
        baselines: also score the identity and the untrained model.

    Returns:
        ``{"data", "split", "classes": [A, B], "names": [..], "num_images": {"A": nA, "B": nB},
        "AtoB": {"model": {"target": s, "cycle": s}, "identity": {...}, "untrained": {...}},
        "BtoA": {...}, "classifier": {...}}``, shares in [0, 1].
    """
    cfg = model.config
    name, arg = parse_task(cfg.task) if cfg.task else ("", None)
    if name != "classes":
        raise GenzooError(
            f"class shares need a model trained on two classes (--task classes:A,B); this one was trained on "
            f"'{cfg.data}'{' with task ' + cfg.task if cfg.task else ''}"
        )
    data = data or cfg.data
    if n < 1:
        raise GenzooError(f"n must be at least 1, got {n}")
    ds = load_dataset(data, split=split, image_size=cfg.image_size, channels=cfg.channels, data_dir=data_dir)
    a, b = parse_classes(arg, ds)
    if ":" in data:
        raise GenzooError(f"genzoo ships classifiers for digits and fashion-mnist only, not '{data}'")
    extractor = get_extractor(data)  # raises a clear error when genzoo ships none for this data
    assert ds.labels is not None
    x = {c: to_unit(ds.images[ds.labels == c][:n].clone()) for c in (a, b)}

    def score(translate: Any) -> dict[str, dict[str, float]]:
        out = {}
        for direction, src, dst in (("AtoB", a, b), ("BtoA", b, a)):
            y = translate(x[src], direction)
            back = translate(y, "BtoA" if direction == "AtoB" else "AtoB")
            out[direction] = {"target": float((_predict(extractor, y, batch_size) == dst).float().mean()),
                              "cycle": float((_predict(extractor, back, batch_size) == src).float().mean())}
        return out

    result: dict[str, Any] = {
        "data": data, "split": split, "classes": [a, b], "names": [ds.class_names[a], ds.class_names[b]],
        "num_images": {"A": len(x[a]), "B": len(x[b])},
        "classifier": {"name": extractor.short, "test_accuracy": extractor.info.get("test_accuracy")},
    }
    rows = {"model": score(lambda t, d: model.translate(t, direction=d))}
    if baselines:
        rows["identity"] = score(lambda t, d: t)
        with torch.random.fork_rng(devices=[]):  # the same initial weights as the run had, RNG left as it was
            torch.manual_seed(cfg.seed)
            fresh = type(model)(cfg)
        rows["untrained"] = score(lambda t, d: fresh.translate(t, direction=d))
    for direction in ("AtoB", "BtoA"):
        result[direction] = {k: v[direction] for k, v in rows.items()}
    return result


def format_shares(r: dict[str, Any]) -> list[str]:
    """The result of :func:`class_shares` as table lines."""
    a, b = r["names"]
    lines = [f"{r['data']} {r['split']}: {r['num_images']['A']} x class {r['classes'][0]} ({a}), "
             f"{r['num_images']['B']} x class {r['classes'][1]} ({b}); {r['classifier']['name']}",
             f"{'':<11}{'':<10}{'target share':>14}{'cycle-return share':>20}"]
    for direction, (src, dst) in (("AtoB", (a, b)), ("BtoA", (b, a))):
        for k, v in r[direction].items():
            lines.append(f"{direction + ':':<11}{k:<10}{v['target']:>14.3f}{v['cycle']:>20.3f}")
        lines.append(f"{'':<11}({src} -> {dst} -> {src})")
    return lines


def card_entries(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The result of :func:`class_shares` as model-card evaluation entries (the model's shares,
    the baselines in each entry's protocol)."""
    a, b = r["names"]
    out = []
    for direction, (src, dst) in (("AtoB", (a, b)), ("BtoA", (b, a))):
        rows = r[direction]
        n = r["num_images"]["A" if direction == "AtoB" else "B"]
        for key, title in (("target", f"Target-class share {src} -> {dst}"), ("cycle", f"Cycle-return share {src} -> {dst} -> {src}")):
            base = ", ".join(f"{k} {v[key]:.3f}" for k, v in rows.items() if k != "model")
            out.append({"metric": f"{key}_share_{direction}", "value": rows["model"][key], "name": title,
                        "protocol": f"{n} {r['split']} images; {r['classifier']['name']}" + (f"; baselines: {base}" if base else ""),
                        "dataset": r["data"], "split": r["split"]})
    return out
