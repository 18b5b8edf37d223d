"""The formulas, on feature matrices: no models, no files. All functions are deterministic.

Features are (N, D) float tensors (any device); results are Python floats computed in
float64 where it matters (covariances, matrix square roots, kernel sums).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from genzoo.errors import GenzooError


# ------------------------------------------------------------------------------------------
# FID (Heusel et al. 2017)
# ------------------------------------------------------------------------------------------
def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """(N, D) -> mean (D,) and unbiased covariance (D, D), both float64."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise GenzooError(f"need at least 2 feature vectors for a covariance, got shape {tuple(features.shape)}")
    x = features.double()
    mu = x.mean(0)
    xc = x - mu
    return mu, (xc.T @ xc) / (x.shape[0] - 1)


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``.

    The trace of the square root is computed as the sum of square roots of the
    eigenvalues of the symmetric matrix ``sigma1^(1/2) sigma2 sigma1^(1/2)``, which has the
    same spectrum as ``sigma1 sigma2`` and is well conditioned for ``eigh`` (no complex
    parts to discard, unlike ``sqrtm`` of the non-symmetric product).
    """
    mu1, mu2, s1, s2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    w, v = torch.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * w.clamp(min=0).sqrt()) @ v.T
    m = root1 @ s2 @ root1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    fid = diff.dot(diff) + s1.trace() + s2.trace() - 2 * tr_covmean
    return max(float(fid), 0.0)


# ------------------------------------------------------------------------------------------
# KID (Bińkowski et al. 2018)
# ------------------------------------------------------------------------------------------
def polynomial_kernel(x: Tensor, y: Tensor, degree: int = 3, gamma: float | None = None, coef: float = 1.0) -> Tensor:
    """k(x, y) = (gamma <x, y> + coef)^degree, gamma = 1 / D by default; float32 (len(x), len(y)).

    Callers sum kernel matrices in float64 (MMD is a small difference of large sums).
    """
    g = 1.0 / x.shape[1] if gamma is None else gamma
    k = torch.addmm(torch.full((), float(coef), device=x.device), x.float(), y.float().T, alpha=g)
    return k.pow_(degree)


def mmd2_unbiased(x: Tensor, y: Tensor, degree: int = 3, gamma: float | None = None, coef: float = 1.0) -> float:
    """Unbiased estimate of MMD^2 between samples x (m, D) and y (n, D) with the polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    kxx = polynomial_kernel(x, x, degree, gamma, coef)
    kyy = polynomial_kernel(y, y, degree, gamma, coef)
    kxy = polynomial_kernel(x, y, degree, gamma, coef)
    f64 = torch.float64
    xx = (kxx.sum(dtype=f64) - kxx.diagonal().sum(dtype=f64)) / (m * (m - 1))
    yy = (kyy.sum(dtype=f64) - kyy.diagonal().sum(dtype=f64)) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.sum(dtype=f64) / (m * n))


def kernel_inception_distance(
    real: Tensor, fake: Tensor, *, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
    gamma: float | None = None, coef: float = 1.0, seed: int = 0,
) -> tuple[float, float]:
    """KID: mean and standard deviation of unbiased MMD^2 over random subsets.

    Each subset draws ``subset_size`` real and fake features without replacement
    (fewer if either set is smaller), from a generator seeded with ``seed``.
    """
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise GenzooError("KID needs at least 2 real and 2 generated images")
    gen = torch.Generator().manual_seed(seed)
    vals = []
    for _ in range(subsets):
        ir = torch.randperm(real.shape[0], generator=gen)[:m].to(real.device)
        i_f = torch.randperm(fake.shape[0], generator=gen)[:m].to(fake.device)
        vals.append(mmd2_unbiased(real[ir], fake[i_f], degree, gamma, coef))
    t = torch.tensor(vals, dtype=torch.float64)
    return float(t.mean()), float(t.std(unbiased=False)) if len(vals) > 1 else 0.0



def kid_estimate(real: Tensor, fake: Tensor, *, subsets: int = 100, subset_size: int = 1000,
                 seed: int = 0) -> tuple[float, float | None, int, int]:
    """KID as genzoo reports it, from features real (N, D) and fake (M, D).

    With more than ``subset_size`` images on both sides: mean and std over ``subsets`` random
    subsets (:func:`kernel_inception_distance`). Otherwise subsets as large as a whole side would
    all be that side and their spread would read as a meaningless std of 0, so: one unbiased
    estimate on every image of the smaller side and a seeded subset of at most ``subset_size``
    of the other, with std None. Returns (kid, std, real images used, fake images used).
    """
    n = min(real.shape[0], fake.shape[0])
    if n < 2:
        raise GenzooError("KID needs at least 2 real and 2 generated images")
    if n > subset_size:
        mean, std = kernel_inception_distance(real, fake, subsets=subsets, subset_size=subset_size, seed=seed)
        return mean, std, subset_size, subset_size
    gen = torch.Generator().manual_seed(seed)
    real, fake = (f if len(f) <= subset_size else f[torch.randperm(len(f), generator=gen)[:subset_size].to(f.device)]
                  for f in (real, fake))
    return mmd2_unbiased(real, fake), None, real.shape[0], fake.shape[0]

