"""Families, models and training recipes: what a plugin provides.

A plugin gives genzoo a :class:`Family`: a name, a config dataclass, a model class
(networks + how to sample), and a :class:`Recipe` (which optimizers exist and which loss
each one minimises). The one training engine (:mod:`genzoo.engine`) runs every recipe;
families never write their own loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import sys
from importlib import metadata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy
import torch
from torch import Tensor, nn

from genzoo import __version__
from genzoo.config import ModelConfig
from genzoo.errors import GenzooError
from genzoo.interfaces import to_unit
from genzoo.io import (  # noqa: F401  (the file names are re-exported for older imports)
    CARD_NAME, CONFIG_NAME, PICKLE_SUFFIXES, SAMPLES_NAME, WEIGHTS_NAME, save_tensors, write_json,
)
from genzoo.recipes import ReferenceRecipe
from genzoo.registry import families, samplers

if TYPE_CHECKING:  # the engine imports this module; the hook types only name its context
    from genzoo.engine.context import TrainingContext

DEFAULT_IMAGE_SIZE = 32


def genzoo_version() -> str:
    return __version__


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------
class GenerativeModel(nn.Module):
    """Base class of every family's model: holds its networks and its config.

    Subclasses set their networks as attributes (``self.generator``, ``self.discriminator``,
    ``self.encoder``, ``self.denoiser`` ...) and implement :meth:`_sample_batch`.

    Attributes:
        config: the family's config dataclass.
        meta: facts recorded in config.json beside the config (data, training, evaluation).
        sampling_network: name of the attribute whose weights the engine keeps an EMA of,
            and which sampling uses; None if the family has none.
    """

    family_name: ClassVar[str] = ""
    sampling_network: ClassVar[str | None] = "generator"
    default_sampler: ClassVar[str | None] = None
    #: capabilities (genzoo.capabilities) declared beyond those the class shows structurally,
    #: and ones it seems to have but refuses; see docs/plugins.md.
    capabilities: ClassVar[tuple[type, ...]] = ()
    lacks_capabilities: ClassVar[tuple[type, ...]] = ()

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.meta: dict[str, Any] = {}

    # -- sampling --------------------------------------------------------------------------
    def compile_for_sampling(self, **options: Any) -> GenerativeModel:
        """``torch.compile`` the network that sampling runs (``sampling_network``), in place:
        weights, names and saved files are unchanged. The first batch pays for compilation
        (seconds to a minute on a CPU), so it pays off for many samples or many diffusion
        steps; ``options`` go to ``torch.compile``. Returns self."""
        net = getattr(self, self.sampling_network or "", None)
        if not isinstance(net, torch.nn.Module):
            raise GenzooError(f"this {self.family_name or 'model'} model names no sampling network to compile")
        net.compile(**options)
        return self

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    @property
    def is_conditional(self) -> bool:
        return bool(self.config.conditional and self.config.num_classes > 0)

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode (dropout off, BatchNorm running statistics) inside the block; the previous
        mode is restored afterwards, also on an error."""
        was = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was)

    def sampling_inputs(self, n: int, seed: int | None, labels: Any) -> tuple[torch.Generator, Tensor | None]:
        """What every sampling entry point starts from: checks ``n``, seeds the one CPU generator
        all randomness comes from (a random seed when None) and validates ``labels``."""
        if n < 1:
            raise GenzooError(f"number of samples must be at least 1, got {n}")
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        return torch.Generator(device="cpu").manual_seed(int(seed)), self.check_labels(labels, n)

    def check_labels(self, labels: Any, n: int) -> Tensor | None:
        """Validate requested labels: ints, a list, or a tensor (n,). Returns int64 (n,) or None."""
        if labels is None:
            if not self.is_conditional:
                return None
            return torch.arange(n) % self.config.num_classes
        if not self.is_conditional:
            raise GenzooError(
                f"this {self.family_name or 'model'} model is not conditional, so it takes no labels; "
                "drop --label / labels=, or train a conditional family such as cgan"
            )
        k = self.config.num_classes
        t = torch.as_tensor(labels, dtype=torch.long).flatten()
        if t.numel() == 1:
            t = t.expand(n).clone()
        if t.numel() != n:
            raise GenzooError(f"got {t.numel()} labels for {n} samples; give one label or exactly {n}")
        bad = t[(t < 0) | (t >= k)]
        if bad.numel():
            raise GenzooError(f"label {int(bad[0])} is out of range; this model has classes 0..{k - 1}")
        return t

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Any = None,
        sampler: str | None = None,
        batch_size: int = 256,
        return_labels: bool = False,
        progress: bool = False,
        **kwargs: Any,
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        """Draw ``n`` images (n, C, H, W) with values in [0, 1].

        The same ``seed`` gives the same images (all randomness comes from one CPU
        ``torch.Generator`` seeded with it, whatever the device). Conditional models take
        ``labels`` (an int or n ints); without them they cycle through the classes.
        """
        if batch_size < 1:
            raise GenzooError(f"batch_size must be at least 1, got {batch_size}")
        gen, y = self.sampling_inputs(n, seed, labels)
        with self.evaluating():
            out = self._sample_all(n, gen, y, sampler=sampler, batch_size=batch_size, progress=progress, **kwargs)
        images = to_unit(out.float()).cpu()
        return (images, y) if return_labels else images

    def _sample_all(
        self, n: int, gen: torch.Generator, labels: Tensor | None, *, sampler: str | None,
        batch_size: int, progress: bool = False, **kwargs: Any,
    ) -> Tensor:
        """Draw all noise up front from ``gen`` (so batching does not change results), then decode."""
        noise = self.draw_noise(n, gen, sampler=sampler, **kwargs)
        outs = []
        for i in range(0, n, batch_size):
            yb = labels[i : i + batch_size].to(self.device) if labels is not None else None
            outs.append(self._sample_batch(noise[i : i + batch_size].to(self.device), yb, **kwargs))
        return torch.cat(outs)

    def draw_noise(self, n: int, gen: torch.Generator, *, sampler: str | None = None, **kwargs: Any) -> Tensor:
        """The starting noise for ``n`` samples, drawn on the CPU from ``gen``."""
        raise NotImplementedError

    def _sample_batch(self, noise: Tensor, labels: Tensor | None, **kwargs: Any) -> Tensor:
        """Noise (B, ...) [+ labels (B,)] -> images (B, C, H, W) in [-1, 1]."""
        raise NotImplementedError

    # -- save / load -----------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """What config.json holds: family, plugin, versions, the full config, data facts."""
        try:
            dist = families.origin(self.family_name)
        except GenzooError:
            dist = "unknown"
        return {
            "family": self.family_name,
            "plugin": {"distribution": dist, "version": _dist_version(dist)},
            "genzoo_version": genzoo_version(),
            "config": self.config.to_dict(),
            "image": {
                "channels": self.config.channels,
                "image_size": self.config.image_size,
                "num_classes": self.config.num_classes,
                "value_range_in_model": [-1, 1],
                "value_range_at_api": [0, 1],
            },
            **{k: v for k, v in self.meta.items() if k not in ("config", "family")},
        }

    def save_pretrained(self, directory: str | Path, *, card: bool = True, state_dict: dict[str, Tensor] | None = None) -> Path:
        """Write config.json, model.safetensors (and README.md) in the Hub's repo layout."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        sd = state_dict if state_dict is not None else self.state_dict()
        save_tensors(d / WEIGHTS_NAME, sd, metadata={"format": "pt", "genzoo_family": self.family_name})
        write_json(d / CONFIG_NAME, self.config_dict())
        if card:
            from genzoo.cards import write_card  # here: cards pull in huggingface_hub and jinja2, which a model only needs to save

            write_card(self, d)
        return d

    @classmethod
    def from_pretrained(cls, source: str | Path, *, revision: str | None = None, device: str | None = None) -> GenerativeModel:
        """Load from a run directory or a Hub repo id (``user/model``)."""
        from genzoo.hub import load  # here: genzoo.hub builds models from this module's classes

        model = load(str(source), revision=revision, device=device)
        if not isinstance(model, cls):
            raise GenzooError(f"'{source}' holds a {type(model).__name__}, not a {cls.__name__}")
        return model


class LatentModel(GenerativeModel):
    """A model that samples by decoding latent vectors: GANs and VAEs.

    Subclasses provide ``self.generator`` (a :class:`~genzoo.interfaces.Generator`).
    Latents come from the sampler registry (``normal`` by default).
    """

    default_sampler = "normal"

    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)  # type: ignore[attr-defined]

    def sampler_names(self) -> list[str]:
        return [n for n in samplers.names() if samplers.get(n).supports(self)]

    def draw_noise(self, n: int, gen: torch.Generator, *, sampler: str | None = None, **kwargs: Any) -> Tensor:
        name = sampler or self.default_sampler
        s = samplers.get(name)
        if not s.supports(self):
            needs = getattr(s, "requires", "")
            raise GenzooError(
                f"sampler '{name}' cannot be used with a {self.family_name} model"
                + (f": it needs {needs}" if needs else "")
                + f" (usable: {', '.join(self.sampler_names())})"
            )
        kwargs = s.check_options(kwargs)  # `--opt foo=1` is refused, not silently dropped; values typed
        return s.latents(self, n, gen, **kwargs)

    def _sample_batch(self, noise: Tensor, labels: Tensor | None, **kwargs: Any) -> Tensor:
        return self.generator(noise, labels)  # type: ignore[attr-defined]

    @torch.inference_mode()
    def decode(self, z: Tensor, labels: Any = None) -> Tensor:
        """Latents (N, latent_dim) [+ labels] -> images (N, C, H, W) in [0, 1]."""
        y = self.check_labels(labels, z.shape[0])
        with self.evaluating():
            out = self.generator(z.to(self.device), None if y is None else y.to(self.device))  # type: ignore[attr-defined]
        return to_unit(out.float()).cpu()


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def environment() -> dict[str, str]:
    """Versions and hardware recorded in every run directory."""
    info = {
        "genzoo": genzoo_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "threads": str(torch.get_num_threads()),
    }
    if torch.cuda.is_available():
        info["cuda"] = str(torch.version.cuda)
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# ------------------------------------------------------------------------------------------
# Training recipes
# ------------------------------------------------------------------------------------------
@dataclass
class Batch:
    """One batch on the training device: images (B, C, H, W) in [-1, 1], labels (B,) or None.

    ``extra`` carries anything else a dataset provides (e.g. the input image of a pair).
    """

    images: Tensor
    labels: Tensor | None = None
    extra: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]


@dataclass
class StepContext:
    """What a phase's loss function sees.

    ``state`` is shared by the phases of one step (e.g. the discriminator phase leaves the
    fake images there for the generator phase), and cleared between steps.
    """

    model: GenerativeModel
    batch: Batch
    step: int
    config: ModelConfig
    device: torch.device
    state: dict[str, Any] = field(default_factory=dict)


LossFn = Callable[[StepContext], "Tensor | tuple[Tensor, dict[str, Tensor]]"]


@dataclass
class Phase:
    """One optimizer and the loss it minimises.

    Args:
        name: short name used in logs ("d", "g", "model"); log keys are ``loss_<name>``.
        modules: attribute names of the model whose parameters this phase's optimizer updates.
        loss: fn(ctx) -> loss, or (loss, {name: scalar tensor}) for extra log values.
        repeats: updates of this phase per step (e.g. n_critic); each repeat after the
            first draws a fresh batch.
        optimizer / lr / betas / weight_decay: override the config's values for this phase.
        regularizers: fn(ctx) -> scalar, added to the loss (e.g. a gradient penalty);
            logged as ``<phase>_<fn name>``.
        after_step: fn(model) called after each optimizer step (e.g. weight clipping).
    """

    name: str
    modules: Sequence[str]
    loss: LossFn
    repeats: int = 1
    optimizer: str | None = None
    lr: float | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float | None = None
    regularizers: list[Callable[[StepContext], Tensor]] = field(default_factory=list)
    after_step: list[Callable[[GenerativeModel], None]] = field(default_factory=list)

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        params: list[nn.Parameter] = []
        for m in self.modules:
            if not hasattr(model, m):
                raise GenzooError(f"phase '{self.name}' names module '{m}', which the model does not have")
            params.extend(p for p in getattr(model, m).parameters() if p.requires_grad)
        return params


#: Recipe hooks get a :class:`~genzoo.engine.context.TrainingContext` (the run directory,
#: config, data, held-out data, inference weights, ``log``), never the trainer itself.
EpochHook = Callable[["TrainingContext", int], "dict[str, float] | None"]
TrainingHook = Callable[["TrainingContext"], None]


@dataclass
class Recipe:
    """How to train a family: its phases, run in order once per step.

    ``ema_module`` names the network whose weights are averaged (None: the model's
    ``sampling_network``); the config's ``ema`` decay switches it on.
    """

    phases: list[Phase]
    ema_module: str | None = None
    #: fn(ctx, epoch) -> {name: float} or None, run on the main process each time a pass
    #: over the training data ends (e.g. a held-out ELBO); the values go to log.jsonl.
    after_epoch: list[EpochHook] = field(default_factory=list)
    #: fn(ctx), run once on the main process after the last step and before the final
    #: save (e.g. fit a density on the latents); what it stores in the model is saved with it.
    after_training: list[TrainingHook] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# Families
# ------------------------------------------------------------------------------------------
class Family:
    """What a plugin registers: a name, a config class, a model class and a recipe.

    Minimal plugin::

        class MyFamily(Family):
            config_class = MyConfig
            model_class = MyModel
            def recipe(self, model, config): return Recipe([Phase(...)])

    and in its pyproject: ``[project.entry-points."genzoo.families"] mygan = "my_pkg:MyFamily"``.
    The entry-point key (or ``register_family``'s argument) is the family's name: the
    registry sets ``name`` on the instance it stores.
    """

    name: str = ""  # set by the registry from the key the family is registered under
    description: str = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    model_class: ClassVar[type[GenerativeModel]] = GenerativeModel
    #: Markdown model-card template: a "package:resource.md" reference (read with importlib.resources),
    #: a path to a Markdown file, or the template text itself. None: genzoo's default card.
    card_template: str | Path | None = None
    #: "unconditional-image-generation", "text-to-image", "image-to-image" ...
    pipeline_tag: ClassVar[str] = "unconditional-image-generation"
    #: True if the family can use class labels (then `conditional` is switched on by default).
    supports_labels: bool = False
    #: Dataset keys (beyond images/labels) the family needs, e.g. ("inputs",) for pix2pix.
    needs: ClassVar[tuple[str, ...]] = ()
    #: How the family is meant to be trained for the zoo's results (`genzoo zoo`, docs/zoo.md):
    #: full names are "<family>/<recipe name>". See genzoo.recipes.standard_recipes.
    reference_recipes: tuple[ReferenceRecipe, ...] = ()
    #: Image sides (px) the family is built for and tested at, smallest first; `genzoo info` prints
    #: them. Other sides may work too: :meth:`check_image_size` decides. () = not stated.
    image_sizes: ClassVar[tuple[int, ...]] = ()
    #: One line on which other sides work, printed after ``image_sizes`` ("any base * 2^k, base 4..7").
    image_size_rule: ClassVar[str] = ""

    def check_image_size(self, image_size: int) -> None:
        """Raise a one-line GenzooError naming sizes that work if the family cannot make
        ``image_size`` px images. Called by :meth:`build`, and by the trainer before it loads
        data at an asked-for size. The default accepts every size."""

    def size_defaults(self, image_size: int, config: ModelConfig | None = None) -> dict[str, Any]:
        """Config values this family picks for ``image_size`` px images (network width and depth,
        attention, batch size ...), by config key, given ``config`` (the user's values so far;
        None: the defaults) so that one value may follow another the user set. The trainer applies
        those the user did not set (``--set``/``--config``); `genzoo info` prints them for each of
        ``image_sizes``. Default: none."""
        return {}

    def apply_size_defaults(self, config: ModelConfig, image_size: int, user_set: Collection[str] = ()) -> ModelConfig:
        """``config`` with :meth:`size_defaults` for ``image_size`` applied, except the keys in
        ``user_set`` (what the user set: --set, --config, keyword arguments). `genzoo train` and
        `genzoo bench` both build their config this way."""
        chosen = {k: v for k, v in self.size_defaults(image_size, config).items() if k not in user_set}
        return config.update(chosen, source="override") if chosen else config

    def default_config(self, **overrides: Any) -> ModelConfig:
        return self.config_class().update(overrides, source="override") if overrides else self.config_class()

    def build(self, config: ModelConfig) -> GenerativeModel:
        """Config -> untrained model (weights initialised, on the CPU)."""
        if not isinstance(config, self.config_class):
            raise GenzooError(f"{self.name} needs a {self.config_class.__name__}, got {type(config).__name__}")
        if config.image_size == 0 or config.channels == 0:  # no data to take them from
            config = dataclasses.replace(config, image_size=config.image_size or DEFAULT_IMAGE_SIZE,
                                         channels=config.channels or 1)
        self.check_image_size(config.image_size)
        model = self.model_class(config)
        model.family_name = self.name  # type: ignore[misc]
        return model

    def build_meta(self, config: ModelConfig) -> GenerativeModel | None:
        """The model of ``config`` built on PyTorch's meta device: every tensor's name, shape and
        dtype, and no memory (a config asking for 1 TB of weights costs nothing here). genzoo
        compares it with a weights file's header, or a checkpoint, before building the real model.

        Returns None when this family's ``build`` cannot run on the meta device (some operation
        it uses has no meta kernel); a plugin whose build needs special care there overrides this.
        A GenzooError (a config the family refuses) propagates.
        """
        try:
            with torch.device("meta"):
                return self.build(config)
        except GenzooError:
            raise
        except Exception:  # an op without a meta kernel: callers fall back to their later checks
            return None

    def recipe(self, model: GenerativeModel, config: ModelConfig) -> Recipe:
        raise NotImplementedError(f"family {self.name} has no training recipe")

    def prepare_data(self, data: Any, config: ModelConfig) -> Any:
        """Adapt a loaded dataset before training; the default returns it unchanged.

        Called by the engine right after loading (also on resume), before
        ``configure_for_data``. pix2pix uses it to resize to a supported size and to build
        (input, target) pairs from its ``task`` and ``direction`` config fields.
        """
        return data

    def configure_for_data(self, config: ModelConfig, data: Any) -> ModelConfig:
        """Fit the config to a dataset: channels, classes. Called before ``build`` when training."""
        if config.channels and config.channels != data.channels:
            kind = {1: "grayscale", 3: "RGB"}
            raise GenzooError(
                f"data '{data.name}' is {kind.get(data.channels, data.channels)} but channels={config.channels} "
                f"was asked for; drop --set channels or use {kind.get(config.channels, 'matching')} data"
            )
        changes: dict[str, Any] = {"channels": data.channels}
        if self.supports_labels and config.conditional:
            if data.num_classes < 2:
                raise GenzooError(
                    f"{self.name} is conditional but data '{data.name}' has no class labels; "
                    "use a labelled dataset (digits, fashion-mnist, folder: with subfolders) or --set conditional=false"
                )
            changes["num_classes"] = data.num_classes
        else:
            changes["conditional"] = False
            changes["num_classes"] = 0
        return dataclasses.replace(config, **changes)

    def heldout_translations(self, data: Any, config: ModelConfig) -> tuple[Tensor, Tensor, bool] | None:
        """For an image-to-image family: what its translations are judged by on held-out data.

        ``data`` is a held-out split already passed through :meth:`prepare_data`. Returns
        (inputs (N, C_in, S, S), reference images of the output domain (M, C, S, S), paired),
        both in [-1, 1] as the data holds them; ``paired`` means reference i is the target of
        input i. The default reads paired data (``extra["inputs"]``, as pix2pix trains on);
        None: nothing to judge translations by.
        """
        from genzoo.data.tasks import INPUTS  # here: only image-to-image evaluation needs the paired-task module

        extra = getattr(data, "extra", {}) or {}
        if INPUTS in extra:
            return extra[INPUTS], data.images, True
        return None

    def describe(self) -> dict[str, Any]:
        out = {"name": self.name, "description": self.description, "config": self.default_config().to_dict()}
        if self.image_sizes:
            out["image_sizes"] = list(self.image_sizes)
            out["size_defaults"] = {s: self.size_defaults(s) for s in self.image_sizes}
        return out
