"""The built-in metrics: fid, kid, is, prdc, memorisation, birthday."""

from __future__ import annotations

import math

import torch

from genzoo.errors import GenzooError
from genzoo.images import save_grid
from genzoo.metrics.core import EvalContext, Metric, MetricUnavailable, Result
from genzoo.metrics.stats import (
    birthday_support,
    closest_pairs,
    copy_fraction,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kid_estimate,
    knn,
    precision_recall_density_coverage,
)
from genzoo.registry import register_metric


@register_metric("fid")
class FID(Metric):
    """Fréchet distance between Gaussian fits of real and generated features (lower is better)."""

    description = "Fréchet distance between Gaussian fits of real and generated features (lower is better)"

    def compute(self, ctx: EvalContext) -> list[Result]:
        ref = ctx.reference
        mu, sigma = gaussian_stats(ctx.fake_features)
        value = frechet_distance(ref.mu, ref.sigma, mu, sigma)
        return [Result("fid", value, ctx.named("FID"), ctx.protocol())]


@register_metric("kid")
class KID(Metric):
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, mean/std over subsets."""

    description = "unbiased MMD^2 with the cubic polynomial kernel, mean and std over 100 subsets (lower is better)"
    subsets = 100
    subset_size = 1000

    def compute(self, ctx: EvalContext) -> list[Result]:
        real, fake = ctx.reference.features, ctx.fake_features
        m = self.subset_size
        mean, std, n_real, n_fake = kid_estimate(real, fake, subsets=self.subsets, subset_size=m, seed=ctx.seed)
        if std is None:
            why = (f"one estimate on {n_fake} generated and {n_real} real images, no std: with "
                   f"{min(len(real), len(fake))} images (at most the subset size {m}) every subset would hold "
                   f"the same images; give -n and --n-ref above {m} for a mean and std over {self.subsets} subsets")
            proto = ctx.protocol(f"{why}; kernel (x.y/d + 1)^3, seed {ctx.seed}")
            return [Result("kid", mean, ctx.named("KID"), proto, note=f"KID: {why}")]
        proto = ctx.protocol(f"{self.subsets} subsets of {self.subset_size}, kernel (x.y/d + 1)^3, seed {ctx.seed}")
        return [Result("kid", mean, ctx.named("KID"), proto, std=std)]


@register_metric("is")
class InceptionScore(Metric):
    """Inception Score from the extractor's class probabilities (higher is better)."""

    description = "Inception Score exp(E KL(p(y|x) || p(y))) from the extractor's classifier, 10 splits (higher is better)"
    splits = 10

    def compute(self, ctx: EvalContext) -> list[Result]:
        logits = ctx.fake_logits
        if logits is None:
            raise MetricUnavailable(f"IS needs class probabilities; extractor {ctx.extractor.spec} has no classifier")
        mean, std = inception_score(logits, splits=self.splits)
        k = logits.shape[1]
        name = f"IS ({ctx.extractor.short} class probabilities, {k} classes)"
        proto = f"{ctx.num_images} generated images, {min(self.splits, ctx.num_images)} splits; maximum possible {k}"
        return [Result("is", mean, name, proto, std=std, higher_is_better=True)]


@register_metric("prdc")
class PRDC(Metric):
    """Improved precision/recall (k=3) and density/coverage (k=5) on k-NN balls in feature space."""

    description = "improved precision and recall (k=3), density and coverage (k=5) in feature space (higher is better)"
    k_pr = 3
    k_dc = 5

    def compute(self, ctx: EvalContext) -> list[Result]:
        r = precision_recall_density_coverage(ctx.reference.features, ctx.fake_features, k_pr=self.k_pr, k_dc=self.k_dc)
        out = []
        for key, title, k in (("precision", "Precision", self.k_pr), ("recall", "Recall", self.k_pr),
                              ("density", "Density", self.k_dc), ("coverage", "Coverage", self.k_dc)):
            out.append(Result(key, r[key], ctx.named(title), ctx.protocol(f"k={k}"), higher_is_better=True))
        return out


