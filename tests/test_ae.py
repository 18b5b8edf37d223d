"""The ae family (plugins/genzoo-ae): a deterministic autoencoder sampled through a fitted latent mixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from genzoo.errors import GenzooError
from genzoo.hub import create, load
from genzoo.images import save_individual

TINY = {"image_size": 16, "width": 8, "latent_dim": 4, "batch_size": 32, "steps": 2, "log_every": 1,
        "checkpoint_every": 2, "sample_every": 2, "num_samples": 8, "eval_images": 64, "gmm_components": 3}


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory) -> Path:
    """A tiny autoencoder trained two steps on digits: the mixture is fitted all the same."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "ae-tiny"
    train("ae", out=out, data="digits", progress=False, **TINY)
    return out


def test_pixel_error_is_the_mean_squared_or_absolute_difference():
    from genzoo_ae import pixel_error

    x = torch.zeros(2, 1, 2, 2)
    r = torch.tensor([0.5, 0.5, 0.0, 0.0]).view(1, 1, 2, 2).expand(2, -1, -1, -1)
    assert pixel_error(r, x, "l2").tolist() == [0.125, 0.125]  # (0.25 + 0.25) / 4
    assert pixel_error(r, x, "l1").tolist() == [0.25, 0.25]  # (0.5 + 0.5) / 4


@pytest.mark.parametrize("size,channels", [(16, 1), (28, 1), (32, 3), (64, 3)])
def test_shapes_and_ranges(size, channels):
    model = create("ae", image_size=size, channels=channels, width=8, latent_dim=5)
    x = torch.rand(3, channels, size, size)
    code, logvar = model.encode(x)
    assert code.shape == logvar.shape == (3, 5) and code.dtype == torch.float32 and code.device.type == "cpu"
    assert torch.isfinite(code).all() and torch.isneginf(logvar).all()  # deterministic: zero variance
    rec = model.reconstruct(x)
    assert rec.shape == x.shape and rec.min() >= 0 and rec.max() <= 1
    torch.testing.assert_close(model.decode(code), rec)
    dec = model.decode(torch.randn(2, 5) * 10)  # any code decodes to a valid image
    assert dec.shape == (2, channels, size, size) and dec.min() >= 0 and dec.max() <= 1
    s = model.sample(4, seed=0)
    assert s.shape == (4, channels, size, size) and s.min() >= 0 and s.max() <= 1


def test_encode_is_deterministic_and_independent_of_the_batch():
    model = create("ae", image_size=16, width=8, latent_dim=4)
    x = torch.rand(6, 1, 16, 16)
    code, _ = model.encode(x)
    assert torch.equal(model.encode(x)[0], code)
    torch.testing.assert_close(torch.cat([model.encode(x[i : i + 1])[0] for i in range(6)]), code)
    # a "draw" from a zero-variance code is the code: reconstruct(sample=True) changes nothing
    assert torch.equal(model.reconstruct(x, sample=True, seed=3), model.reconstruct(x))


def test_capabilities_are_the_vae_ones_through_the_same_protocols():
    from genzoo.plugin import (DecodesLatents, EncodesImages, HasLatentMixture, HasLikelihood, Reconstructs,
                               Samples, ScoresAnomalies, families_with, has_capability)

    model = create("ae", image_size=16, width=8, latent_dim=4)
    for cap in (EncodesImages, Reconstructs, DecodesLatents, HasLatentMixture, Samples, ScoresAnomalies):
        assert has_capability(model, cap), cap.__name__
        assert "ae" in families_with(cap)
    assert not has_capability(model, HasLikelihood)  # no density: reconstruction error is no likelihood


def test_bad_settings_are_clear_errors():
    with pytest.raises(GenzooError, match="loss must be one of l2, l1; got 'l3'"):
        create("ae", loss="l3")
    with pytest.raises(GenzooError, match="base \\* 2\\^k"):
        create("ae", image_size=18)
    with pytest.raises(GenzooError, match="not conditional"):
        create("ae", conditional=True)
    model = create("ae", image_size=16, width=8, latent_dim=4)
    with pytest.raises(GenzooError, match="expected images of shape \\(N, 1, 16, 16\\)"):
        model.encode(torch.rand(2, 3, 16, 16))
    with pytest.raises(GenzooError, match="not conditional"):
        model.reconstruct(torch.rand(2, 1, 16, 16), labels=[0, 1])
    # built, not trained: no mixture yet, so the default sampler is the prior and gmm says why it cannot
    assert model.default_sampler == "normal"
    with pytest.raises(GenzooError, match="no fitted latent mixture"):
        model.sample(2, seed=0, sampler="gmm")