# ------------------------------------------------------------------------------------------
# Inception Score (Salimans et al. 2016)
# ------------------------------------------------------------------------------------------
def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) from class logits (N, K), mean and std over ``splits`` chunks."""
    logp = torch.log_softmax(logits.double(), dim=1)
    p = logp.exp()
    splits = max(1, min(splits, logits.shape[0]))
    scores = []
    for chunk_p, chunk_logp in zip(p.chunk(splits), logp.chunk(splits)):
        log_py = torch.log(chunk_p.mean(0).clamp(min=1e-300))
        kl = (chunk_p * (chunk_logp - log_py)).sum(1).mean()
        scores.append(float(kl.exp()))
    t = torch.tensor(scores, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(scores) > 1 else 0.0  # std over splits, n - 1 as usual


# ------------------------------------------------------------------------------------------
# nearest neighbours (chunked, so 10k x 10k distance matrices never sit in memory whole)
# ------------------------------------------------------------------------------------------
def _chunks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def _chunk_rows(n_cols: int, budget: int = 2**24) -> int:
    return max(1, budget // max(1, n_cols))


def pairwise(x: Tensor, y: Tensor) -> Tensor:
    """Euclidean distances (len(x), len(y)); exact (no matrix-product shortcut) for tiny sets."""
    return torch.cdist(x.float(), y.float(), compute_mode="donot_use_mm_for_euclid_dist" if x.shape[0] * y.shape[0] < 4096 else "use_mm_for_euclid_dist_if_necessary")


def knn(queries: Tensor, keys: Tensor, k: int = 1, *, exclude_self: bool = False) -> tuple[Tensor, Tensor]:
    """The k nearest keys of every query: distances (Q, k) ascending and indices (Q, k).

    With ``exclude_self`` queries and keys are the same set and each point's own entry
    is skipped (by index, so exact duplicates elsewhere still count as neighbours).
    """
    if exclude_self and queries.shape[0] != keys.shape[0]:
        raise ValueError("exclude_self needs queries and keys to be the same set")
    kk = k + (1 if exclude_self else 0)
    if kk > keys.shape[0]:
        raise GenzooError(f"need more than {kk - 1} reference points for {k}-nearest neighbours, got {keys.shape[0]}")
    small = queries.shape[0] * keys.shape[0] < 4096
    q32, k32 = queries.float(), keys.float()
    key_sq = (k32 * k32).sum(1)
    ds, ix = [], []
    for sl in _chunks(queries.shape[0], _chunk_rows(keys.shape[0])):
        q = q32[sl]
        if small:
            d = pairwise(q, k32)
        else:  # rank by |k|^2 - 2 q.k (one matrix product), take roots of the k winners only
            d = torch.addmm(key_sq[None, :], q, k32.T, alpha=-2.0)
        if exclude_self:
            rows = torch.arange(d.shape[0], device=d.device)
            d[rows, rows + sl.start] = float("inf")
        if k == 1:
            v, i = d.min(dim=1, keepdim=True)
        else:
            v, i = d.topk(k, dim=1, largest=False)
        if not small:
            v = (v + (q * q).sum(1, keepdim=True)).clamp(min=0).sqrt()
        ds.append(v)
        ix.append(i)
    return torch.cat(ds), torch.cat(ix)


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each point of x (N, D) to its k-th nearest other point: (N,)."""
    return knn(x, x, k, exclude_self=True)[0][:, -1]


