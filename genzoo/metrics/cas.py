"""Classification Accuracy Score (Ravuri and Vinyals 2019) and the classifier runs behind it.

CAS trains a fresh classifier on generated, labelled images only and tests it on the real test
split: a conditional generator whose images carry the right class, in all the class's variety,
scores close to a classifier trained on the same number of real images; one that draws only a
few modes per class, or images of the wrong class, scores lower. The classifier is the
architecture genzoo ships for its feature spaces (:class:`~genzoo.metrics.classifier.SmallClassifier`,
five convolutions, trained with the same recipe: AdamW, one-cycle learning rate, random shifts),
built fresh at the generated images' size. Beside the score stands the same classifier trained
on as many real training images with the same class counts (the ``baseline``): the ceiling a
generator is measured against.

    genzoo eval runs/cgan-fashion-mnist --metrics cas -n 10000
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genzoo.console import make_progress
from genzoo.errors import GenzooError
from genzoo.metrics.classifier import ARCH, ClassifierSpec, SmallClassifier, accuracy, fit_classifier, shipped
from genzoo.metrics.core import EvalContext, Metric, MetricUnavailable, Result
from genzoo.registry import register_metric


def default_steps(n: int, batch_size: int) -> int:
    """The shipped classifiers' schedule: two passes over the data, at least 500 steps."""
    return max(500, math.ceil(2 * n / batch_size))


def evaluation_spec(data: str, channels: int, image_size: int, num_classes: int) -> ClassifierSpec:
    """The shipped evaluation architecture for ``data`` (its widths, from the shipped weights'
    metadata where genzoo ships a classifier for it), at the given image size."""
    widths = ClassifierSpec().widths
    path = shipped(data)
    if path is not None:
        from safetensors import safe_open  # here: only the metadata of a shipped file is read, once per run

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if "widths" in meta:
            widths = tuple(int(v) for v in meta["widths"].split(","))  # type: ignore[assignment]
    return ClassifierSpec(channels, image_size, num_classes, widths)  # type: ignore[arg-type]


@dataclass
class ClassifierRun:
    """One fresh classifier trained and tested: top-1 accuracy on the test images."""

    accuracy: float
    train_images: int
    steps: int
    seed: int


def train_and_test(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *, spec: ClassifierSpec,
    steps: int | None = None, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
    description: str = "training a classifier", progress: bool = True,
) -> ClassifierRun:
    """Train a fresh :class:`SmallClassifier` of ``spec`` on ``train_x`` (N, C, H, W) in [-1, 1]
    with labels int64 (N,), then test it on ``test_x`` (M, C, H, W) in [-1, 1].

    Deterministic for a seed: the initial weights come from ``seed`` (the global torch RNG is
    left as it was), batches and shifts from ``seed + 1``. ``steps`` None: :func:`default_steps`.
    """
    if len(train_x) == 0:
        raise GenzooError("no training images for the classifier")
    steps = default_steps(len(train_x), batch_size) if steps is None else steps
    if steps < 1 or batch_size < 1:
        raise GenzooError(f"classifier steps and batch size must be at least 1, got {steps} and {batch_size}")
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG
        torch.manual_seed(seed)
        model = SmallClassifier(spec)
    with make_progress() as bar:
        task = bar.add_task(description, total=steps) if progress else None
        advance = (lambda: bar.advance(task)) if task is not None else None
        done = fit_classifier(model, train_x, train_y, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                              progress=advance)
    acc = accuracy(model, (test_x + 1) / 2, test_y)
    return ClassifierRun(acc, len(train_x), done, seed)


def matched_subset(labels: Tensor, counts: list[int], seed: int) -> Tensor:
    """Indices into ``labels`` (N,) holding ``counts[c]`` items of each class c (all of a class
    that has fewer), chosen by a permutation seeded with ``seed``; sorted."""
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = labels[perm]
    picks = [perm[shuffled == c][:k] for c, k in enumerate(counts) if k > 0]
    return torch.cat(picks).sort().values if picks else torch.zeros(0, dtype=torch.long)


def class_counts(labels: Tensor, k: int) -> list[int]:
    return torch.bincount(labels, minlength=k)[:k].tolist()


def check_labelled(images: Tensor, labels: Tensor | None, num_classes: int, data: str) -> Tensor:
    """Labels of generated images: int64 (N,) in [0, num_classes) for the data's classes."""
    if labels is None:
        raise MetricUnavailable("CAS needs labelled generated images: a class-conditional model "
                                "(ConditionalOnLabels) or a folder with one subfolder per class")
    labels = torch.as_tensor(labels, dtype=torch.long).flatten().cpu()
    if labels.shape[0] != images.shape[0]:
        raise GenzooError(f"{images.shape[0]} generated images but {labels.shape[0]} labels")
    if num_classes < 2:
        raise MetricUnavailable(f"CAS needs a labelled dataset; '{data}' has no classes")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise MetricUnavailable(f"generated labels reach {int(labels.max())} but '{data}' has {num_classes} classes")
    return labels


