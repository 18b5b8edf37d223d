"""The public plugin API: everything a family plugin needs, in one import.

Built-in families (plugins/) import only from here, exactly as a third-party package would::

    from genzoo.plugin import Family, GenerativeModel, Generator, Phase, Recipe, register_family
    from genzoo.plugin import Inpaints, require   # capabilities: typed protocols, checked by commands

See docs/plugins.md for a walk-through.
"""

import importlib

from genzoo.adversarial import AdversarialConfig, AdversarialModel, adversarial_recipe, spectral_normalise
from genzoo.capabilities import (
    ConditionalOnLabels,
    DecodesLatents,
    EncodesImages,
    HasLatentMixture,
    HasLikelihood,
    Inpaints,
    Likelihood,
    MissingCapabilityError,
    Reconstructs,
    Restores,
    Samples,
    ScoresAnomalies,
    ShowsTrajectory,
    TranslatesImages,
    capabilities_of,
    families_with,
    has_capability,
    require,
)
from genzoo.config import ModelConfig, bounded
from genzoo.console import console, make_progress
from genzoo.data import ImageDataset, RawImages, load_dataset
from genzoo.data.pipeline import LazyImages, mean_image
from genzoo.data.tasks import INPUTS, PairedTask, comparison_rows, make_paired, register_task, tasks
from genzoo.degradations import LinearOperator
from genzoo.engine.context import TrainingContext
from genzoo.errors import GenzooError
from genzoo.family import (
    Batch,
    Family,
    GenerativeModel,
    LatentModel,
    Phase,
    Recipe,
    StepContext,
)
from genzoo.interfaces import (
    Denoiser, Discriminator, Encoder, Generator, count_parameters, size_plan, to_signed, to_unit,
)
from genzoo.losses import AdversarialLoss
from genzoo.registry import (
    datasets,
    families,
    losses,
    metrics,
    register_dataset,
    register_family,
    register_loss,
    register_metric,
    register_sampler,
    samplers,
)
from genzoo.recipes import ReferenceRecipe, standard_recipes
from genzoo.regularizers import clip_weights, gradient_penalty, penalty_at
from genzoo.samplers import LatentGMM, Sampler

__all__ = [
    "AdversarialConfig", "AdversarialModel", "adversarial_recipe", "spectral_normalise", "ModelConfig", "bounded", "ImageDataset", "RawImages",
    "load_dataset", "LazyImages", "mean_image", "GenzooError", "Batch", "Family", "GenerativeModel", "LatentModel", "Phase", "Recipe",
    "StepContext", "Denoiser", "Discriminator", "Encoder", "Generator", "count_parameters", "size_plan", "to_signed", "to_unit",
    "AdversarialLoss", "datasets", "families", "losses", "metrics", "samplers", "register_dataset",
    "register_family", "register_loss", "register_metric", "register_sampler", "clip_weights",
    "gradient_penalty", "penalty_at", "Sampler", "LatentGMM", "console", "make_progress",
    "INPUTS", "PairedTask", "comparison_rows", "make_paired", "register_task", "tasks",
    # capabilities (genzoo.capabilities)
    "Samples", "ConditionalOnLabels", "EncodesImages", "Reconstructs", "DecodesLatents", "TranslatesImages",
    "Inpaints", "Restores", "LinearOperator", "ScoresAnomalies", "HasLikelihood", "ShowsTrajectory", "HasLatentMixture", "Likelihood",
    "MissingCapabilityError", "require", "has_capability", "capabilities_of", "families_with",
    "TrainingContext",
    # reference recipes of the zoo (genzoo.recipes)
    "ReferenceRecipe", "standard_recipes",
    # evaluation's feature extractors (genzoo.metrics), loaded on first use
    "get_extractor", "FeatureExtractor",
]


def __getattr__(name: str) -> object:
    # The feature extractors (the shipped digits / fashion-mnist classifiers, Inception ...) are
    # offered here so a plugin can classify or embed images (CycleGAN's class shares) through the
    # public API; genzoo.metrics is imported only when they are asked for, as it costs ~0.2 s.
    if name in ("get_extractor", "FeatureExtractor"):
        return getattr(importlib.import_module("genzoo.metrics"), name)
    raise AttributeError(f"module 'genzoo.plugin' has no attribute '{name}'")
