"""Adversarial families (gan, wgan, wgan-gp, cgan), their losses and regularisers, labels, divergence."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import genzoo
from genzoo.engine import Trainer, find_checkpoint, train
from genzoo.errors import GenzooError
from genzoo.registry import families, losses
from genzoo.regularizers import clip_weights, gradient_penalty, penalty_at
from tests.conftest import TINY_DCGAN, needs_fashion, sets

TINY_MLP = {"g_width": 16, "d_width": 16, "latent_dim": 8, "batch_size": 16, "steps": 6, "log_every": 2,
            "checkpoint_every": 3, "sample_every": 3, "num_samples": 16}
TINY_CONV = {**TINY_MLP, "g_width": 8, "d_width": 8, "latent_dim": 16}
TINY = {"gan": TINY_MLP, "wgan": TINY_CONV, "wgan-gp": TINY_CONV, "cgan": TINY_CONV}


def sp(v: float) -> float:
    """softplus, written out: log(1 + e^v)."""
    return math.log(1 + math.exp(v))


def grid_pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("adv") / "cgan"
    train("cgan", out=out, data="digits", progress=False, **TINY_CONV)
    return out


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("adv") / "gan"
    train("gan", out=out, data="digits", progress=False, **TINY_MLP)
    return out


# ------------------------------------------------------------------------------------------
# losses: values on hand-computed scores, and signs
# ------------------------------------------------------------------------------------------
REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([0.0, -1.0])

# (d(REAL, FAKE), g(FAKE)), each worked out by hand from the loss's formula.
HAND = {
    # D: -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f); G: log(1 - sigmoid(f)) = -softplus(f)
    "minimax": ((sp(0) + sp(-2)) / 2 + (sp(0) + sp(-1)) / 2, -(sp(0) + sp(-1)) / 2),
    # G: -log sigmoid(f) = softplus(-f)
    "non-saturating": ((sp(0) + sp(-2)) / 2 + (sp(0) + sp(-1)) / 2, (sp(0) + sp(1)) / 2),
    # D: mean f - mean r = -0.5 - 1; G: -mean f
    "wasserstein": (-1.5, 0.5),
    # D: mean relu(1 - r) + mean relu(1 + f) = (1 + 0)/2 + (1 + 0)/2
    "hinge": (1.0, 0.5),
    # D: 0.5 mean (r - 1)^2 + 0.5 mean f^2 = 0.5 * 1 + 0.5 * 0.5; G: 0.5 mean (f - 1)^2 = 0.5 * 2.5
    "least-squares": (0.75, 1.25),
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_loss_values_on_hand_computed_scores(name):
    loss = losses.get(name)
    d_want, g_want = HAND[name]
    assert loss.d(REAL, FAKE).item() == pytest.approx(d_want, abs=1e-6)
    assert loss.g(FAKE).item() == pytest.approx(g_want, abs=1e-6)


@pytest.mark.parametrize("name", sorted(HAND))
def test_loss_signs(name):
    """D's loss is lower when it scores real high and fake low; G's loss falls as fakes score
    higher (below the least-squares target 1, where that loss turns)."""
    loss = losses.get(name)
    hi, lo = torch.full((4,), 3.0), torch.full((4,), -3.0)
    assert loss.d(hi, lo) < loss.d(lo, hi)
    fake = torch.tensor([-2.0, 0.0, 0.5], requires_grad=True)
    loss.g(fake).backward()
    assert (fake.grad < 0).all()


def test_minimax_generator_saturates_and_non_saturating_does_not():
    """At a fake D rejects confidently (logit -10), log(1 - D) gives G almost no gradient."""
    grads = {}
    for name in ("minimax", "non-saturating"):
        f = torch.tensor([-10.0], requires_grad=True)
        losses.get(name).g(f).backward()
        grads[name] = abs(f.grad.item())
    assert grads["minimax"] < 1e-4 and grads["non-saturating"] > 0.99
    assert losses.get("minimax").g(torch.tensor([-10.0, 3.0])) < 0  # log(1 - D) is never positive


# ------------------------------------------------------------------------------------------
# gradient penalty and clipping
# ------------------------------------------------------------------------------------------
def test_gradient_penalty_of_a_linear_critic_with_known_gradient_norm():
    """f(x) = <w, x> has gradient w everywhere: penalty (||w|| - 1)^2, whatever the interpolates."""
    w = torch.zeros(1 * 4 * 4)
    w[0], w[1] = 3 * 0.6, 3 * 0.8  # ||w|| = 3
    critic = lambda x: x.flatten(1) @ w  # noqa: E731
    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(4.0, abs=1e-5)
    assert gradient_penalty(lambda x: x.flatten(1) @ (w / 3), real, fake).item() == pytest.approx(0.0, abs=1e-6)


def test_penalty_at_points_with_known_norms_and_interpolates():
    """f(x) = ||x||^2 / 2 has gradient x: at norms 2 and 0.5 the penalty is ((2-1)^2 + (0.5-1)^2) / 2."""
    critic = lambda x: 0.5 * (x.flatten(1) ** 2).sum(1)  # noqa: E731
    x = torch.zeros(2, 1, 2, 2)
    x[0, 0, 0, 0], x[1, 0, 1, 1] = 2.0, 0.5
    assert penalty_at(critic, x).item() == pytest.approx(0.625, abs=1e-6)
    # interpolates: x_hat = eps * real + (1 - eps) * fake with eps drawn from the given generator
    real, fake = 4 * x, torch.zeros_like(x)
    eps = torch.rand(2, 1, 1, 1, generator=torch.Generator().manual_seed(7))
    norms = torch.tensor([8.0, 2.0]) * eps.flatten()
    want = ((norms - 1) ** 2).mean().item()
    got = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7)).item()
    assert got == pytest.approx(want, rel=1e-5)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    lin = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[2.0, 0.0, 0.0]]))
    gp = penalty_at(lambda x: lin(x).flatten(), torch.randn(4, 3))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = [2, 0, 0]
    assert torch.allclose(lin.weight.grad, torch.tensor([[2.0, 0.0, 0.0]]))


def test_clip_weights_bounds():
    net = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-5, 5)
        net[0].weight[0, 0] = 0.004  # inside the bound: left alone
    clip_weights(net, 0.01)
    for p in net.parameters():
        assert p.abs().max().item() <= 0.01
    assert net[0].weight[0, 0].item() == pytest.approx(0.004)
    assert (net[2].weight.abs() == 0.01).all()  # everything beyond the bound sits on it


def test_gradient_penalty_is_an_engine_regulariser_any_family_can_use(tmp_path):
    """dcgan is no WGAN, yet --set gp_weight=... adds the penalty to its discriminator phase."""
    run = train("dcgan", out=tmp_path / "d", progress=False, **{**TINY_DCGAN, "gp_weight": 1.0, "d_norm": "layer"})
    lines = [json.loads(x) for x in (run.run_dir / "log.jsonl").read_text().splitlines()]
    assert all("d_gp" in x and x["d_gp"] > 0 for x in lines)


# ------------------------------------------------------------------------------------------
# families: paper defaults, training from the CLI, reload
# ------------------------------------------------------------------------------------------
def test_paper_defaults():
    w = families.get("wgan").default_config()
    # the paper's clipping and RMSprop; lr and n_critic tuned for a CPU budget (docs/adversarial.md)
    assert (w.loss, w.optimizer, w.lr, w.clip_value, w.d_steps, w.gp_weight) == ("wasserstein", "rmsprop", 2e-4, 0.01, 2, 0)
    gp = families.get("wgan-gp").default_config()
    assert (gp.loss, gp.optimizer, gp.lr, tuple(gp.betas), gp.d_steps, gp.gp_weight, gp.clip_value) == (
        "wasserstein", "adam", 1e-4, (0.0, 0.9), 2, 10.0, 0.0)
    g = families.get("gan").default_config()
    assert (g.loss, g.arch, g.d_steps) == ("non-saturating", "mlp", 1)
    c = families.get("cgan").default_config()
    assert c.conditional and c.d_conditioning == "concat" and families.get("cgan").supports_labels



def test_the_four_variants_are_presets_of_one_family_definition():
    from genzoo.hub import create
    from genzoo_adversarial import AdversarialFamily, AdversarialNetsConfig, AdversarialNetsModel

    names = ["gan", "wgan", "wgan-gp", "cgan"]
    for name in names:
        fam = families.get(name)
        assert type(fam) is AdversarialFamily and fam.config_class is AdversarialNetsConfig
        m = create(name, image_size=16, g_width=8, d_width=8)
        assert type(m) is AdversarialNetsModel and m.family_name == name
    assert not AdversarialFamily.__subclasses__() and not AdversarialNetsModel.__subclasses__()
    assert not AdversarialNetsConfig.__subclasses__()
    configs = [families.get(n).default_config().to_dict() for n in names]
    assert all(c.keys() == configs[0].keys() for c in configs)  # one field set
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == 4  # four presets
    with pytest.raises(GenzooError, match="unknown AdversarialNetsConfig field\\(s\\) in the preset: d_stepz"):
        AdversarialFamily("typo", card_template="genzoo.card_templates:gan.md", d_stepz=2)


def test_info_shows_each_variants_own_defaults(cli):
    rows = {}
    for name in ("gan", "wgan"):
        code, out, _ = cli("info", name)
        assert code == 0
        rows[name] = {line.split()[0]: line.split()[-1] for line in out.splitlines() if "│" in line}
    assert rows["gan"]["steps"] == "6000" and rows["gan"]["d_dropout"] == "0.3" and rows["gan"]["optimizer"] == "'adam'"
    assert rows["wgan"]["steps"] == "2000" and rows["wgan"]["clip_value"] == "0.01" and rows["wgan"]["optimizer"] == "'rmsprop'"


def test_wgan_gp_critic_has_no_batch_norm_and_refuses_it():
    from genzoo.hub import create

    m = create("wgan-gp", image_size=16, g_width=8, d_width=8)
    assert not any(isinstance(x, nn.modules.batchnorm._BatchNorm) for x in m.discriminator.modules())
    with pytest.raises(GenzooError, match="gradient penalty needs a critic without batch norm; use --set d_norm=layer"):
        create("wgan-gp", image_size=16, d_norm="batch")
    with pytest.raises(GenzooError, match="unknown arch 'resnet'; use mlp or conv"):
        create("gan", arch="resnet")


@pytest.mark.parametrize("name", ["gan", "wgan", "wgan-gp", "cgan"])
def test_trains_from_the_cli_and_samples_reload_bit_identically(name, cli, tmp_path):
    run = tmp_path / name
    code, _, err = cli("train", name, "--out", run, "--no-progress", *sets(TINY[name]))
    assert code == 0, err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["family"] == name and cfg["plugin"]["distribution"] == "genzoo-adversarial"
    assert cfg["training"]["steps"] == 6
    # mode-collapse telltales beside the losses, every log line
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4, 6]
    for x in lines:
        assert {"loss_d", "loss_g", "d_acc_real", "d_acc_fake", "fake_std"} <= set(x)
        assert 0 <= x["d_acc_real"] <= 1 and 0 <= x["d_acc_fake"] <= 1 and x["fake_std"] > 0
    if name == "wgan-gp":
        assert all(x["d_gp"] > 0 for x in lines)
    # reload: the grid the trainer wrote is reproduced pixel for pixel from the saved files
    m = genzoo.load(str(run))
    k, n, seed = m.config.num_classes, m.config.num_samples, m.config.seed
    if m.is_conditional:
        per = n // k
        imgs, nrow = m.sample(per * k, seed=seed, labels=torch.arange(k).repeat_interleave(per)), per
    else:
        imgs, nrow = m.sample(n, seed=seed), None
    from genzoo.images import save_grid

    save_grid(imgs, tmp_path / "again.png", nrow=nrow)
    assert np.array_equal(grid_pixels(run / "samples.png"), grid_pixels(tmp_path / "again.png"))
    assert torch.equal(genzoo.load(str(run)).sample(5, seed=3), m.sample(5, seed=3))
    assert not torch.equal(m.sample(5, seed=3), m.sample(5, seed=4))


def test_wgan_keeps_critic_weights_inside_the_clip(tmp_path):
    run = train("wgan", out=tmp_path / "w", progress=False, **{**TINY_CONV, "steps": 3}).run_dir
    m = genzoo.load(str(run))
    biggest = max(p.abs().max().item() for p in m.discriminator.parameters())
    assert 0 < biggest <= 0.01
    assert max(p.abs().max().item() for p in m.generator.parameters()) > 0.01  # only the critic is clipped


def test_minimax_loss_and_k_discriminator_steps(tmp_path):
    """--set d_steps=3 draws three real batches per step; the minimax G loss log(1 - D) is negative."""
    res = train("gan", out=tmp_path / "k", progress=False, **{**TINY_MLP, "steps": 4, "loss": "minimax", "d_steps": 3})
    cfg = json.loads((res.run_dir / "config.json").read_text())
    assert cfg["training"]["images_seen"] == 4 * 16 * 3
    lines = [json.loads(x) for x in (res.run_dir / "log.jsonl").read_text().splitlines()]
    assert all(x["loss_g"] < 0 for x in lines)


# ------------------------------------------------------------------------------------------
# conditional generation and labels
# ------------------------------------------------------------------------------------------
def test_cgan_samples_requested_labels(cgan_run, cli, tmp_path):
    m = genzoo.load(str(cgan_run))
    assert m.is_conditional and m.config.num_classes == 10
    imgs, labels = m.sample(6, seed=0, labels=[1, 2, 3, 4, 5, 6], return_labels=True)
    assert imgs.shape == (6, 1, 16, 16) and labels.tolist() == [1, 2, 3, 4, 5, 6]
    # the label changes the image for the same latent
    assert not torch.equal(m.sample(1, seed=0, labels=1), m.sample(1, seed=0, labels=2))
    code, out, err = cli("sample", cgan_run, "--label", "3", "-n", "4", "--out", tmp_path / "three.npz")
    assert code == 0, err
    with np.load(tmp_path / "three.npz") as f:
        assert f["labels"].tolist() == [3, 3, 3, 3] and f["images"].shape == (4, 16, 16, 1)
    code, out, err = cli("sample", cgan_run, "--label", "all", "-n", "20", "--out", tmp_path / "all.png")
    assert code == 0, err
    assert "wrote 20 samples" in out + err
    with Image.open(tmp_path / "all.png") as im:  # a row per class: 10 rows of 2 images
        assert im.size[1] > 4 * im.size[0]


def test_label_errors(cgan_run, gan_run, cli, tmp_path):
    code, out, err = cli("sample", cgan_run, "--label", "10", "--out", tmp_path / "x.png")
    assert code == 1 and "label 10 is out of range; this model has classes 0..9" in out + err
    code, out, err = cli("sample", gan_run, "--label", "3", "--out", tmp_path / "x.png")
    assert code == 1 and "model is not conditional, so it takes no labels" in out + err
    code, out, err = cli("sample", gan_run, "--label", "all", "--out", tmp_path / "x.png")
    assert code == 1 and "not conditional" in out + err
    assert not (tmp_path / "x.png").exists()


def test_cgan_needs_labelled_data(tmp_path):
    for i in range(20):
        Image.new("L", (16, 16), i * 10).save(tmp_path / f"{i}.png")
    with pytest.raises(GenzooError, match="cgan is conditional but data .* has no class labels"):
        train("cgan", out=tmp_path / "run", data=f"folder:{tmp_path}", progress=False, **TINY_CONV)


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_projection_discriminator(arch, tmp_path):
    from genzoo_adversarial import ConvProjectionDiscriminator, MLPDiscriminator

    over = {**(TINY_CONV if arch == "conv" else TINY_MLP), "arch": arch, "d_conditioning": "projection", "steps": 2}
    res = train("cgan", out=tmp_path / "p", progress=False, **over)
    m = genzoo.load(str(res.run_dir))
    assert isinstance(m.discriminator, ConvProjectionDiscriminator if arch == "conv" else MLPDiscriminator)
    x = m.sample(3, seed=0, labels=0)
    s0, s1 = m.discriminate(x, labels=0), m.discriminate(x, labels=1)
    assert s0.shape == (3,) and not torch.equal(s0, s1)  # the score depends on the class


@pytest.mark.parametrize("arch,cond", [("conv", "projection"), ("conv", "concat"), ("mlp", "projection")])
def test_spectral_norm_bounds_every_discriminator_layer_and_reloads(arch, cond, tmp_path):
    from torch.nn.utils import parametrize

    over = {**(TINY_CONV if arch == "conv" else TINY_MLP), "arch": arch, "d_conditioning": cond,
            "d_spectral_norm": True, "d_norm": "none", "loss": "hinge", "steps": 3}
    res = train("cgan", out=tmp_path / "sn", progress=False, **over)
    m = genzoo.load(str(res.run_dir))
    layers = [x for x in m.discriminator.modules() if isinstance(x, (nn.Linear, nn.Conv2d, nn.Embedding))]
    assert layers and all(parametrize.is_parametrized(x, "weight") for x in layers)
    assert not any(parametrize.is_parametrized(x) for x in m.generator.modules())  # D only
    for x in layers:  # one power iteration per step estimates sigma from below, so allow a margin
        w = x.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2) < 1.3
        # the raw weight was trained and saved, not just the normalised one
        assert not torch.allclose(x.parametrizations.weight.original.flatten(1), w)
    x = m.sample(4, seed=0, labels=1)
    assert torch.equal(m.discriminate(x, labels=1), m.discriminate(x, labels=1))  # frozen estimate in eval
    again = genzoo.load(str(res.run_dir))
    assert torch.equal(again.discriminate(x, labels=1), m.discriminate(x, labels=1))


def test_dcgan_takes_spectral_norm_too(tmp_path):
    from torch.nn.utils import parametrize

    res = train("dcgan", out=tmp_path / "d", progress=False, **{**TINY_DCGAN, "steps": 2, "d_spectral_norm": True,
                                                                "d_norm": "none", "loss": "hinge"})
    m = genzoo.load(str(res.run_dir))
    convs = [x for x in m.discriminator.modules() if isinstance(x, nn.Conv2d)]
    assert convs and all(parametrize.is_parametrized(x, "weight") for x in convs)
    assert json.loads((res.run_dir / "config.json").read_text())["config"]["d_spectral_norm"] is True


def test_spectral_norm_run_resumes_bit_identically(tmp_path):
    over = {**TINY_CONV, "d_conditioning": "projection", "d_spectral_norm": True, "d_norm": "none",
            "loss": "hinge", "checkpoint_every": 2, "ema": 0.0}
    full = train("cgan", out=tmp_path / "full", progress=False, **{**over, "steps": 4})
    train("cgan", out=tmp_path / "part", progress=False, **{**over, "steps": 2})
    fam = families.get("cgan")
    leg = Trainer(fam, overrides={**over, "steps": 4}, out=tmp_path / "part", resume=True, progress=False)
    assert leg.start_step == 2  # really a second leg, from the checkpoint
    part = leg.fit()
    a, b = genzoo.load(str(full.run_dir)), genzoo.load(str(part.run_dir))
    assert torch.equal(a.sample(4, seed=1, labels=2), b.sample(4, seed=1, labels=2))
    sa, sb = a.discriminator.state_dict(), b.discriminator.state_dict()
    assert sa.keys() == sb.keys() and any(k.endswith("_u") for k in sa)  # the power-iteration vector is kept
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------------------
# divergence
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lr", [10.0, 1e4])
def test_diverging_critic_stops_naming_the_step_and_keeps_the_last_good_checkpoint(lr, tmp_path):
    """An unclipped critic under plain SGD with a huge learning rate blows up within a few steps.

    lr 10: a loss turns infinite first. lr 1e4: an update overflows the weights while the loss
    that drove it was still finite; the guard must catch that before a checkpoint stores them.
    Either way training stops with a message naming the step, and the newest checkpoint (and
    the model files) hold only finite numbers.
    """
    run = tmp_path / "boom"
    over = {**TINY_CONV, "steps": 40, "checkpoint_every": 1, "log_every": 1, "clip_value": 0.0, "d_norm": "none",
            "d_steps": 1, "optimizer": "sgd", "lr": lr}
    with pytest.raises(GenzooError) as e:
        train("wgan", out=run, progress=False, **over)
    msg = str(e.value)
    # the blow-up guard (loss or weights 1e4x their own history) usually fires before NaN does
    m = re.match(r"training diverged: (a loss|the weights or optimizer state|the weights) (became NaN or infinite|"
                 r"exploded) (at|between step \d+ and) step (\d+)", msg)
    assert m, msg
    ck = find_checkpoint(run)
    if ck is None:  # the very first step blew up: nothing good to keep, and nothing bad was saved
        assert "no checkpoint had been written yet" in msg and not (run / "model.safetensors").exists()
        return
    assert f"last good checkpoint ({ck.name})" in msg
    assert int(ck.name.split("-")[1]) < int(m.group(4))
    from safetensors.torch import load_file

    state = load_file(str(ck / "state.safetensors"))
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    model = genzoo.load(str(run))
    assert all(torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point())
    assert torch.isfinite(model.sample(2, seed=0)).all()


# ------------------------------------------------------------------------------------------
# fashion-mnist: conditional samples are recognisably their class
# ------------------------------------------------------------------------------------------
@needs_fashion
def test_cgan_fashion_samples_are_classified_as_their_label(tmp_path):
    """Train a small classifier on Fashion-MNIST and a cgan briefly; the classifier should
    recognise the requested garment in most conditional samples (chance is 10%)."""
    from genzoo.data import load_dataset

    data = load_dataset("fashion-mnist", image_size=16)
    clf = train_classifier(data.images[:20000], data.labels[:20000])
    test = load_dataset("fashion-mnist", split="test", image_size=16)
    with torch.no_grad():
        real_acc = (clf(test.images[:2000]).argmax(1) == test.labels[:2000]).float().mean().item()
    assert real_acc > 0.8  # the judge itself works
    res = Trainer(families.get("cgan"), overrides=FASHION_CGAN, out=tmp_path / "f", data=data, progress=False).fit()
    m = genzoo.load(str(res.run_dir))
    labels = torch.arange(10).repeat_interleave(20)
    x = m.sample(len(labels), seed=1, labels=labels) * 2 - 1
    with torch.no_grad():
        acc = (clf(x).argmax(1) == labels).float().mean().item()
    print(f"classifier accuracy: real test {real_acc:.3f}, cgan samples {acc:.3f}")
    assert acc > 0.5


# 300 steps at 16 px with small nets: enough for the labels to take hold (no EMA, which would lag).
FASHION_CGAN = {"data": "fashion-mnist", "image_size": 16, "g_width": 16, "d_width": 16, "steps": 300, "ema": 0.0,
                "batch_size": 64, "log_every": 100, "sample_every": 10**6, "checkpoint_every": 10**6}


def train_classifier(images: torch.Tensor, labels: torch.Tensor, steps: int = 300) -> nn.Module:
    """A small CNN on (N, 1, 16, 16) images in [-1, 1]; a few hundred Adam steps, fixed seed."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(images), (128,), generator=g)
        loss = nn.functional.cross_entropy(net(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()
