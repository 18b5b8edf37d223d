"""Denoising diffusion (Ho, Jain and Abbeel 2020, arXiv:2006.11239) as a genzoo family.

Training: pick t uniformly in 0 .. T-1 and noise eps ~ N(0, I), form
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, and minimise the squared error of the network's
v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 (``prediction=v``, Salimans and Ho 2022; ``eps`` is
Ho et al.'s ||eps - eps_theta(x_t, t, y)||^2), weighted per timestep by Min-SNR-gamma
(``min_snr_gamma`` 5, Hang et al. 2023), under the cosine schedule (Nichol and Dhariwal 2021).
Those three are the defaults because they measured far better in a CPU budget than Ho et al.'s
linear schedule with eps and no weighting (``--set schedule=linear --set prediction=eps --set
min_snr_gamma=0``). Class-conditional models replace the label by "no label" with
probability ``label_dropout``, so one network gives both the conditional and the
unconditional prediction and classifier-free guidance works at sampling time
(Ho and Salimans 2022): eps = eps_uncond + w (eps_cond - eps_uncond), w = ``guidance``.

Sampling goes through the sampler registry: ``ddim`` (default, 50 steps), ``dpm++2m`` or ``ddpm``
(see :mod:`genzoo_diffusion.samplers`). ``model.inpaint`` fills masked regions
RePaint-style; ``model.restore`` inverts linear degradations (super-resolution, deblurring,
colorization, denoising) with DDNM (:mod:`genzoo_diffusion.restore`). Uses only the public plugin API (genzoo.plugin), as a third-party plugin would.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.plugin import (
    Family,
    GenerativeModel,
    GenzooError,
    ModelConfig,
    Phase,
    Recipe,
    StepContext,
    bounded,
    make_progress,
    samplers as sampler_registry,
    to_signed,
    to_unit,
)
from genzoo.plugin import standard_recipes  # the zoo's reference recipes (genzoo zoo list)
from genzoo_diffusion.samplers import (
    DDIMSampler,
    DDPMSampler,
    DenoiseStep,
    DiffusionSampler,
    EstimateHook,
    StepHook,
    Trajectory,
    ddim_timesteps,
    known_region,
)
from genzoo_diffusion.schedule import NoiseSchedule
from genzoo_diffusion.unet import UNet, default_attention, default_channel_mult

__version__ = "0.1.0"
__all__ = ["DiffusionConfig", "DiffusionModel", "DiffusionFamily", "NoiseSchedule", "UNet", "DDPMSampler",
           "DDIMSampler", "DiffusionSampler", "DenoiseStep", "StepHook", "Trajectory", "ddim_timesteps",
           "known_region", "min_snr_weights", "EstimateHook"]

PREDICTIONS = ("eps", "v")


@dataclass
class DiffusionConfig(ModelConfig):
    # forward process
    timesteps: int = bounded(1000, min=1)  # T
    # cosine + v + Min-SNR 5, not Ho et al.'s linear + eps: on Fashion-MNIST in 30 CPU-minutes
    # (about 950 steps of 64) FID 9.23 -> 1.81 and label accuracy 0.56 -> 0.81 (docs/diffusion.md)
    schedule: str = "cosine"  # linear (Ho et al.) | cosine (Nichol and Dhariwal)
    beta_start: float = bounded(1e-4, min=0, max=1, min_open=True, max_open=True)  # linear schedule only
    beta_end: float = bounded(0.02, min=0, max=1, min_open=True, max_open=True)  # linear schedule only
    prediction: str = "v"  # eps | v: what the network predicts
    min_snr_gamma: float = bounded(5.0, min=0)  # > 0: Min-SNR-gamma loss weights (Hang et al. 2023; 5 in the paper); 0 = off
    # U-Net
    # 0 / () below mean "by image size" (see sizes_for); the values used are written to config.json
    width: int = bounded(0, min=0)  # channels at full resolution (level i: width * channel_mult[i]); 16 to 16 px, 32 to 32 px, else 64
    channel_mult: tuple[int, ...] = bounded((), min=1)  # (1,2,2) to 28 px, (1,2,2,2) at 32, (1,2,3,4) from 64
    num_res_blocks: int = bounded(0, min=0)  # residual blocks per level (the up path has one more); 1 to 16 px, else 2
    attention_resolutions: tuple[int, ...] = bounded((), min=1)  # sides with self-attention: those <= 8 px below the top
    attention_heads: int = bounded(4, min=1)
    dropout: float = bounded(0.1, min=0, max=1, max_open=True)
    norm_groups: int = bounded(8, min=1)  # GroupNorm groups (reduced to a divisor of the channels where needed)
    # conditioning
    conditional: bool = True  # use class labels when the data has them (off automatically otherwise)
    label_dropout: float = bounded(0.1, min=0, max=1)  # probability of training on "no label": enables classifier-free guidance
    # optimisation (Ho et al.: Adam 2e-4, grad clip 1, EMA 0.9999 over 800k steps; EMA 0.999 suits short runs)
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    ema: float = 0.999
    steps: int = 3000
    batch_size: int = 64
    sample_every: int = 1000
    checkpoint_every: int = 500
    log_every: int = 50


def sizes_for(config: DiffusionConfig, image_size: int) -> DiffusionConfig:
    """Fill the "by image size" U-Net settings (width, blocks, levels, attention) for ``image_size``.

    Small images get a small network so the default digits run (16 px) trains in minutes on a CPU.
    """
    mult = tuple(config.channel_mult) or default_channel_mult(image_size)
    return dataclasses.replace(
        config,
        width=config.width or (16 if image_size <= 16 else 32 if image_size <= 32 else 64),
        num_res_blocks=config.num_res_blocks or (1 if image_size <= 16 else 2),
        channel_mult=mult,
        attention_resolutions=tuple(config.attention_resolutions) or default_attention(image_size, mult),
    )


#: Batch size by image side: the default 64 at 64 px already peaks near 8 GB of memory in
#: training (activations of the full-resolution levels), and each doubling of the side needs
#: 3-4x as much per image; these keep the peak near that of 64 px (docs/diffusion.md, "Sizes").
BATCH_BY_SIZE = {128: 16, 256: 4}


def batch_for(image_size: int) -> int | None:
    """The default batch size at ``image_size`` px (None: the config's default, 64)."""
    return next((b for s, b in sorted(BATCH_BY_SIZE.items(), reverse=True) if image_size >= s), None)


@dataclass
class _Plan:
    """A checked sampling request: the sampler, its timesteps (computed once) and its options."""

    sampler: DiffusionSampler
    timesteps: list[int]
    opts: dict[str, Any]


class DiffusionModel(GenerativeModel):
    """denoiser: a :class:`~genzoo_diffusion.unet.UNet`; schedule: the forward process tables.

    Sampling: ``model.sample(n, seed=0, sampler="ddim", steps=50, eta=0.0, guidance=3.0)``.
    """

    sampling_network = "denoiser"
    default_sampler = "ddim"
    is_diffusion_model = True

    def __init__(self, config: DiffusionConfig):
        super().__init__(config)
        if config.prediction not in PREDICTIONS:
            raise GenzooError(f"unknown prediction '{config.prediction}'; use eps or v")
        if not 0 <= config.label_dropout < 1:
            raise GenzooError(f"label_dropout must be in [0, 1), got {config.label_dropout}")
        self.schedule = NoiseSchedule(config.schedule, config.timesteps, config.beta_start, config.beta_end)
        k = config.num_classes if config.conditional else 0
        c = sizes_for(config, config.image_size)
        self.denoiser = UNet(
            c.channels, c.image_size, c.width, tuple(c.channel_mult), c.num_res_blocks,
            tuple(c.attention_resolutions), c.attention_heads, c.dropout, c.norm_groups, k,
        )

    # -- the prediction ----------------------------------------------------------------------
    def model_output(self, x: Tensor, t: int, labels: Tensor | None, guidance: float = 1.0) -> Tensor:
        """The network's output at integer timestep t for x (B, C, S, S), with classifier-free guidance.

        ``labels`` None means unconditional. guidance w: 1 = plain conditional, 0 = unconditional,
        > 1 = out_uncond + w (out_cond - out_uncond).
        """
        tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
        if labels is None or guidance == 1.0:
            return self.denoiser(x, tt, labels)
        if guidance == 0.0:
            return self.denoiser(x, tt, None)
        null = torch.full_like(labels, self.denoiser.null_label)
        cond, uncond = self.denoiser(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null])).chunk(2)
        return uncond + guidance * (cond - uncond)

    def predict_x0_eps(self, x: Tensor, t: int, labels: Tensor | None, *, guidance: float = 1.0,
                       clip: bool = True) -> tuple[Tensor, Tensor]:
        """-> (x0 estimate, eps estimate), each (B, C, S, S). With ``clip``, x0 is clamped to
        [-1, 1] and eps recomputed from it, so x_t = sqrt(abar) x0 + sqrt(1 - abar) eps still holds."""
        out = self.model_output(x, t, labels, guidance).float()
        ab = self.schedule.abar(t)
        a, b = math.sqrt(ab), math.sqrt(1 - ab)
        if self.config.prediction == "eps":
            eps = out
            x0 = (x - b * eps) / a
        else:  # v = a eps - b x0
            x0 = a * x - b * out
            eps = a * out + b * x
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - a * x0) / b
        return x0, eps

    # -- sampling ----------------------------------------------------------------------------
    def sampler_names(self) -> list[str]:
        return [n for n in sampler_registry.names() if _usable(n, self)]

    def get_sampler(self, name: str | None) -> DiffusionSampler:
        name = name or self.default_sampler
        s = sampler_registry.get(name)
        if not s.supports(self):
            raise GenzooError(f"sampler '{name}' cannot drive a diffusion model (usable: {', '.join(self.sampler_names())})")
        return s

    def _prepare(self, sampler: str | None, opts: dict[str, Any]) -> _Plan:
        """Check a sampling request; its timesteps are computed here, once per call."""
        s = self.get_sampler(sampler)
        opts = {k: v for k, v in opts.items() if v is not None}
        opts = s.check_options(opts)
        g = opts.get("guidance", 1.0)
        if g != 1.0 and not self.is_conditional:
            raise GenzooError("guidance needs a class-conditional model; this one was trained without labels (drop --guidance)")
        if g < 0:
            raise GenzooError(f"guidance must be >= 0 (1 = plain conditional, 0 = unconditional), got {g}")
        return _Plan(s, s.timesteps(self, **opts), opts)  # bad steps or spacing fail here, before any work

    def _sample_all(self, n: int, gen: torch.Generator, labels: Tensor | None, *, sampler: str | None,
                    batch_size: int, progress: bool = False, **kwargs: Any) -> Tensor:
        x, _ = self._run(n, gen, labels, sampler, batch_size, progress, frames=0, opts=kwargs)
        return x

    def _run(self, n: int, gen: torch.Generator, labels: Tensor | None, sampler: str | None, batch_size: int,
             progress: bool, frames: int, opts: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        plan = self._prepare(sampler, opts)
        gens = _image_generators(gen, n)
        x_T = torch.cat([plan.sampler.latents(self, 1, g) for g in gens])
        return self._denoise_batches(plan, x_T, labels, gens, batch_size=batch_size, progress=progress, frames=frames)

    def _denoise_batches(self, plan: _Plan, x_T: Tensor, labels: Tensor | None, gens: list[torch.Generator], *,
                         batch_size: int, progress: bool = False, frames: int = 0, known: Tensor | None = None,
                         mask: Tensor | None = None, resample: int = 1) -> tuple[Tensor, Tensor | None]:
        """Run the sampler loop over x_T (N, C, S, S) batch by batch; image i's noise comes from gens[i].

        With ``known`` and ``mask`` (N, C, S, S; known in model range, mask 1 = fill) the pixels
        where mask is 0 follow ``known`` (RePaint), each step taken ``resample`` times.
        Returns x_0 (N, C, S, S) in model range, unclamped, and the trajectory (N, F, C, S, S)
        when ``frames`` (else None).
        """
        n, ts = x_T.shape[0], plan.timesteps
        outs, trajs = [], []
        bar = make_progress(transient=True)
        bar.disable = not progress
        with bar:
            evals = (len(ts) - 1) * resample + 1  # network passes per batch: the last step is taken once
            what = "inpainting" if known is not None else "sampling"
            task = bar.add_task(f"{plan.sampler.name} {what}", total=evals * math.ceil(n / batch_size))
            for i in range(0, n, batch_size):
                b = slice(i, i + batch_size)
                xb = x_T[b].to(self.device)
                yb = labels[b].to(self.device) if labels is not None else None
                noise = _noise_from(gens[b], xb)
                hooks: list[StepHook] = []
                if known is not None and mask is not None:
                    hooks.append(known_region(self, known[b].to(self.device), mask[b].to(self.device), noise))
                traj = Trajectory(xb, len(ts), frames) if frames else None
                if traj is not None:
                    hooks.append(traj)
                hooks.append(lambda step: bar.advance(task))
                x0 = plan.sampler.run(self, xb, yb, noise, timesteps=ts, hooks=hooks, resample=resample, **plan.opts)
                outs.append(x0.cpu())
                if traj is not None:
                    trajs.append(traj.stacked())
        return torch.cat(outs), (torch.cat(trajs) if frames else None)

    @torch.inference_mode()
    def denoise_from(self, x_T: Tensor, labels: Any = None, *, sampler: str | None = None,
                     generators: list[torch.Generator] | None = None, seed: int = 0, batch_size: int = 256,
                     **opts: Any) -> Tensor:
        """Run a sampler from given starting noise; model range in, model range out.

        Args:
            x_T: (N, C, S, S) starting noise (standard normal).
            labels: class labels for conditional models (None: cycle through the classes).
            generators: N CPU generators; image i's per-step noise comes from generators[i]
                (consumed in place). None: derived from ``seed``.
            opts: sampler options (steps, eta, spacing, guidance, clip).
        Returns:
            x_0 (N, C, S, S) in [-1, 1] model range, not clamped (as diffusers' schedulers return it).
        """
        n = x_T.shape[0]
        y = self.check_labels(labels, n)
        if generators is None:
            generators = _image_generators(torch.Generator().manual_seed(int(seed)), n)
        if len(generators) != n:
            raise GenzooError(f"got {len(generators)} generators for {n} images; give one per image")
        plan = self._prepare(sampler, opts)
        with self.evaluating():
            x, _ = self._denoise_batches(plan, x_T.float(), y, generators, batch_size=batch_size)
        return x

    @torch.inference_mode()
    def sample_trajectory(self, n: int, *, seed: int | None = None, labels: Any = None, sampler: str | None = None,
                          frames: int = 10, batch_size: int = 256, progress: bool = False,
                          **opts: Any) -> tuple[Tensor, Tensor]:
        """Like :meth:`sample` (same seed, same final images), also returning the path from x_T to x_0.

        Returns:
            images (n, C, S, S) in [0, 1]; trajectory (n, F, C, S, S) in [0, 1] (clamped), F <= ``frames``
            snapshots evenly spread over the sampler's steps, the first x_T and the last x_0.
        """
        if frames < 2:
            raise GenzooError(f"a trajectory needs at least 2 frames (x_T and x_0), got {frames}")
        gen, y = self.sampling_inputs(n, seed, labels)
        with self.evaluating():
            x, traj = self._run(n, gen, y, sampler, batch_size, progress, frames, opts)
        assert traj is not None
        return to_unit(x.float()), to_unit(traj.float())

    # -- inpainting --------------------------------------------------------------------------
    @torch.inference_mode()
    def inpaint(self, images: Tensor, mask: Tensor, *, seed: int = 0, labels: Any = None, sampler: str = "ddim",
                steps: int = 100, eta: float = 1.0, resample: int = 5, guidance: float | None = None,
                batch_size: int = 256, progress: bool = False) -> Tensor:
        """Fill the masked part of ``images`` with content consistent with the rest (RePaint-style).

        At every step the known region of x_{t'} is replaced by the original noised to t'
        (Lugmayr et al. 2022, arXiv:2201.09865); with ``resample`` r > 1 each step is
        repeated r times, re-noising x_{t'} back to x_t in between, which lets the generated
        part agree with the known part. Both go through the sampler's one loop
        (:meth:`DiffusionSampler.run`: a step hook and its ``resample`` option).

        Args:
            images: (N, C, S, S) in [0, 1].
            mask: (N or 1, 1 or C, S, S), or (S, S); 1 (> 0.5) marks pixels to fill, 0 pixels to keep.
            labels: classes for a conditional model; None: the unconditional prediction.
            sampler: ddim (``steps`` timesteps, ``eta``; eta 1 = ancestral), dpm++2m (``steps``, deterministic)
                or ddpm (all T); options a sampler does not take are ignored.
        Returns:
            (N, C, S, S) in [0, 1], equal to ``images`` exactly wherever mask is 0.
        """
        c = self.config
        if images.ndim != 4 or tuple(images.shape[1:]) != (c.channels, c.image_size, c.image_size):
            raise GenzooError(
                f"inpaint needs images shaped (N, {c.channels}, {c.image_size}, {c.image_size}), got {tuple(images.shape)}"
            )
        if resample < 1:
            raise GenzooError(f"resample must be at least 1, got {resample}")
        n = images.shape[0]
        m = self._fill_mask(mask, images)
        images = images.float().cpu()
        y = self.check_labels(labels, n) if labels is not None else None
        takes = self.get_sampler(sampler).options  # ddim takes steps and eta, dpm++2m steps, ddpm neither
        opts: dict[str, Any] = {k: v for k, v in (("steps", steps), ("eta", eta)) if k in takes}
        if guidance is not None:
            opts["guidance"] = guidance
        plan = self._prepare(sampler, opts)
        gens = _image_generators(torch.Generator().manual_seed(int(seed)), n)
        x_T = torch.cat([plan.sampler.latents(self, 1, g) for g in gens])
        with self.evaluating():
            x, _ = self._denoise_batches(plan, x_T, y, gens, batch_size=batch_size, progress=progress,
                                         known=to_signed(images), mask=m, resample=resample)
        return torch.where(m > 0.5, to_unit(x.float()), images)

    # -- restoration (the Restores capability) -------------------------------------------------
    def restore(self, y: Tensor, operator: Any, **options: Any) -> Tensor:
        """Invert a linear degradation y = A x with DDNM: see :func:`genzoo_diffusion.restore.restore`.

        y: (N, C', S, S) in [0, 1]; operator: a ``genzoo.plugin.LinearOperator``. -> (N, C, S, S) in [0, 1].
        """
        from genzoo_diffusion.restore import restore  # here: restore.py imports this module's helpers

        return restore(self, y, operator, **options)

    def _fill_mask(self, mask: Tensor, images: Tensor) -> Tensor:
        """An inpainting mask, any shape ``inpaint`` takes, as (N, C, S, S) float of 0 / 1 (1 = fill)."""
        c, n = self.config, images.shape[0]
        m = mask.float()
        while m.ndim < 4:
            m = m.unsqueeze(0)
        if tuple(m.shape[-2:]) != (c.image_size, c.image_size) or m.shape[0] not in (1, n) or m.shape[1] not in (1, c.channels):
            raise GenzooError(f"mask shape {tuple(mask.shape)} does not fit images {tuple(images.shape)}; give (N|1, 1, H, W)")
        return (m > 0.5).float().expand(n, c.channels, -1, -1)


def _usable(name: str, model: Any) -> bool:
    try:
        return bool(sampler_registry.get(name).supports(model))
    except GenzooError:
        return False


def _image_generators(gen: torch.Generator, n: int) -> list[torch.Generator]:
    """One generator per image, seeded from ``gen``: x_T and every step's noise for image i come
    from stream i, so batch size and device do not change the result."""
    return [torch.Generator().manual_seed(int(v)) for v in torch.randint(0, 2**62, (n,), generator=gen).tolist()]


def _noise_from(gens: list[torch.Generator], like: Tensor) -> Callable[[], Tensor]:
    """A function giving N(0, I) shaped like ``like``: row i from gens[i], drawn on the CPU."""
    shape = (1, *like.shape[1:])

    def draw() -> Tensor:
        return torch.cat([torch.randn(shape, generator=g) for g in gens]).to(like.device)

    return draw


# ------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------
def diffusion_loss(ctx: StepContext) -> Tensor:
    """||target - network(x_t, t, y)||^2 with t ~ U{0..T-1}; target eps or v."""
    model: DiffusionModel = ctx.model  # type: ignore[assignment]
    c = model.config
    x0 = ctx.batch.images
    b = x0.shape[0]
    t = torch.randint(0, c.timesteps, (b,), device=x0.device)
    eps = torch.randn_like(x0)
    ab = model.schedule.alphas_cumprod_on(x0.device)[t].view(b, 1, 1, 1)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    y = ctx.batch.labels if model.is_conditional else None
    if y is not None and c.label_dropout > 0:
        drop = torch.rand(b, device=x0.device) < c.label_dropout
        y = torch.where(drop, torch.full_like(y, model.denoiser.null_label), y)
    out = model.denoiser(x_t, t, y)
    target = eps if c.prediction == "eps" else ab.sqrt() * eps - (1 - ab).sqrt() * x0
    if c.min_snr_gamma > 0:
        per_image = ((out.float() - target) ** 2).mean(dim=(1, 2, 3))
        return (min_snr_weights(ab.view(b), c.min_snr_gamma, c.prediction) * per_image).mean()
    return F.mse_loss(out.float(), target)


def min_snr_weights(abar: Tensor, gamma: float, prediction: str = "eps") -> Tensor:
    """Min-SNR-gamma loss weights (Hang et al. 2023, arXiv:2303.09556), shape of ``abar`` (B,).

    With SNR = abar / (1 - abar), the x0-space loss weighted by min(SNR, gamma) becomes, for the
    eps target, min(SNR, gamma) / SNR and, for the v target, min(SNR, gamma) / (SNR + 1): the
    nearly clean timesteps (SNR > gamma) count less; the noisy ones keep weight 1 (eps) or
    SNR / (SNR + 1) (v), i.e. the x0-space weight SNR.
    """
    snr = abar / (1 - abar)
    capped = snr.clamp(max=gamma)
    return capped / snr if prediction == "eps" else capped / (snr + 1)


class DiffusionFamily(Family):
    card_template = "genzoo.card_templates:diffusion.md"
    description = "Denoising diffusion (DDPM training; ddpm/ddim/dpm++2m samplers, guidance, inpainting); 16-256 px, gray or RGB"
    config_class = DiffusionConfig
    model_class = DiffusionModel
    supports_labels = True
    # 30 CPU-minutes: diffusion needs far more steps than the other families; sampling is slow
    # too (DDIM-50 at about 5 img/s on a 2-core CPU), so the CPU evaluations draw fewer images.
    # On a CPU budget: one residual block per level and no dropout, 1.7x the steps of the default
    # U-Net in 30 minutes; on Fashion-MNIST FID 1.81 -> 1.18 (docs/diffusion.md). The GPU recipes
    # keep the size defaults and dropout.
    reference_recipes = standard_recipes(cpu_minutes=30, eval_n={"digits": 500, "fashion-mnist": 1000},
                                         cpu_overrides={"num_res_blocks": 1, "dropout": 0.0})
    image_sizes = (16, 28, 32, 64, 128, 256)
    image_size_rule = "any side; the U-Net halves it while it stays even (to 4 px, from 128 px to 8 px)"

    def size_defaults(self, image_size: int, config: DiffusionConfig | None = None) -> dict[str, Any]:  # type: ignore[override]
        # from the user's config: attention follows the levels asked for with --set channel_mult
        c = sizes_for(config if config is not None else DiffusionConfig(), image_size)
        out: dict[str, Any] = {"width": c.width, "channel_mult": tuple(c.channel_mult), "num_res_blocks": c.num_res_blocks,
                               "attention_resolutions": tuple(c.attention_resolutions)}
        batch = batch_for(image_size)
        return out if batch is None else {**out, "batch_size": batch}

    def configure_for_data(self, config: DiffusionConfig, data: Any) -> DiffusionConfig:  # type: ignore[override]
        # Conditioning is on by default; data without labels trains an unconditional model
        # instead of failing.
        if config.conditional and data.num_classes < 2:
            config = dataclasses.replace(config, conditional=False)
        config = sizes_for(config, config.image_size or data.image_size)
        return super().configure_for_data(config, data)  # type: ignore[return-value]

    def recipe(self, model: DiffusionModel, config: DiffusionConfig) -> Recipe:  # type: ignore[override]
        return Recipe([Phase("denoise", ["denoiser"], diffusion_loss)])

