"""Does a generator help a classifier? Data augmentation with class-conditional samples.

    genzoo augment runs/cgan-fashion-mnist --data fashion-mnist --real 1000 --synthetic 10000 --seeds 3

trains the shipped evaluation classifier (genzoo's small CNN, :mod:`genzoo.metrics.cas`) on a
small class-balanced subset of the real training split, once alone and once with the generator's
labelled samples added, for several seeds, and tests every classifier on the whole real test
split. Both arms train for the same number of steps with the same seed, so the difference is the
synthetic images' doing. Works for every model with the ConditionalOnLabels capability.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from genzoo.data import load_dataset
from genzoo.errors import GenzooError
from genzoo.labelled import require_conditional
from genzoo.metrics.cas import default_steps, evaluation_spec, matched_subset, train_and_test


@dataclass
class Arm:
    """One training set: its name and the real test accuracy per seed."""

    name: str
    real: int
    synthetic: int
    accuracies: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 for one seed)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0


@dataclass
class AugmentReport:
    """The real-only arm and one augmented arm per generator, tested on ``test_images`` real images."""

    data: str
    image_size: int
    seeds: list[int]
    steps: int
    batch_size: int
    test_images: int
    sample_seed: int
    arms: list[Arm]
    sources: list[str]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for a, arm in zip(d["arms"], self.arms):
            a["mean"], a["std"] = arm.mean, arm.std
        return d


def balanced_counts(n: int, k: int) -> list[int]:
    """n items over k classes as evenly as possible (the first n % k classes get one more)."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def augmentation_study(
    models: list[Any], *, sources: list[str] | None = None, data: str | None = None, real: int = 1000,
    synthetic: int = 10000, seeds: int = 3, seed: int = 0, steps: int | None = None, batch_size: int = 128,
    data_dir: str | None = None, sampler: str | None = None, progress: bool = True,
    drawn: list[tuple[Any, Any]] | None = None, **sample_options: Any,
) -> AugmentReport:
    """Test accuracy of a classifier trained on ``real`` real images, alone and with ``synthetic``
    labelled samples of each model, for ``seeds`` seeds (seed, seed + 1, ...).

    The real subset is class-balanced and drawn per seed; the synthetic images (classes cycling
    0..K-1) are drawn once per model with ``seed`` and reused for every classifier seed. ``steps``
    (None: the shipped schedule for real + synthetic images) is the same for every arm.
    ``drawn``: the synthetic images already drawn, one (images (N, C, H, W) in [0, 1], labels
    int64 (N,)) per model (e.g. the ones CAS was measured on), instead of sampling them here.
    """
    if not models:
        raise GenzooError("give at least one run to draw synthetic images from")
    if real < 1 or synthetic < 1 or seeds < 1:
        raise GenzooError(f"--real, --synthetic and --seeds must be at least 1, got {real}, {synthetic} and {seeds}")
    if batch_size < 1 or (steps is not None and steps < 1):
        raise GenzooError(f"--steps and --batch-size must be at least 1, got {steps} and {batch_size}")
    sources = sources or [type(m).__name__ for m in models]
    for m, src in zip(models, sources):
        require_conditional(m, f"genzoo augment ({src})")
    first = models[0].config
    for m, src in zip(models[1:], sources[1:]):
        c = m.config
        if (c.image_size, c.channels, c.num_classes) != (first.image_size, first.channels, first.num_classes):
            raise GenzooError(f"'{src}' makes {c.channels}x{c.image_size}x{c.image_size} images of {c.num_classes} "
                              f"classes but '{sources[0]}' makes {first.channels}x{first.image_size}x"
                              f"{first.image_size} of {first.num_classes}; compare runs of the same shape")
    data = data or (models[0].meta.get("data") or {}).get("name") or first.data
    train = load_dataset(data, split="train", image_size=first.image_size, channels=first.channels, data_dir=data_dir)
    test = load_dataset(data, split="test", image_size=first.image_size, channels=first.channels, data_dir=data_dir)
    k = train.num_classes
    if train.labels is None or k < 2:
        raise GenzooError(f"data '{data}' has no class labels; augmentation is measured with a labelled dataset")
    if k != first.num_classes:
        raise GenzooError(f"'{sources[0]}' was trained with {first.num_classes} classes but '{data}' has {k}; "
                          "use the data the model was trained on")
    if test.images.shape == train.images.shape and torch.equal(test.images, train.images):
        raise GenzooError(f"data '{data}' has no held-out test split to measure accuracy on; use a named dataset")
    if real > len(train):
        raise GenzooError(f"--real {real} is more than the {len(train)} training images of '{data}'")
    steps = default_steps(real + synthetic, batch_size) if steps is None else steps
    spec = evaluation_spec(data, first.channels, first.image_size, k)
    synth = []
    for i, m in enumerate(models):
        if drawn is not None:
            x, labels = drawn[i][0][:synthetic], torch.as_tensor(drawn[i][1], dtype=torch.long)[:synthetic]
        else:
            labels = torch.arange(synthetic) % k
            x = m.sample(synthetic, seed=seed, labels=labels, sampler=sampler, progress=progress, **sample_options)
        synth.append((x * 2 - 1, labels))
    arms = [Arm(f"real {real}", real, 0)] + [Arm(f"real {real} + {synthetic} from {src}", real, synthetic)
                                             for src in sources]
    seed_list = [seed + i for i in range(seeds)]
    for s in seed_list:
        idx = matched_subset(train.labels, balanced_counts(real, k), s)
        rx, ry = train.images[idx], train.labels[idx]
        run = train_and_test(rx, ry, test.images, test.labels, spec=spec, steps=steps, batch_size=batch_size,
                             seed=s, progress=progress, description=f"seed {s}: {len(idx)} real")
        arms[0].accuracies.append(run.accuracy)
        for arm, (sx, sy) in zip(arms[1:], synth):
            run = train_and_test(torch.cat([rx, sx]), torch.cat([ry, sy]), test.images, test.labels, spec=spec,
                                 steps=steps, batch_size=batch_size, seed=s, progress=progress,
                                 description=f"seed {s}: {len(idx)} real + {len(sx)} synthetic")
            arm.accuracies.append(run.accuracy)
    return AugmentReport(data, first.image_size, seed_list, steps, batch_size, len(test), seed, arms, list(sources))
