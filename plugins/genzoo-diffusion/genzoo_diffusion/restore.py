"""Zero-shot restoration of linear degradations with DDNM (Wang, Yu and Zhang 2022, arXiv:2212.00490).

For a measurement y = A x (super-resolution, deblurring, colorization, inpainting, denoising:
:mod:`genzoo.degradations`), every step of the sampler first predicts x0 from x_t and then
replaces it by its *null-space projection*

    x0' = A^+ y + (I - A^+ A) x0,

which takes the part of the image that A sees (its range space) from the measurement and
only the part A cannot see (its null space) from the model. Then A x0' = y exactly, at
every step, with no step size to tune and no gradient through the network. The step goes
on with x0' and the network's eps (DDIM, eta = 0.85 by default as in the paper).

DDNM+ (the paper's sec. 3.3) for a noisy measurement y = A x + n, n ~ N(0, sigma_y^2): the
correction is scaled, x0' = x0 - lambda_t A^+(A x0 - y), so that the noise it brings,
sqrt(abar_{t-1}) lambda_t sigma_y, fits into the noise x_{t-1} should carry; the eps term of
the step is shrunk by gamma_t to leave room for it (total variance stays 1 - abar_{t-1}).
Early (noisy) steps take the measurement whole; late steps trust it less and less; the last
step is the model's own denoised estimate. Here sigma_y is taken per pixel of A^+ n, which
is exact for denoising (A = I), the one noisy task.

Resampling (``resample`` r > 1, the sampler loop's RePaint jump back) is the paper's
"time-travel" with a jump of one step: it helps when most of the image is in the null space
(x4 super-resolution, colorization).

Everything goes through :meth:`DiffusionSampler.run`: DDNM is an ``estimate_hooks`` entry.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genzoo.plugin import GenzooError, LinearOperator, make_progress, to_signed, to_unit
from genzoo_diffusion import _image_generators, _noise_from
from genzoo_diffusion.samplers import EstimateHook


def ddnm_hook(model: Any, operator: LinearOperator, y: Tensor, *, eta: float) -> EstimateHook:
    """The DDNM (DDNM+ when ``operator.noise_std`` > 0) correction of x0 as a sampler estimate hook.

    y: the measurement (B, C', S, S) in [-1, 1] units; eta: the DDIM eta the steps use (DDNM+
    needs the step's own noise to budget the measurement's).
    """
    sigma_y = float(operator.noise_std)

    def fix(t: int, t_prev: int, x: Tensor, x0: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
        if sigma_y <= 0:
            return operator.project(x0, y), eps
        ab_t, ab_prev = model.schedule.abar(t), model.schedule.abar(t_prev)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
        budget = max(1 - ab_prev - sigma**2, 0.0)  # variance the eps term of the step carries
        from_y = ab_prev * sigma_y**2  # variance the measurement's noise brings through x0'
        if from_y <= budget:
            lam, gamma = 1.0, math.sqrt((budget - from_y) / budget) if budget > 0 else 0.0
        else:
            lam, gamma = math.sqrt(budget / from_y), 0.0
        return x0 - lam * operator.pinv(operator.A(x0) - y), gamma * eps

    return fix


@torch.inference_mode()
def restore(model: Any, y: Tensor, operator: LinearOperator, *, seed: int = 0, labels: Any = None,
            steps: int = 100, eta: float = 0.85, resample: int = 1, guidance: float | None = None,
            batch_size: int = 64, progress: bool = False) -> Tensor:
    """Restore x from y = A x with the diffusion model as the prior (DDNM over DDIM).

    Args:
        y: the measurements (N, C', S, S) in [0, 1] (A of the [-1, 1] image, mapped to [0, 1]).
        operator: A and A^+, acting on (N, C, S, S) images in [-1, 1].
        labels: classes for a conditional model; None: the unconditional prediction.
        steps: DDIM timesteps; eta: DDIM noise (the paper uses 0.85); resample: takes of each step.
    Returns:
        (N, C, S, S) in [0, 1]; A(restored) equals y up to clamping to [0, 1] (exact
        measurements) or follows y within its noise (DDNM+).
    """
    c = model.config
    if y.ndim != 4 or tuple(y.shape[-2:]) != (c.image_size, c.image_size):
        raise GenzooError(f"restore needs measurements shaped (N, C, {c.image_size}, {c.image_size}), got {tuple(y.shape)}")
    if resample < 1:
        raise GenzooError(f"resample must be at least 1, got {resample}")
    if eta < 0:
        raise GenzooError(f"eta must be >= 0, got {eta}")
    n = y.shape[0]
    ys = to_signed(y.float().cpu())
    back = operator.batch(slice(0, 1)).pinv(ys[:1])  # A^+ y must be an image of the model's shape
    if tuple(back.shape[1:]) != (c.channels, c.image_size, c.image_size):
        raise GenzooError(f"{operator.name} of measurements shaped {tuple(ys.shape[1:])} gives images shaped "
                          f"{tuple(back.shape[1:])}, but the model makes {(c.channels, c.image_size, c.image_size)}; "
                          "check the task and the model")
    lab = model.check_labels(labels, n) if labels is not None else None
    opts: dict[str, Any] = {"steps": int(steps), "eta": float(eta)}
    if guidance is not None:
        opts["guidance"] = guidance
    plan = model._prepare("ddim", opts)  # the ddim step rule; bad steps fail here, before any work
    gens = _image_generators(torch.Generator().manual_seed(int(seed)), n)
    x_T = torch.cat([plan.sampler.latents(model, 1, g) for g in gens])
    ts = plan.timesteps
    outs = []
    bar = make_progress(transient=True)
    bar.disable = not progress
    with bar, model.evaluating():
        task = bar.add_task(f"DDNM {operator.name}", total=((len(ts) - 1) * resample + 1) * math.ceil(n / batch_size))
        for i in range(0, n, batch_size):
            b = slice(i, i + batch_size)
            xb = x_T[b].to(model.device)
            yb = lab[b].to(model.device) if lab is not None else None
            op = operator.batch(b)
            fix = ddnm_hook(model, op, ys[b].to(model.device), eta=float(eta))
            x0 = plan.sampler.run(model, xb, yb, _noise_from(gens[b], xb), timesteps=ts, estimate_hooks=[fix],
                                  hooks=[lambda step: bar.advance(task)], resample=resample, **plan.opts)
            outs.append(x0.float().cpu())
    return to_unit(torch.cat(outs)).clamp(0, 1)