def test_two_steps_fit_the_mixture_and_save_it_with_the_weights(ae_run):
    cfg = json.loads((ae_run / "config.json").read_text())
    assert cfg["family"] == "ae" and cfg["plugin"]["distribution"] == "genzoo-ae"
    assert cfg["training"]["steps"] == 2
    assert cfg["latent_gmm"]["components"] == 3 and "deterministic codes" in cfg["latent_gmm"]["fitted_on"]
    model = load(ae_run)
    gmm = model.latent_gmm
    assert gmm.is_fitted and model.default_sampler == "gmm"
    assert gmm.means.shape == (3, 4) and gmm.weights.sum().item() == pytest.approx(1.0, abs=1e-5)
    # the loaded mixture is the one fitted on the training codes: refitting on them gives it back
    from genzoo.data import load_dataset

    x = (load_dataset("digits", split="train").images + 1) / 2
    code, _ = model.encode(x)
    saved = gmm.means.clone()
    model.fit_gmm(x, seed=0)
    torch.testing.assert_close(model.latent_gmm.means, saved, atol=1e-4, rtol=1e-4)
    # the mixture sits on the codes (their mean), not on the prior's origin
    torch.testing.assert_close((gmm.weights[:, None] * gmm.means).sum(0), code.mean(0), atol=1e-3, rtol=1e-3)


def test_sampling_with_gmm_by_default_and_normal_on_request(ae_run):
    model = load(ae_run)
    a, b = model.sample(6, seed=1), model.sample(6, seed=1)
    assert torch.equal(a, b) and a.shape == (6, 1, 16, 16) and 0 <= a.min() and a.max() <= 1  # same seed, same images
    assert torch.equal(a, model.sample(6, seed=1, sampler="gmm"))  # the default is the mixture
    assert not torch.equal(a, model.sample(6, seed=2))
    n = model.sample(6, seed=1, sampler="normal")
    assert n.shape == a.shape and not torch.equal(n, a) and torch.equal(n, model.sample(6, seed=1, sampler="normal"))
    # the latents behind sample() are the mixture's: what interpolate and arithmetic start from
    from genzoo.latent import sample_latents

    gen = torch.Generator().manual_seed(1)
    torch.testing.assert_close(sample_latents(model, 6, 1), model.latent_gmm.sample(6, gen))
    torch.testing.assert_close(model.decode(sample_latents(model, 6, 1)), a)