def precision_recall_density_coverage(
    real: Tensor, fake: Tensor, *, k_pr: int = 3, k_dc: int = 5,
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, k = ``k_pr``) and density and
    coverage (Naeem et al. 2020, k = ``k_dc``) of fake (M, D) against real (N, D) features.

    * precision: fraction of fake points inside some real point's k-NN ball;
    * recall: fraction of real points inside some fake point's k-NN ball;
    * density: (1 / kM) * number of (real ball, fake point) memberships, k = ``k_dc``
      (1 on average when fake ~ real; can exceed 1);
    * coverage: fraction of real points whose k-NN ball holds at least one fake point.

    Membership is strict (distance < radius), as in the authors' reference code.
    """
    r_pr = knn_radii(real, k_pr)
    r_dc = knn_radii(real, k_dc) if k_dc != k_pr else r_pr
    f_pr = knn_radii(fake, k_pr)
    m = fake.shape[0]
    fake_in_real = torch.zeros(m, dtype=torch.bool, device=fake.device)
    real_in_fake = torch.zeros(real.shape[0], dtype=torch.bool, device=real.device)
    density_count = torch.zeros((), dtype=torch.float64)
    nearest_fake = torch.full((real.shape[0],), float("inf"), device=real.device)
    for sl in _chunks(m, _chunk_rows(real.shape[0])):
        d = pairwise(real, fake[sl])  # (N, chunk)
        fake_in_real[sl] = (d < r_pr[:, None]).any(0)
        real_in_fake |= (d < f_pr[sl][None, :]).any(1)
        density_count += (d < r_dc[:, None]).sum().double()
        nearest_fake = torch.minimum(nearest_fake, d.min(1).values)
    return {
        "precision": float(fake_in_real.double().mean()),
        "recall": float(real_in_fake.double().mean()),
        "density": float(density_count / (k_dc * m)),
        "coverage": float((nearest_fake < r_dc).double().mean()),
    }


# ------------------------------------------------------------------------------------------
# memorisation and the birthday test
# ------------------------------------------------------------------------------------------
def copy_fraction(samples: Tensor, train: Tensor, *, train_nn: Tensor | None = None) -> tuple[float, Tensor, Tensor, Tensor]:
    """Fraction of samples closer to their nearest training point t than t is to any other
    training point (the "closer than training images are to each other" test).

    Args:
        samples: (M, D) generated (or held-out real) vectors.
        train: (N, D) training vectors.
        train_nn: (N,) each training point's nearest-other distance, if already known.

    Returns:
        (fraction, distance to the nearest training point (M,), its index (M,),
        that training point's distance to its own nearest other training point (M,)).
    """
    d, idx = knn(samples, train, 1)
    d, idx = d[:, 0], idx[:, 0]
    if train_nn is None:
        # only the training points that are someone's nearest need their own radius
        uniq, inv = idx.unique(return_inverse=True)
        radius = _nearest_other(train, uniq)[inv]
    else:
        radius = train_nn[idx]
    return float((d < radius).double().mean()), d, idx, radius


def _nearest_other(train: Tensor, which: Tensor) -> Tensor:
    """Distance from train[which] to the nearest other training point (by index), (len(which),)."""
    t32 = train.float()
    key_sq = (t32 * t32).sum(1)
    out = []
    for sl in _chunks(which.shape[0], _chunk_rows(train.shape[0])):
        rows = which[sl]
        q = train[rows].float()
        d = torch.addmm(key_sq[None, :], q, t32.T, alpha=-2.0)  # |t|^2 - 2 q.t, ranked as in knn()
        d[torch.arange(d.shape[0], device=d.device), rows] = float("inf")
        out.append((d.min(1).values + (q * q).sum(1)).clamp(min=0).sqrt())
    return torch.cat(out)


def closest_pairs(x: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
    """Split x (N, D) into consecutive batches of ``batch_size``; in each, the closest pair.

    Returns (distances (B,), global index pairs (B, 2)); a trailing partial batch is dropped.
    """
    b = x.shape[0] // batch_size
    if b < 1:
        raise GenzooError(f"the birthday test needs at least {batch_size} samples (one batch), got {x.shape[0]}")
    dist, pairs = [], []
    for i in range(b):
        xb = x[i * batch_size : (i + 1) * batch_size]
        d = pairwise(xb, xb)
        d.fill_diagonal_(float("inf"))
        j = int(d.flatten().argmin())
        r, c = divmod(j, batch_size)
        dist.append(d[r, c])
        pairs.append(torch.tensor([i * batch_size + r, i * batch_size + c]))
    return torch.stack(dist), torch.stack(pairs)


def birthday_support(collision_rate: float, batch_size: int) -> float:
    """Support size N implied by a duplicate appearing in a batch of s with probability p,
    for a uniform distribution over N items: p = 1 - exp(-s(s-1) / 2N), so
    N = s(s-1) / (-2 ln(1 - p)).

    p = 0 gives inf (no duplicates seen: the support is too large for this test to tell).
    Callers keep p below 1 (with B batches all colliding, they pass 1 - 1/(2B)).
    """
    if collision_rate <= 0:
        return math.inf
    p = min(collision_rate, 1 - 1e-12)
    return batch_size * (batch_size - 1) / (-2.0 * math.log1p(-p))