@register_metric("memorisation")
class Memorisation(Metric):
    """Fraction of samples closer to a training image than training images are to each other."""

    description = ("fraction of samples closer to their nearest training image than it is to any other training "
                   "image, in pixel and feature space, with the held-out real rate beside it (lower is better)")
    max_samples = 1000
    grid_rows = 8
    neighbours = 3

    def compute(self, ctx: EvalContext) -> list[Result]:
        m = min(self.max_samples, ctx.num_images)
        fake_px = ctx.images[:m].flatten(1)
        train = ctx.split_data(ctx.split)
        train_px = ((train.images + 1) / 2).flatten(1)
        ref = ctx.reference
        fake_ft = ctx.fake_features[:m]
        frac_px, d_px, _, r_px = copy_fraction(fake_px, train_px)
        frac_ft = copy_fraction(fake_ft, ref.features)[0]
        held = ctx.heldout(m)
        base_px = base_ft = None
        if held is not None:
            base_px = copy_fraction(held.flatten(1), train_px)[0]
            base_ft = copy_fraction(ctx.extractor.extract(held, batch_size=ctx.batch_size)[0], ref.features)[0]
        files = []
        path = ctx.out_file("memorisation.png")
        if path is not None:
            # most copy-like first: distance to the nearest training image relative to how far
            # that image is from its own nearest neighbour
            files.append(str(self._grid(ctx, path, fake_px, train_px, fake_ft, d_px / r_px.clamp(min=1e-12))))
        held_note = f"held-out real: {len(held)} {('test' if ctx.split == 'train' else 'train')} images" if held is not None else "no held-out split"
        p_px = (f"{m} generated vs all {len(train)} {ctx.data} {ctx.split} images, pixels at "
                f"{ctx.image_size}x{ctx.image_size}; {held_note}")
        p_ft = ctx.protocol(f"first {m} generated vs the reference images; {held_note}")
        return [
            Result("memorisation_pixels", frac_px, "Memorised fraction (pixel space)", p_px, baseline=base_px, files=files),
            Result("memorisation_features", frac_ft, ctx.named("Memorised fraction"), p_ft, baseline=base_ft, files=files),
        ]

    def _grid(self, ctx: EvalContext, path, fake_px, train_px, fake_ft, score):
        """Rows: the samples with the lowest ``score``; each row is the sample, then its
        nearest training images in pixel space, then in feature space."""
        rows = score.argsort()[: self.grid_rows]
        k = self.neighbours
        _, nn_px = knn(fake_px[rows], train_px, k)
        _, nn_ft = knn(fake_ft[rows], ctx.reference.features, k)
        train = ctx.split_data(ctx.split).images
        ref_imgs = train[ctx.reference.indices]
        gap = torch.ones_like(ctx.images[0])  # white column between the three groups
        tiles = []
        for r, a, b in zip(rows.tolist(), nn_px, nn_ft):
            tiles += [ctx.images[r], gap, *((train[a] + 1) / 2).unbind(0), gap, *((ref_imgs[b] + 1) / 2).unbind(0)]
        return save_grid(torch.stack(tiles), path, nrow=3 + 2 * k)


@register_metric("birthday")
class Birthday(Metric):
    """Arora and Zhang's birthday-paradox test: duplicates within batches imply a support size."""

    description = ("birthday-paradox test (Arora and Zhang 2017): closest pairs within batches, duplicate rate and "
                   "implied support size")
    batch = 100
    max_batches = 50
    grid_pairs = 16

    def compute(self, ctx: EvalContext) -> list[Result]:
        s = min(self.batch, ctx.num_images // 2)
        if s < 2 or ctx.num_images < s:
            raise MetricUnavailable("the birthday test needs at least 4 generated images")
        fake = ctx.fake_features[: s * min(self.max_batches, ctx.num_images // s)]
        real = ctx.reference.features
        if len(real) < s:
            raise MetricUnavailable(f"the birthday test needs at least {s} reference images")
        real = real[: s * min(self.max_batches, len(real) // s)]
        d_fake, pairs = closest_pairs(fake, s)
        d_real, _ = closest_pairs(real, s)
        b, b_real = len(d_fake), len(d_real)
        # A "duplicate": a pair closer than the closest pair in any of b_real real batches.
        # Real data like the reference hits that with probability 1 / (b_real + 1) per batch.
        tau = float(d_real.min())
        rate = float((d_fake < tau).float().mean())
        support = birthday_support(rate if rate < 1 else 1 - 1 / (2 * b), s)
        base_rate = 1.0 / (b_real + 1)
        files = []
        path = ctx.out_file("birthday.png")
        if path is not None:
            order = d_fake.argsort()[: self.grid_pairs]
            gap = torch.ones_like(ctx.images[0])
            tiles = [t for pr in pairs[order] for t in (ctx.images[int(pr[0])], ctx.images[int(pr[1])], gap)]
            files.append(str(save_grid(torch.stack(tiles), path, nrow=12)))  # 4 pairs per row, closest first
        proto = ctx.protocol(
            f"{b} batches of {s} generated images; duplicate = closer than the closest pair in {b_real} real batches "
            f"of {s} (distance {tau:.4g}); real-like data gives about {base_rate:.3f}"
        )
        bound = " (upper bound: every batch had a duplicate)" if rate >= 1 else ""
        sup_proto = (f"N = s(s-1) / (-2 ln(1 - rate)) with s={s}{bound}; "
                     f"inf: no more duplicates than real data would show")
        if math.isinf(support):
            sup_proto += f" (support above about {birthday_support(base_rate, s):.3g} images)"
        return [
            Result("birthday_duplicate_rate", rate, ctx.named("Birthday duplicate rate"), proto, baseline=base_rate, files=files),
            Result("birthday_support", support, ctx.named("Birthday support estimate"), sup_proto, higher_is_better=True,
                   baseline=birthday_support(base_rate, s), files=files),
        ]