# Real-data baselines of one process: evaluating several generators against the same data trains
# the real-data classifier once.
_REAL_RUNS: dict[tuple[Any, ...], ClassifierRun] = {}


def real_baseline(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, counts: list[int], *,
                  spec: ClassifierSpec, key: tuple[Any, ...], steps: int | None, batch_size: int, lr: float,
                  seed: int, progress: bool) -> ClassifierRun:
    """The same classifier trained on real training images with the given class counts (memoised per ``key``)."""
    full = (*key, tuple(counts), spec.channels, spec.image_size, spec.widths, steps, batch_size, lr, seed)
    if full not in _REAL_RUNS:
        idx = matched_subset(train_y, counts, seed)
        _REAL_RUNS[full] = train_and_test(train_x[idx], train_y[idx], test_x, test_y, spec=spec, steps=steps,
                                          batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                                          description=f"classifier on {len(idx)} real images")
    return _REAL_RUNS[full]


def classification_accuracy_score(
    images: Tensor, labels: Tensor | None, data: str, *, train: Any, test: Any, steps: int | None = None,
    batch_size: int = 128, lr: float = 2e-3, seed: int = 0, progress: bool = True,
) -> tuple[ClassifierRun, ClassifierRun]:
    """CAS of generated ``images`` (N, C, H, W) in [0, 1] with ``labels`` int64 (N,).

    ``train``/``test``: the real data's splits (:class:`~genzoo.data.ImageDataset`, images in
    [-1, 1] at the generated images' size). Returns (classifier trained on the generated images,
    the same trained on real training images with the same class counts), both tested on ``test``.
    """
    k = train.num_classes
    labels = check_labelled(images, labels, k, data)
    spec = evaluation_spec(data, int(images.shape[1]), int(images.shape[-1]), k)
    gen = train_and_test(images * 2 - 1, labels, test.images, test.labels, spec=spec, steps=steps,
                         batch_size=batch_size, lr=lr, seed=seed, progress=progress,
                         description=f"classifier on {len(images)} generated images")
    real = real_baseline(train.images, train.labels, test.images, test.labels, class_counts(labels, k), spec=spec,
                         key=(data, len(train), len(test)), steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                         progress=progress)
    return gen, real


@register_metric("cas")
class CAS(Metric):
    """Classification Accuracy Score: a classifier trained on generated labelled images, tested on real ones."""

    description = ("Classification Accuracy Score (Ravuri and Vinyals 2019): top-1 accuracy on the real test split "
                   "of a fresh classifier trained on the generated labelled images only; conditional models; "
                   "beside it the same classifier trained on as many real images (higher is better)")
    in_all = False  # trains two classifiers (minutes on a CPU): asked for by name, not part of 'all'
    #: classifier schedule: None = the shipped classifiers' (two passes over the images, at least 500 steps)
    steps: int | None = None
    batch_size = 128

    def compute(self, ctx: EvalContext) -> list[Result]:
        labels = getattr(ctx, "labels", None)
        train = ctx.split_data("train")
        check_labelled(ctx.images, labels, train.num_classes, ctx.data)
        test = ctx.split_data("test")
        if test.images.shape == train.images.shape and torch.equal(test.images, train.images):
            raise MetricUnavailable(f"CAS needs a held-out test split; '{ctx.data}' has none")
        gen, real = classification_accuracy_score(ctx.images, labels, ctx.data, train=train, test=test,
                                                  steps=self.steps, batch_size=self.batch_size, seed=ctx.seed)
        proto = (f"{ARCH} trained from scratch on {gen.train_images} generated images ({gen.steps} steps of "
                 f"{self.batch_size}, seed {ctx.seed}) at {ctx.image_size}x{ctx.image_size}, top-1 on all "
                 f"{len(test)} real {ctx.data} test images; baseline: the same trained on {real.train_images} "
                 f"real train images with the same class counts ({real.accuracy:.4f}); "
                 f"CAS / baseline = {gen.accuracy / max(real.accuracy, 1e-12):.3f}")
        return [Result("cas", gen.accuracy, f"CAS ({ARCH} on generated images, real {ctx.data} test accuracy)",
                       proto, higher_is_better=True, baseline=real.accuracy)]
