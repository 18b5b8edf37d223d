"""Diffusion samplers, registered by name in genzoo's sampler registry: ``ddpm``, ``ddim`` and ``dpm++2m``.

Both walk a decreasing list of timesteps t_1 > t_2 > ... > t_K and, at each, turn the
network's prediction into an estimate of the clean image x0 (clipped to [-1, 1] unless
``clip=False``) and of the noise eps, then step to the next timestep:

* ``ddpm`` (Ho et al. 2020, eq. 6-7): every t = T-1 .. 0; x_{t-1} is drawn from the
  posterior q(x_{t-1} | x_t, x0) with variance beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t.
* ``ddim`` (Song, Meng and Ermon 2021, eq. 12): K timesteps (``steps``); x_prev =
  sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z, with
  sigma = eta * sqrt((1 - abar_prev) / (1 - abar_t)) * sqrt(1 - abar_t / abar_prev).
  eta = 0 is deterministic; eta = 1 with K = T is exactly ``ddpm``. When x0 is clipped,
  eps is recomputed from the clipped x0 so that the two stay consistent.
* ``dpm++2m`` (Lu et al. 2022, DPM-Solver++(2M)): K timesteps, deterministic, second order:
  each step also uses the previous step's x0 estimate (kept in the loop's per-run ``state``),
  so 10-20 steps do what DDIM needs about 50 for.

``DiffusionSampler.run`` is the one loop over the timesteps. Step hooks called after every
step see x, x0 and eps and may replace x: trajectories (``Trajectory``) and RePaint
inpainting (``known_region`` with ``resample``) are hooks, not loops of their own.

Noise z is drawn only where sigma > 0, one (1, C, H, W) tensor per image per step from that
image's own CPU generator: the same seed gives the same images whatever the batch size
or device (see ``DiffusionModel.sample``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo.plugin import GenzooError, Sampler

SPACINGS = ("trailing", "leading", "linspace")


def is_diffusion(model: Any) -> bool:
    return bool(getattr(model, "is_diffusion_model", False))


def ddim_timesteps(T: int, steps: int, spacing: str = "trailing") -> list[int]:
    """K = ``steps`` timesteps out of T, in decreasing order.

    trailing: round(T - i T / K) - 1, so the first step is at T-1, where x_T ~ N(0, I) truly
    is the input (Lin et al. 2024, "Common diffusion noise schedules and sample steps are
    flawed", sec. 3.4). leading: i * (T // K) (the DDIM paper's code). linspace: evenly
    from T-1 to 0, rounded.
    """
    if not 1 <= steps <= T:
        raise GenzooError(f"steps must be between 1 and the model's {T} timesteps, got {steps}")
    if spacing == "trailing":
        ts = [int(round(T - i * T / steps)) - 1 for i in range(steps)]
    elif spacing == "leading":
        ratio = T // steps
        ts = [i * ratio for i in range(steps)][::-1]
    elif spacing == "linspace":
        ts = [int(round(v)) for v in torch.linspace(0, T - 1, steps, dtype=torch.float64).tolist()][::-1]
    else:
        raise GenzooError(f"unknown spacing '{spacing}'; use {', '.join(SPACINGS)}")
    if len(set(ts)) != len(ts):
        raise GenzooError(f"{spacing} spacing repeats timesteps for steps={steps}; use fewer steps")
    return ts


@dataclass(frozen=True)
class DenoiseStep:
    """What a step hook sees after one step t -> t_prev. Tensors are (B, C, S, S) in model range."""

    i: int  # index of t in the timesteps
    t: int
    t_prev: int  # -1 after the last step, where x is x_0
    x: Tensor  # x_{t_prev} as the sampler (and the hooks before this one) left it
    x0: Tensor  # the x_0 estimate at t (clipped unless clip=False)
    eps: Tensor  # the noise estimate at t, consistent with x0
    round: int = 0  # 0 .. rounds - 1: which take of this step, when resampling
    rounds: int = 1

    @property
    def last_round(self) -> bool:
        """True on the take whose x the loop goes on from."""
        return self.round + 1 == self.rounds


# Called after every step; a returned tensor (shaped like step.x) replaces x, None keeps it.
StepHook = Callable[[DenoiseStep], Tensor | None]
# Called before every step with (t, t_prev, x_t, x0, eps); a returned (x0, eps) is what the step
# uses instead of the prediction, None keeps it (e.g. DDNM's measurement-consistent x0).
EstimateHook = Callable[[int, int, Tensor, Tensor, Tensor], "tuple[Tensor, Tensor] | None"]


class DiffusionSampler(Sampler):
    """Base of the diffusion samplers: timesteps, one step rule, and the one sampling loop.

    Standalone like a diffusers scheduler: ``run`` needs only a model with ``schedule`` and
    ``predict_x0_eps``, not genzoo's engine.
    """

    options: ClassVar[tuple[str, ...]] = ("guidance", "clip")
    #: every diffusion sampler's option types; each sampler takes the ones in its ``options``
    option_types: ClassVar[dict[str, type]] = {"guidance": float, "clip": bool, "steps": int, "eta": float,
                                               "spacing": str}

    def supports(self, model: Any) -> bool:
        return is_diffusion(model)

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        """x_T ~ N(0, I): (n, C, S, S) float32 on the CPU."""
        c = model.config
        return torch.randn(n, c.channels, c.image_size, c.image_size, generator=gen)

    def timesteps(self, model: Any, **opts: Any) -> list[int]:
        raise NotImplementedError

    def step(self, model: Any, x: Tensor, x0: Tensor, eps: Tensor, t: int, t_prev: int, **opts: Any) -> tuple[Tensor, float]:
        """-> (mean of x_{t_prev}, sigma): x_{t_prev} = mean + sigma * z.

        ``opts`` holds the sampler's options and ``state``: a dict that ``run`` creates empty
        for every run and passes to every step, where multistep rules keep earlier predictions.
        """
        raise NotImplementedError

    def run(
        self,
        model: Any,
        x: Tensor,
        labels: Tensor | None,
        noise: Callable[[], Tensor],
        *,
        timesteps: list[int] | None = None,
        hooks: Sequence[StepHook] = (),
        estimate_hooks: Sequence[EstimateHook] = (),
        resample: int = 1,
        guidance: float = 1.0,
        clip: bool = True,
        **opts: Any,
    ) -> Tensor:
        """The sampling loop: denoise x_T (B, C, S, S) -> x_0 (B, C, S, S), model range, unclamped.

        Args:
            noise: returns a fresh N(0, I) tensor shaped like x, on x's device.
            timesteps: decreasing t's; None: ``self.timesteps(model, **opts)`` (callers that
                run several batches pass them, so they are computed once).
            hooks: called in order after every step (and every take of it); each may replace x.
            estimate_hooks: called in order before every step; each may replace (x0, eps).
            resample: r >= 1 takes of every step but the last, re-noising x_{t_prev} back to
                x_t between takes (RePaint's jump back; Lugmayr et al. 2022).
            opts: the step rule's options (eta, ...).
        """
        ts = self.timesteps(model, **opts) if timesteps is None else timesteps
        state: dict[str, Any] = {}  # per run: what a multistep rule remembers between steps
        for i, t in enumerate(ts):
            t_prev = ts[i + 1] if i + 1 < len(ts) else -1
            rounds = resample if t_prev >= 0 else 1  # nothing to jump back from at x_0
            for r in range(rounds):
                if r > 0:
                    x = self.renoise(model, x, t_prev, t, noise)
                x0, eps = model.predict_x0_eps(x, t, labels, guidance=guidance, clip=clip)
                for fix in estimate_hooks:
                    fixed = fix(t, t_prev, x, x0, eps)
                    x0, eps = (x0, eps) if fixed is None else fixed
                mean, sigma = self.step(model, x, x0, eps, t, t_prev, state=state, **opts)
                x = mean + sigma * noise() if sigma > 0 else mean
                for hook in hooks:
                    out = hook(DenoiseStep(i, t, t_prev, x, x0, eps, r, rounds))
                    x = x if out is None else out
        return x

    @staticmethod
    def renoise(model: Any, x: Tensor, t_from: int, t_to: int, noise: Callable[[], Tensor]) -> Tensor:
        """x_{t_to} ~ q(x_{t_to} | x_{t_from}) for t_to > t_from: the forward process over the jump."""
        a = model.schedule.abar(t_to) / model.schedule.abar(t_from)
        return math.sqrt(a) * x + math.sqrt(1 - a) * noise()


def _frame_indices(n_steps: int, frames: int) -> list[int]:
    """Which of the n_steps + 1 states (x_T = 0 .. x_0 = n_steps) to keep: evenly spread, both ends."""
    frames = max(2, min(frames, n_steps + 1))
    return sorted({round(i * n_steps / (frames - 1)) for i in range(frames)})


class Trajectory:
    """A step hook keeping ``frames`` snapshots of x (CPU copies) from x_T to x_0, evenly
    spread over ``n_steps`` steps, both ends included."""

    def __init__(self, x_T: Tensor, n_steps: int, frames: int):
        self.keep = set(_frame_indices(n_steps, frames))
        self.frames: list[Tensor] = [x_T.detach().cpu().clone()] if 0 in self.keep else []

    def __call__(self, step: DenoiseStep) -> None:
        if step.last_round and step.i + 1 in self.keep:
            self.frames.append(step.x.detach().cpu().clone())

    def stacked(self) -> Tensor:
        """(B, F, C, S, S): the snapshots, oldest first."""
        return torch.stack(self.frames, dim=1)


def known_region(model: Any, known: Tensor, mask: Tensor, noise: Callable[[], Tensor]) -> StepHook:
    """RePaint's step hook: outside ``mask`` (1 = generate, 0 = keep; (B, C, S, S)), x_{t_prev}
    becomes ``known`` (B, C, S, S, model range) noised to t_prev, so the generated part is
    always denoised next to the true surroundings at the same noise level."""

    def replace(step: DenoiseStep) -> Tensor:
        ab_prev = model.schedule.abar(step.t_prev)
        known_part = math.sqrt(ab_prev) * known + math.sqrt(1 - ab_prev) * noise() if step.t_prev >= 0 else known
        return mask * step.x + (1 - mask) * known_part

    return replace


class DDPMSampler(DiffusionSampler):
    description = "diffusion: ancestral sampling over all T timesteps (Ho et al. 2020)"
    options = ("guidance", "clip")
    refused_hints = {"steps": "ddpm always runs all timesteps; use --sampler ddim for fewer"}

    def timesteps(self, model: Any, **opts: Any) -> list[int]:
        return list(range(model.schedule.timesteps - 1, -1, -1))

    def step(self, model: Any, x: Tensor, x0: Tensor, eps: Tensor, t: int, t_prev: int, **opts: Any) -> tuple[Tensor, float]:
        s = model.schedule
        ab_t, ab_prev = s.abar(t), s.abar(t_prev)
        alpha_t = ab_t / ab_prev  # 1 - beta_t, also for a respaced step
        beta_t = 1 - alpha_t
        # posterior mean (Ho et al. eq. 7) and variance beta~_t
        c0 = math.sqrt(ab_prev) * beta_t / (1 - ab_t)
        ct = math.sqrt(alpha_t) * (1 - ab_prev) / (1 - ab_t)
        var = (1 - ab_prev) / (1 - ab_t) * beta_t
        return c0 * x0 + ct * x, math.sqrt(max(var, 1e-20)) if t_prev >= 0 else 0.0


class DDIMSampler(DiffusionSampler):
    description = "diffusion: DDIM on `steps` timesteps (default 50), eta 0 = deterministic (Song et al. 2021)"
    options = ("guidance", "clip", "steps", "eta", "spacing")

    def timesteps(self, model: Any, *, steps: int = 50, spacing: str = "trailing", **opts: Any) -> list[int]:
        return ddim_timesteps(model.schedule.timesteps, int(steps), spacing)

    def step(self, model: Any, x: Tensor, x0: Tensor, eps: Tensor, t: int, t_prev: int, *, eta: float = 0.0,
             **opts: Any) -> tuple[Tensor, float]:
        if eta < 0:
            raise GenzooError(f"eta must be >= 0 (0: deterministic DDIM, 1: DDPM-like), got {eta}")
        s = model.schedule
        ab_t, ab_prev = s.abar(t), s.abar(t_prev)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
        direction = math.sqrt(max(1 - ab_prev - sigma**2, 0.0))
        return math.sqrt(ab_prev) * x0 + direction * eps, sigma


def _log_snr_half(abar: float) -> float:
    """lambda = log(alpha / sigma) = log(sqrt(abar) / sqrt(1 - abar)), the half log-SNR of DPM-Solver."""
    return 0.5 * (math.log(abar) - math.log1p(-abar))


class DPMSolverPP2MSampler(DiffusionSampler):
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095, Algorithm 2): a deterministic
    second-order multistep solver of the diffusion ODE in data prediction (x0) form.

    With alpha = sqrt(abar), sigma = sqrt(1 - abar), lambda = log(alpha / sigma) and
    h = lambda_prev - lambda_t, one step from t to t_prev is

        x_prev = (sigma_prev / sigma_t) x_t + alpha_prev (1 - e^-h) D,
        D = x0_t + (x0_t - x0_s) / (2 r),  r = (lambda_t - lambda_s) / h,

    where s is the step before t: the x0 estimate of the previous step turns the
    first-order (DDIM) step into a second-order one at no extra network evaluation. The first
    step (no history yet) has D = x0_t, which is exactly DDIM; the last step (to t_prev = -1,
    sigma 0) returns x0_t. This is diffusers' ``DPMSolverMultistepScheduler(algorithm_type=
    "dpmsolver++", solver_order=2, solver_type="midpoint", final_sigmas_type="zero")``.
    """

    description = "diffusion: DPM-Solver++(2M) on `steps` timesteps (default 20), deterministic (Lu et al. 2022)"
    options = ("guidance", "clip", "steps", "spacing")
    refused_hints = {"eta": "dpm++2m is deterministic; use --sampler ddim for eta > 0"}

    def timesteps(self, model: Any, *, steps: int = 20, spacing: str = "trailing", **opts: Any) -> list[int]:
        return ddim_timesteps(model.schedule.timesteps, int(steps), spacing)

    def step(self, model: Any, x: Tensor, x0: Tensor, eps: Tensor, t: int, t_prev: int, *,
             state: dict[str, Any] | None = None, **opts: Any) -> tuple[Tensor, float]:
        history: list[tuple[int, Tensor]] = state.setdefault("x0", []) if state is not None else []
        if history and history[-1][0] == t:  # a retake of this step (resample): its new x0 replaces the old
            history.pop()
        earlier = history[-1] if history else None
        history[:] = [(t, x0)]  # the next step needs only this one
        if t_prev < 0:  # sigma_prev = 0: the solution at t = 0 is the x0 estimate itself
            return x0, 0.0
        s = model.schedule
        ab_t, ab_prev = s.abar(t), s.abar(t_prev)
        lam_t, lam_prev = _log_snr_half(ab_t), _log_snr_half(ab_prev)
        h = lam_prev - lam_t
        d = x0
        if earlier is not None:
            t_s, x0_s = earlier
            r = (lam_t - _log_snr_half(s.abar(t_s))) / h
            d = x0 + (0.5 / r) * (x0 - x0_s)
        ratio = math.sqrt((1 - ab_prev) / (1 - ab_t))  # sigma_prev / sigma_t
        return ratio * x + (math.sqrt(ab_prev) * -math.expm1(-h)) * d, 0.0
