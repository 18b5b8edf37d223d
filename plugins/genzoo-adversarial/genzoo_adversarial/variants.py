"""One adversarial family, four variants: ``gan``, ``wgan``, ``wgan-gp`` and ``cgan``.

A variant is an :class:`AdversarialFamily` instance: a description, a model-card template
and a preset of :class:`~genzoo_adversarial.nets.AdversarialNetsConfig` defaults (its paper's
settings). They share the config class, the model class (:class:`AdversarialNetsModel`, the
networks of ``nets.py``) and genzoo's adversarial recipe. The registry names each one from its
entry-point key (pyproject.toml), so no name is written here.

* ``gan``: the original GAN (Goodfellow et al. 2014, arXiv:1406.2661). MLP generator and
  discriminator play min_G max_D E[log D(x)] + E[log(1 - D(G(z)))]. Generator losses from the
  loss registry: ``non-saturating`` (default; G maximises log D(G(z)), the paper's suggestion,
  because log(1 - D(G(z))) saturates early when D rejects every fake confidently) or
  ``minimax`` (the game as written). The paper's k discriminator steps per generator step are
  ``--set d_steps=k`` (default 1, as in its experiments). Differences from the paper, for a
  quick CPU run: ReLU + BatchNorm in G (the paper mixed ReLU and sigmoid units), LeakyReLU
  instead of maxout in D (dropout kept), Adam instead of SGD with momentum.

* ``wgan`` and ``wgan-gp``: Wasserstein GANs. A critic f (unbounded scores) maximises
  E[f(x)] - E[f(G(z))], an estimate of the Wasserstein-1 distance when f is 1-Lipschitz, with
  the ``wasserstein`` loss and ``d_steps`` (n_critic) = 5 critic updates per generator update.
  They differ in how they keep f Lipschitz:

  - ``wgan`` (Arjovsky, Chintala and Bottou 2017, arXiv:1701.07875): clip every critic weight
    to [-0.01, 0.01] after each update (``clip_value``); RMSprop, as the paper recommends
    (momentum-based optimisers were unstable), at lr 2e-4 with n_critic 2 rather than the
    paper's 5e-5 and 5, which measured far better in a 10-minute CPU budget;
  - ``wgan-gp`` (Gulrajani et al. 2017, arXiv:1704.00028): add lambda (||grad f(x_hat)||_2 - 1)^2
    on random interpolates x_hat between real and fake (``gp_weight`` = 10); Adam lr 1e-4,
    betas (0.0, 0.9); layer norm instead of batch norm in the critic (the penalty is per sample).

  Both use the DCGAN convolutional networks from genzoo-dcgan (``--set arch=mlp`` for MLPs).

* ``cgan``: class-conditional GAN, p(x | y) (Mirza and Osindero 2014, arXiv:1411.1784). The
  generator concatenates a learned label embedding to z; the discriminator concatenates the
  label too (``concat``, the paper's way; an extra image plane for the conv net) or uses a
  projection head (``--set d_conditioning=projection``; Miyato and Koyama 2018,
  arXiv:1802.05637). Labels come from the dataset; sample with ``genzoo sample RUN --label 3``
  or ``--label all``, or ``model.sample(n, labels=...)``. Conv nets by default (``--set arch=mlp``
  for the paper's MLPs).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from genzoo.plugin import Family, GenzooError, Recipe, ReferenceRecipe, adversarial_recipe, standard_recipes

from genzoo_adversarial.nets import AdversarialNetsConfig, AdversarialNetsModel


class AdversarialFamily(Family):
    """Generator + discriminator from ``nets.py``, trained by genzoo's adversarial recipe.

    Args:
        description: the one-line description ``genzoo list families`` shows.
        card_template: the variant's model-card template ("package:resource.md").
        supports_labels: whether the variant is class-conditional by default.
        reference_recipes: how the variant is trained for the zoo's results (`genzoo zoo list`).
        preset: the variant's defaults, as AdversarialNetsConfig field values.
    """

    config_class = AdversarialNetsConfig
    model_class = AdversarialNetsModel
    image_sizes = (16, 28, 32, 64)
    # no check_image_size: the side an arch allows depends on --set arch, so the networks check it
    image_size_rule = "arch=mlp: any side; arch=conv: any base * 2^k with base 4..7 and k <= 6"

    def __init__(self, description: str, *, card_template: str, supports_labels: bool = False,
                 reference_recipes: tuple[ReferenceRecipe, ...] = (), **preset: Any):
        self.description = description
        self.reference_recipes = reference_recipes
        self.card_template = card_template
        self.supports_labels = supports_labels
        unknown = sorted(set(preset) - set(AdversarialNetsConfig.field_names()))
        if unknown:  # fail on import, not at the first run
            raise GenzooError(f"unknown AdversarialNetsConfig field(s) in the preset: {', '.join(unknown)}")
        self.preset = preset

    def default_config(self, **overrides: Any) -> AdversarialNetsConfig:
        config = dataclasses.replace(AdversarialNetsConfig(), **self.preset)
        return config.update(overrides, source="override") if overrides else config

    def recipe(self, model: AdversarialNetsModel, config: AdversarialNetsConfig) -> Recipe:  # type: ignore[override]
        return adversarial_recipe(model, config)


gan = AdversarialFamily(
    "Original GAN (Goodfellow et al. 2014): MLP generator and discriminator, minimax or non-saturating loss",
    card_template="genzoo.card_templates:gan.md",
    reference_recipes=standard_recipes(),
    latent_dim=64,
    arch="mlp",
    g_width=256,  # G: 64 -> 256 -> 512 -> pixels
    d_width=256,  # D: pixels -> 512 -> 256 -> 1
    mlp_layers=2,
    d_dropout=0.3,  # the paper trained D with dropout
    loss="non-saturating",
    d_steps=1,
    lr=2e-4,
    betas=(0.5, 0.999),
    steps=6000,
    ema=0.999,
    sample_every=1000,
    checkpoint_every=1000,
)

wgan = AdversarialFamily(
    "Wasserstein GAN with weight clipping (Arjovsky et al. 2017): RMSprop, clip 0.01, n_critic 2",
    card_template="genzoo.card_templates:wgan.md",
    reference_recipes=standard_recipes(),
    latent_dim=64,
    arch="conv",
    g_width=32,
    d_width=32,
    d_norm="batch",  # the paper's critic was the DCGAN discriminator, batch norm included
    loss="wasserstein",
    # The paper's RMSprop lr 5e-5 with n_critic 5 learns slowly: in 10 minutes on one CPU core
    # (Fashion-MNIST) it reached FID 7.75; lr 2e-4 with n_critic 2 reached 3.13, with recall
    # 0.21 -> 0.60 (docs/adversarial.md). Clipping and RMSprop stay the paper's.
    d_steps=2,  # n_critic
    clip_value=0.01,
    optimizer="rmsprop",
    lr=2e-4,
    steps=2000,
    ema=0.999,
    sample_every=500,
    checkpoint_every=500,
)

wgan_gp = AdversarialFamily(
    "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): lambda 10, Adam 1e-4 (0, 0.9), n_critic 2",
    card_template="genzoo.card_templates:wgan-gp.md",
    # bf16 autocast: 1.3x the steps in 10 CPU-minutes on a CPU with bf16 units, FID 3.09 -> 2.77
    reference_recipes=standard_recipes(cpu_precision="bf16"),
    latent_dim=64,
    arch="conv",
    g_width=32,
    d_width=32,
    d_norm="layer",  # no batch norm in the critic (per-sample penalty)
    loss="wasserstein",
    # n_critic 2, not the paper's 5: twice the generator steps in a CPU budget; in 10 minutes on
    # Fashion-MNIST FID 4.19 -> 3.09 with recall and coverage up (docs/adversarial.md)
    d_steps=2,  # n_critic
    gp_weight=10.0,  # lambda
    optimizer="adam",
    lr=1e-4,
    betas=(0.0, 0.9),
    steps=1500,
    ema=0.999,
    sample_every=500,
    checkpoint_every=500,
)

cgan = AdversarialFamily(
    "Conditional GAN (Mirza and Osindero 2014): label embedding concatenation or a projection discriminator",
    card_template="genzoo.card_templates:cgan.md",
    # class-conditional: the GPU recipe needs labelled data (CIFAR-10's class folders), not CelebA.
    # bf16 autocast on the CPU: 1.34x the steps in 5 minutes, FID 1.05 -> 0.74 (docs/adversarial.md)
    reference_recipes=standard_recipes(gpu=("cifar10",), cpu_precision="bf16"),
    supports_labels=True,
    conditional=True,
    latent_dim=64,
    arch="conv",
    g_width=32,
    d_width=32,
    d_norm="batch",
    d_conditioning="concat",
    loss="non-saturating",
    steps=4000,
    ema=0.999,
    sample_every=1000,
    checkpoint_every=1000,
)