def test_training_logs_the_loss_and_heldout_error(ae_run, tmp_path):
    from genzoo.engine import train

    lines = [json.loads(s) for s in (ae_run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss_model" in r] == [1, 2]
    final = next(r for r in lines if "test_mse_mean_image" in r)
    ev = {e["metric"]: e for e in json.loads((ae_run / "config.json").read_text())["evaluation"]}
    assert ev["recon_mse"]["value"] == pytest.approx(final["test_mse"], abs=1e-6)
    assert ev["recon_mse"]["protocol"] == {"images": 64, "mean_image_baseline": round(final["test_mse_mean_image"], 6)}
    # L1: the loss is the mean absolute error, and the squared one is logged beside it
    out = tmp_path / "l1"
    train("ae", out=out, data="digits", progress=False, **{**TINY, "loss": "l1"})
    l1 = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines() if "loss_model" in s]
    assert all(0 < r["mse"] < r["loss_model"] < 1 for r in l1)  # errors in [0, 1]: squared < absolute
    model = load(out)
    x = torch.rand(3, 1, 16, 16)
    torch.testing.assert_close(model.anomaly_score(x)["score"], model.reconstruction_error(x, loss="l1"))


def test_anomaly_score_is_the_reconstruction_error(ae_run):
    model = load(ae_run)
    x = torch.rand(4, 1, 16, 16)
    s = model.anomaly_score(x)
    assert set(s) == {"score", "mse", "mae", "latent_nll"} and all(v.shape == (4,) for v in s.values())
    expected = (model.reconstruct(x) - x).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(s["score"], expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(s["mse"], s["score"])
    torch.testing.assert_close(s["latent_nll"], -model.latent_gmm.log_prob(model.encode(x)[0]))


def test_reconstruct_cli_and_card(ae_run, tmp_path, cli):
    from PIL import Image

    from genzoo.data import load_dataset

    x = (load_dataset("digits", split="test").images[:5] + 1) / 2
    paths = save_individual(x, tmp_path / "in")
    out = tmp_path / "rec.png"
    code, _, err = cli("reconstruct", ae_run, *paths, "--out", out, "--nrow", "5")
    assert code == 0, err
    assert "mean squared error" in " ".join(err.split())
    with Image.open(out) as im:
        w, h = im.size
    assert 2.0 < w / h < 3.0  # one row of 5 inputs over one row of 5 reconstructions
    card = (ae_run / "README.md").read_text()
    assert "# Autoencoder on digits" in card and "--sampler normal" in card
    assert "reconstruction MSE (test split" in card


def test_sample_interpolate_and_eval_cli(ae_run, tmp_path, cli):
    code, _, err = cli("sample", ae_run, "-n", "4", "--out", tmp_path / "g.png")
    assert code == 0 and (tmp_path / "g.png").is_file(), err
    code, _, err = cli("sample", ae_run, "-n", "4", "--sampler", "normal", "--out", tmp_path / "n.png")
    assert code == 0 and (tmp_path / "n.png").is_file(), err
    code, _, err = cli("interpolate", ae_run, "--seeds", "1", "2", "--steps", "4", "--out", tmp_path / "w.png")
    assert code == 0 and (tmp_path / "w.png").is_file(), err
    # genzoo eval --sampler (a platform option) scores the mixture and the prior separately
    fids = {}
    for s in ("gmm", "normal"):
        js = tmp_path / f"{s}.json"
        code, out, err = cli("eval", ae_run, "--metrics", "fid", "-n", "50", "--sampler", s, "--json", js)
        assert code == 0, err
        assert f"sampler: {s}" in " ".join(out.split())
        rep = json.loads(js.read_text())
        assert rep["sampler"] == s
        fids[s] = rep["results"][0]["value"]
    assert fids["gmm"] != fids["normal"]
    save_individual(torch.rand(3, 1, 16, 16), tmp_path / "imgs")
    code, out, err = cli("eval", tmp_path / "imgs", "--data", "digits", "--sampler", "normal")
    assert code == 1 and "needs a model to sample" in " ".join((out + err).split())


def test_bench_covers_the_ae(cli, tmp_path):
    out = tmp_path / "bench.json"
    code, _, err = cli("bench", "ae", "--batch-size", "16", "--train-seconds", "0.2", "--chunk-seconds", "0.05",
                       "--sample-seconds", "0.3", "--sample-n", "8", "--set", "width=8", "--set", "latent_dim=4",
                       "--json", out)
    assert code == 0, err
    r = json.loads(out.read_text())["families"]["ae"]
    assert r["train"]["genzoo_images_per_s"] > 0
    (s,) = r["sampling"]
    assert s["sampler"] == "normal" and s["images_per_s"] > 0  # an untrained model has no mixture yet


@pytest.mark.slow
def test_reconstructs_held_out_digits_far_better_than_the_mean_image_and_gmm_beats_the_prior(tmp_path):
    from genzoo.data import load_dataset
    from genzoo.engine import train
    from genzoo.metrics import evaluate

    out = tmp_path / "ae"
    train("ae", out=out, data="digits", progress=False, steps=600, log_every=100, checkpoint_every=600,
          sample_every=600)
    model = load(out)
    x = (load_dataset("digits", split="test").images + 1) / 2  # 297 held-out digits
    err = model.reconstruction_error(x).mean().item()
    baseline = (x.mean(0, keepdim=True) - x).pow(2).mean().item()  # the average test digit, for every digit
    assert err < 0.25 * baseline, (err, baseline)
    # the lecture's point: decoding the prior fails, decoding the fitted mixture does not
    fid = {s: evaluate(model, data="digits", metrics="fid", n=500, sampler=s)["fid"] for s in ("gmm", "normal")}
    assert fid["gmm"] < 0.5 * fid["normal"], fid
