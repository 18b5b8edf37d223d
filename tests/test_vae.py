"""The vae / cvae families: ELBO terms, training, encode/decode/reconstruct, cards, CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genzoo.errors import GenzooError
from genzoo.hub import create, load
from genzoo.images import save_individual

TINY = {"image_size": 16, "width": 8, "latent_dim": 4, "batch_size": 32, "steps": 12, "log_every": 4,
        "checkpoint_every": 12, "sample_every": 12, "num_samples": 8, "eval_images": 64}


def test_kl_term_matches_its_closed_form_and_monte_carlo():
    from genzoo_vae import kl_to_standard_normal

    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    std = torch.exp(0.5 * logvar)
    q, p = torch.distributions.Normal(mean, std), torch.distributions.Normal(0.0, 1.0)
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    got = kl_to_standard_normal(mean, logvar)
    torch.testing.assert_close(got, expected)
    # by hand for one case: KL(N(1, e^0) || N(0, 1)) = 0.5 * (1 + 1 - 1 - 0) = 0.5 per dimension
    assert kl_to_standard_normal(torch.ones(1, 4), torch.zeros(1, 4)).item() == pytest.approx(2.0)
    # and E_q[log q - log p] by sampling
    z = q.sample((20000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(mc, expected, atol=0.05, rtol=0.02)
    assert (got >= 0).all() and kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0


def test_gaussian_likelihood_is_the_normal_log_density():
    from genzoo_vae import PixelLikelihood

    lik = PixelLikelihood("gaussian", 3, sigma=0.2)
    logits, x = torch.randn(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    expected = torch.distributions.Normal(torch.sigmoid(logits), 0.2).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(lik.log_prob(logits, x), expected)
    assert not any(p.requires_grad for p in lik.parameters())  # fixed sigma is a buffer
    learned = PixelLikelihood("gaussian", 3)
    assert [n for n, _ in learned.named_parameters()] == ["log_sigma"]
    bern = PixelLikelihood("bernoulli", 1)
    xb = torch.tensor([[[[0.0, 1.0]]]])
    lg = torch.tensor([[[[0.0, 2.0]]]])  # p = 0.5 and sigmoid(2)
    assert bern.log_prob(lg, xb).item() == pytest.approx(math.log(0.5) + math.log(torch.sigmoid(torch.tensor(2.0)).item()))


def test_elbo_sign_and_its_bounds():
    model = create("vae", image_size=16, width=8, latent_dim=4)
    x = torch.rand(16, 1, 16, 16)
    e = model.elbo(x, seed=0)
    assert e["elbo"].shape == (16,)
    # Bernoulli reconstruction costs are positive nats and KL >= 0, so ELBO < 0 ...
    assert (e["recon"] > 0).all() and (e["kl"] >= 0).all() and (e["elbo"] < 0).all()
    torch.testing.assert_close(e["elbo"], -(e["recon"] + e["kl"]))
    # ... and deterministic for a seed
    torch.testing.assert_close(model.elbo(x, seed=0)["elbo"], e["elbo"])
    # a Gaussian likelihood is a density: its ELBO may be positive, but it is still recon + KL
    g = create("vae", image_size=16, width=8, latent_dim=4, likelihood="gaussian", sigma=0.01).elbo(x, seed=0)
    torch.testing.assert_close(g["elbo"], -(g["recon"] + g["kl"]))


def test_training_logs_elbo_terms_and_heldout_elbo_per_epoch(tmp_path):
    from genzoo.engine import train

    out = tmp_path / "vae"
    # 64-image batches over 1500 digits: 23 steps per epoch, so 50 steps end two epochs
    res = train("vae", out=out, data="digits", progress=False,
                **{**TINY, "steps": 50, "batch_size": 64, "log_every": 10, "checkpoint_every": 50,
                   "kl_warmup": 20})
    lines = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    train_lines = [r for r in lines if "loss_model" in r]
    held = [r for r in lines if "test_elbo" in r]
    assert [r["epoch"] for r in held] == [1, 2] and [r["step"] for r in held] == [23, 46]
    for r in held:  # nats per image: ELBO = -(recon + KL), negative for Bernoulli
        assert r["test_elbo"] < 0 and r["test_elbo"] == pytest.approx(-(r["test_recon"] + r["test_kl"]), rel=1e-5)
    # the loss is recon + w * KL with the warm-up weight rising linearly to beta = 1
    weights = [r["kl_weight"] for r in train_lines]
    assert weights == sorted(weights) and weights[-1] == 1.0 and weights[0] < 0.5
    last = train_lines[-1]
    assert last["loss_model"] == pytest.approx(last["recon"] + last["kl"], rel=1e-4)
    assert train_lines[-1]["recon"] < train_lines[0]["recon"]
    # the final held-out ELBO lands in config.json and the model card
    cfg = json.loads((out / "config.json").read_text())
    ev = {e["metric"]: e for e in cfg["evaluation"]}
    assert ev["elbo"]["value"] < 0 and ev["elbo"]["split"] == "test"
    assert "ELBO" in (out / "README.md").read_text()
    assert res.steps == 50


def test_small_run_reconstructs_better_than_the_mean_image_and_logs_iwae(vae_run):
    from genzoo.data import load_dataset

    model = load(vae_run)
    x = (load_dataset("digits", split="test").images[:64] + 1) / 2
    rec = model.reconstruct(x)
    assert rec.shape == x.shape and rec.min() >= 0 and rec.max() <= 1
    err = (rec - x).pow(2).mean()
    baseline = (x.mean(0, keepdim=True) - x).pow(2).mean()  # predicting the average digit
    assert err < 0.5 * baseline
    # deterministic: posterior mean decoded
    torch.testing.assert_close(model.reconstruct(x), rec)
    assert not torch.equal(model.reconstruct(x, sample=True, seed=1), rec)
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (64, 8)
    torch.testing.assert_close(model.decode(mean), rec)
    ev = {e["metric"]: e for e in json.loads((vae_run / "config.json").read_text())["evaluation"]}
    # the importance-weighted bound tightens with k and sits above the ELBO (Burda et al. 2016)
    x64 = x[:32]
    lb1, lb64 = model.iwae(x64, k=1, seed=1).mean(), model.iwae(x64, k=64, seed=1).mean()
    assert lb64 > lb1 and lb64 > model.elbo(x64, samples=16, seed=1)["elbo"].mean()
    # on the same 64 test images the IWAE bound (k=8) is at least the single-sample ELBO
    proto = ev["iwae"]["protocol"]
    assert proto["k"] == 8 and proto["images"] == 64 and ev["elbo"]["protocol"]["images"] == 297
    assert ev["iwae"]["value"] >= proto["elbo_same_images"]


@pytest.mark.parametrize("size,channels", [(16, 1), (28, 1), (32, 3), (64, 3)])
def test_sizes_and_channels(size, channels):
    model = create("vae", image_size=size, channels=channels, width=8, latent_dim=4)
    x = torch.rand(2, channels, size, size)
    mean, logvar = model.encode(x)
    assert mean.shape == (2, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3, seed=0).shape == (3, channels, size, size)


def test_bad_settings_are_clear_errors():
    with pytest.raises(GenzooError, match="likelihood must be one of"):
        create("vae", likelihood="poisson")
    with pytest.raises(GenzooError, match="base \\* 2\\^k"):
        create("vae", image_size=18)
    with pytest.raises(GenzooError, match="binarize=true needs likelihood=bernoulli"):
        create("vae", binarize=True, likelihood="gaussian")
    model = create("vae", image_size=16, width=8, latent_dim=4)
    with pytest.raises(GenzooError, match="expected images of shape \\(N, 1, 16, 16\\)"):
        model.encode(torch.rand(2, 3, 16, 16))
    with pytest.raises(GenzooError, match="not conditional"):
        model.encode(torch.rand(2, 1, 16, 16), labels=[0, 1])


def test_gaussian_learned_variance_trains_sigma(tmp_path):
    from genzoo.engine import train

    out = tmp_path / "g"
    train("vae", out=out, data="digits", progress=False, **{**TINY, "likelihood": "gaussian", "steps": 20})
    model = load(out)
    assert model.likelihood.log_sigma.shape == (1,)
    # learned: moved away from its initial log(0.1)
    assert model.likelihood.log_sigma.item() != pytest.approx(math.log(0.1), abs=1e-4)


def test_cvae_is_the_vae_with_labels(tmp_path):
    from genzoo.engine import train

    out = tmp_path / "cvae"
    train("cvae", out=out, data="digits", progress=False, **TINY)
    model = load(out)
    assert model.is_conditional and model.config.num_classes == 10
    assert type(model).__name__ == "VAEModel"  # the same code, switched by the flag
    x = torch.rand(4, 1, 16, 16)
    with pytest.raises(GenzooError, match="conditional: pass the images' labels"):
        model.encode(x)
    assert model.reconstruct(x, labels=[0, 1, 2, 3]).shape == x.shape
    imgs = model.sample(4, seed=0, labels=3, sampler="gmm")
    assert imgs.shape == (4, 1, 16, 16)
    # without labels the ELBO marginalises the class: log (1/K) sum_y exp ELBO(x, y)
    per = torch.stack([model.elbo(x, labels=torch.full((4,), c), seed=0)["elbo"] for c in range(10)])
    torch.testing.assert_close(model.elbo(x, seed=0)["elbo"], torch.logsumexp(per, 0) - math.log(10))
    # the cvae needs labelled data
    from genzoo.registry import families

    assert families.get("cvae").default_config().conditional is True
    assert families.get("vae").default_config().conditional is False


def test_reconstruct_cli_writes_inputs_over_reconstructions(vae_run, tiny_run, tmp_path, cli):
    from PIL import Image

    from genzoo.data import load_dataset

    x = (load_dataset("digits", split="test").images[:5] + 1) / 2
    paths = save_individual(x, tmp_path / "in")
    out = tmp_path / "rec.png"
    code, _, err = cli("reconstruct", vae_run, *paths, "--out", out, "--nrow", "5")
    assert code == 0, err
    assert "mean squared error" in " ".join(err.split())  # rich wraps long lines
    with Image.open(out) as im:
        w, h = im.size
    assert w > h and 2.0 < w / h < 3.0  # one row of 5 inputs over one row of 5 reconstructions
    # a folder stands for the images in it
    code, _, err = cli("reconstruct", vae_run, tmp_path / "in", "--out", tmp_path / "rec2.png")
    assert code == 0, err
    code, _, err = cli("reconstruct", tiny_run, *paths, "--out", tmp_path / "x.png")
    assert code == 1 and "no encoder to reconstruct with" in " ".join(err.split())


def test_card_describes_the_vae(vae_run):
    card = (vae_run / "README.md").read_text()
    assert "# Variational autoencoder on digits" in card
    assert "--sampler gmm" in card
    assert "nats" in card


def test_default_sampler_is_the_mixture_for_the_vae_and_the_prior_for_the_cvae():
    # measured on Fashion-MNIST (docs/vae.md): gmm beat N(0, I) for the vae, not for the cvae
    x = torch.rand(64, 1, 16, 16)
    vae = create("vae", image_size=16, channels=1, latent_dim=4, width=4, gmm_components=2)
    cvae = create("cvae", image_size=16, channels=1, num_classes=10, latent_dim=4, width=4, gmm_components=2)
    assert vae.default_sampler == "normal" and cvae.default_sampler == "normal"  # nothing fitted yet
    vae.fit_gmm(x)
    cvae.fit_gmm(x, torch.arange(64) % 10)
    assert vae.default_sampler == "gmm" and cvae.default_sampler == "normal"
    assert torch.equal(vae.sample(4, seed=1), vae.sample(4, seed=1, sampler="gmm"))
    assert torch.equal(cvae.sample(4, seed=1, labels=0), cvae.sample(4, seed=1, labels=0, sampler="normal"))
