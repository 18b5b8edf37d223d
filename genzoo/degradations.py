"""Linear degradations y = A x and their pseudo-inverses A^+, for restoring images with a prior.

The paired tasks of :mod:`genzoo.data.tasks` degrade images into the inputs pix2pix learns
from; the linear ones (superres, deblur, colorize, inpaint, denoise) also name their
operator here, so a model that :class:`~genzoo.capabilities.Restores` can invert the very
same degradation without training on it (``genzoo restore``). ``edges`` is not linear and
has no operator.

Every operator acts on images in the model range: float (N, C, S, S) in [-1, 1].
``A(x)`` -> the measurement (N, C', S, S); ``pinv(y)`` -> (N, C, S, S), the Moore-Penrose
pseudo-inverse (least-norm solution), so A A^+ A = A. Superres and deblur are separable:
A X = M X M^T per channel with a 1-D matrix M read off the task's own resampling/blur code,
so the operator is exactly the task's degradation (without its final clamp), and A^+ comes
from the SVD of M. For the blur, singular values below ``rcond`` of the largest are treated
as zero (a truncated SVD): there the blur keeps less of the image than an 8-bit file's
rounding, so inverting them only amplifies noise; then A A^+ A equals A up to those
dropped components.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


# ------------------------------------------------------------------------------------------
# the degradations the paired tasks use (moved here so that operators can be built from them)
# ------------------------------------------------------------------------------------------
def bicubic_linear(x: Tensor, size: int) -> Tensor:
    """(N, C, H, W) -> (N, C, size, size), bicubic (antialiased when shrinking), not clamped: linear in x."""
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=size < x.shape[-1])


def bicubic(x: Tensor, size: int) -> Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, C, size, size), bicubic (antialiased when shrinking), clamped."""
    return bicubic_linear(x, size).clamp(-1, 1)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, C, H, W), reflect padding."""
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    pad_mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    y = F.conv2d(F.pad(x, (r, r, 0, 0), mode=pad_mode), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(y, (0, 0, r, r), mode=pad_mode), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601


def luminance(x: Tensor) -> Tensor:
    """(N, 3, H, W) -> (N, 1, H, W) with ITU-R BT.601 weights; gray input passes through."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


# ------------------------------------------------------------------------------------------
# operators
# ------------------------------------------------------------------------------------------
class LinearOperator:
    """y = A x on images in [-1, 1]; see the module docstring.

    noise_std: std of the measurement noise in [-1, 1] units (0 for an exact measurement);
    restoration methods for noisy measurements (DDNM+) use it.
    """

    name: str = "linear"
    noise_std: float = 0.0

    def A(self, x: Tensor) -> Tensor:
        """(N, C, S, S) -> the measurement (N, C', S, S)."""
        raise NotImplementedError

    def pinv(self, y: Tensor) -> Tensor:
        """The measurement (N, C', S, S) -> the least-norm x (N, C, S, S) with A x = y (A^+ y)."""
        raise NotImplementedError

    def batch(self, rows: slice) -> LinearOperator:
        """The operator for images ``rows`` of a batch (per-image operators slice their data)."""
        return self

    def project(self, x: Tensor, y: Tensor) -> Tensor:
        """A^+ y + (I - A^+ A) x: keep x's null-space part, take the range-space part from y."""
        return x - self.pinv(self.A(x) - y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def matrix_1d(fn: Callable[[Tensor], Tensor], size: int) -> Tensor:
    """The (H', size) matrix M of a separable image map fn: (N, 1, size, size) -> (N, 1, H', H'), fn(X) = M X M^T.

    Read off by applying ``fn`` to images constant along the width: image i is the i-th unit
    vector in every column, and fn keeps constant rows constant (interpolation and blur weights
    sum to one), so column 0 of fn(image i) is M's i-th column.
    """
    basis = torch.eye(size, dtype=torch.float64)[:, None, :, None].expand(size, 1, size, size).contiguous()
    return fn(basis)[:, 0, :, 0].T.contiguous()


class Separable(LinearOperator):
    """A X = M X M^T per channel (the same 1-D map on rows and columns); A^+ by the SVD of M.

    With M = U diag(s) V^T, A acts as the singular values s_i s_j on the coefficients
    U^T Y U of the measurement; A^+ divides by them, zero where s_i s_j < rcond * max.
    """

    def __init__(self, name: str, m: Tensor, rcond: float = 1e-6):
        self.name = name
        self.m = m.double()
        u, s, vh = torch.linalg.svd(self.m, full_matrices=False)
        ss = s[:, None] * s[None, :]
        keep = ss > rcond * ss.max()
        self.u, self.v = u.float(), vh.T.float()
        self.inv = torch.where(keep, 1 / ss.clamp_min(1e-300), torch.zeros_like(ss)).float()
        self.mf = self.m.float()

    def A(self, x: Tensor) -> Tensor:
        m = self.mf.to(x.device)
        return torch.einsum("ij,ncjk,lk->ncil", m, x.float(), m)

    def pinv(self, y: Tensor) -> Tensor:
        u, v, inv = self.u.to(y.device), self.v.to(y.device), self.inv.to(y.device)
        coef = torch.einsum("ji,ncjk,kl->ncil", u, y.float(), u) * inv
        return torch.einsum("ij,ncjk,lk->ncil", v, coef, v)


def superres_operator(size: int, factor: int) -> Separable:
    """Bicubic down-sampling by ``factor`` then bicubic up-sampling back to ``size``: the superres task's input."""
    m = matrix_1d(lambda b: bicubic_linear(bicubic_linear(b, size // factor), size), size)
    # bicubic_linear resizes both axes; the basis images are constant along the width, so
    # a square resize acts on the height as the task's square resize does.
    return Separable(f"superres:{factor}", m)


def blur_operator(size: int, sigma: float, rcond: float = 1e-2) -> Separable:
    """The deblur task's Gaussian blur of std ``sigma`` px (reflect padding); truncated-SVD inverse."""
    return Separable(f"deblur:{sigma:g}", matrix_1d(lambda b: gaussian_blur(b, sigma), size), rcond)


class Luminance(LinearOperator):
    """RGB (N, 3, S, S) -> luminance (N, 1, S, S); A^+ spreads y over the channels as w y / |w|^2."""

    name = "colorize"

    def _w(self, like: Tensor) -> Tensor:
        return torch.tensor(LUMA, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)

    def A(self, x: Tensor) -> Tensor:
        return (x * self._w(x)).sum(1, keepdim=True)

    def pinv(self, y: Tensor) -> Tensor:
        w = self._w(y)
        return y * w / (w * w).sum()


class Keep(LinearOperator):
    """Inpainting: A keeps the pixels outside the holes and zeroes the holes; A^+ = A (a projection).

    mask: (N, 1, S, S), 1 inside the holes (the inpaint task's ``extra["mask"]``).
    """

    name = "inpaint"

    def __init__(self, mask: Tensor):
        self.keep = 1 - (mask > 0.5).float()

    def batch(self, rows: slice) -> LinearOperator:
        return self if self.keep.shape[0] == 1 else Keep(1 - self.keep[rows])

    def A(self, x: Tensor) -> Tensor:
        return x * self.keep.to(x.device)

    def pinv(self, y: Tensor) -> Tensor:
        return y * self.keep.to(y.device)


class Identity(LinearOperator):
    """Denoising: A = I, with measurement noise of std ``noise_std`` ([-1, 1] units)."""

    name = "denoise"

    def __init__(self, noise_std: float):
        self.noise_std = float(noise_std)

    def A(self, x: Tensor) -> Tensor:
        return x

    def pinv(self, y: Tensor) -> Tensor:
        return y
