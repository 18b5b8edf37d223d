"""The sampler registry: built-ins, the gmm sampler (fit, save/load, quality), errors, plugins."""

from __future__ import annotations

import sys
import types
from importlib import metadata

import numpy as np
import pytest
import torch

from genzoo.errors import GenzooError
from genzoo.hub import create, load
from genzoo.registry import samplers
from genzoo.samplers import LatentGMM, Sampler


def test_builtin_samplers_are_registered():
    assert {"normal", "truncated-normal", "uniform", "gmm"} <= set(samplers.names())
    model = create("vae", image_size=16, width=8, latent_dim=4)
    assert {"normal", "truncated-normal", "uniform", "gmm"} <= set(model.sampler_names())
    assert "gmm" not in create("dcgan").sampler_names()


def test_latent_gmm_recovers_a_known_mixture():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3000, 2, generator=g) * 0.3 + torch.tensor([4.0, 0.0])
    b = torch.randn(1000, 2, generator=g) * torch.tensor([0.5, 0.1]) + torch.tensor([-4.0, 2.0])
    gmm = LatentGMM(2, 2)
    assert not gmm.is_fitted
    gmm.fit(torch.cat([a, b]), seed=0)
    assert gmm.is_fitted
    order = gmm.means[:, 0].argsort(descending=True)
    torch.testing.assert_close(gmm.weights[order], torch.tensor([0.75, 0.25]), atol=0.02, rtol=0)
    torch.testing.assert_close(gmm.means[order], torch.tensor([[4.0, 0.0], [-4.0, 2.0]]), atol=0.05, rtol=0)
    cov = gmm.scale_tril @ gmm.scale_tril.transpose(-1, -2)
    torch.testing.assert_close(cov[order[1]], torch.diag(torch.tensor([0.25, 0.01])), atol=0.03, rtol=0)
    # samples follow the mixture and are fixed by the generator's seed
    s = gmm.sample(20000, torch.Generator().manual_seed(1))
    assert (s[:, 0] > 0).float().mean().item() == pytest.approx(0.75, abs=0.02)
    torch.testing.assert_close(gmm.sample(20000, torch.Generator().manual_seed(1)), s)
    # log_prob is the mixture density: higher at a mean than far away
    lp = gmm.log_prob(torch.tensor([[4.0, 0.0], [0.0, 10.0]]))
    assert lp[0] > lp[1] + 10


def test_gmm_parameters_survive_save_and_load(vae_run, tmp_path):
    model = load(vae_run)
    gmm = model.latent_gmm
    assert gmm.is_fitted and gmm.weights.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert gmm.means.abs().sum() > 0  # fitted, not the initial zeros
    again = load(model.save_pretrained(tmp_path / "copy"))
    for name in ("weights", "means", "scale_tril", "fitted"):
        assert torch.equal(getattr(again.latent_gmm, name), getattr(gmm, name)), name
    torch.testing.assert_close(again.sample(8, seed=3, sampler="gmm"), model.sample(8, seed=3, sampler="gmm"))
    # the weights file itself holds the mixture (so it travels to the Hub)
    from safetensors.torch import load_file

    stored = load_file(str(vae_run / "model.safetensors"))
    assert torch.equal(stored["latent_gmm.means"], gmm.means)
    assert "latent_gmm" in (vae_run / "config.json").read_text()


def test_gmm_samples_differ_from_prior_samples_and_are_seeded(vae_run):
    model = load(vae_run)
    a = model.sample(16, seed=0, sampler="gmm")
    assert a.shape == (16, 1, 16, 16) and 0 <= a.min() and a.max() <= 1
    torch.testing.assert_close(model.sample(16, seed=0, sampler="gmm"), a)
    assert not torch.equal(model.sample(16, seed=0, sampler="normal"), a)
    # a trained VAE samples from its fitted mixture by default (the better sampler, docs/vae.md)
    assert model.default_sampler == "gmm" and torch.equal(model.sample(16, seed=0), a)


def test_sampler_errors_are_clear(vae_run, tiny_run, cli):
    dcgan = load(tiny_run)
    with pytest.raises(GenzooError, match="sampler 'gmm' cannot be used with a dcgan model: it needs an encoder"):
        dcgan.sample(4, sampler="gmm")
    with pytest.raises(GenzooError, match="unknown sampler 'gaussian-mixture'"):
        load(vae_run).sample(4, sampler="gaussian-mixture")
    fresh = create("vae", image_size=16, width=8, latent_dim=4)
    with pytest.raises(GenzooError, match="no fitted latent mixture"):
        fresh.sample(4, sampler="gmm")
    code, _, err = cli("sample", tiny_run, "-n", "4", "--sampler", "gmm", "--out", "x.png")
    err = " ".join(err.split())  # rich wraps long lines
    assert code == 1 and "cannot be used with a dcgan model" in err and "Traceback" not in err
    code, _, err = cli("sample", tiny_run, "-n", "4", "--sampler", "gmn")
    err = " ".join(err.split())
    assert code == 1 and "did you mean 'gmm'" in err


def test_sample_cli_with_gmm(vae_run, tmp_path, cli):
    out = tmp_path / "g.npz"
    code, _, err = cli("sample", vae_run, "-n", "6", "--seed", "2", "--sampler", "gmm", "--out", out)
    assert code == 0, err
    arr = np.load(out)["images"]
    expected = load(vae_run).sample(6, seed=2, sampler="gmm")
    assert arr.shape == (6, 16, 16, 1)
    assert np.abs(arr.astype(np.float32) / 255 - expected.permute(0, 2, 3, 1).numpy()).max() <= 1 / 255 + 1e-6


class _Corner(Sampler):
    """A third-party sampler: every latent is the all-ones vector."""

    name = "corner"
    description = "test sampler"

    def latents(self, model, n, gen, **opts):  # noqa: ANN001
        return torch.ones(n, model.latent_dim)


def test_third_party_sampler_through_the_entry_point_group(monkeypatch):
    mod = types.ModuleType("genzoo_test_corner_sampler")
    mod.Corner = _Corner
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    ep = metadata.EntryPoint("corner", f"{mod.__name__}:Corner", "genzoo.samplers")
    real = metadata.entry_points

    def fake(**kw):
        eps = list(real(**kw))
        return eps + [ep] if kw.get("group") == "genzoo.samplers" else eps

    monkeypatch.setattr(metadata, "entry_points", fake)
    samplers.refresh()
    try:
        assert "corner" in samplers.names()
        model = create("vae", image_size=16, width=8, latent_dim=4)
        imgs = model.sample(3, seed=0, sampler="corner")
        torch.testing.assert_close(imgs, model.decode(torch.ones(3, 4)))
    finally:
        samplers.unregister("corner")
        monkeypatch.undo()
        samplers.refresh()
    assert "corner" not in samplers.names()


# ------------------------------------------------------------------------------------------
# gmm vs prior: Frechet distance in a feature space built here (a small digits classifier)
# ------------------------------------------------------------------------------------------
def _digit_features(data, seed: int = 0):
    """A 2-conv classifier trained 300 steps on the digits; its 64-d penultimate layer."""
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU())
    head = nn.Linear(64, 10)
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], 2e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(300):
        idx = torch.randint(0, len(data), (128,), generator=g)
        loss = F.cross_entropy(head(net(data.images[idx])), data.labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval(), head.eval()


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import linalg

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_gmm_samples_are_closer_to_the_data_than_prior_samples(vae_run):
    from genzoo.data import load_dataset

    train = load_dataset("digits", image_size=16)
    test = load_dataset("digits", split="test", image_size=16)
    net, head = _digit_features(train)
    with torch.no_grad():
        assert (head(net(test.images)).argmax(1) == test.labels).float().mean() > 0.9  # a usable feature space
        real = net(train.images).numpy()
        model = load(vae_run)
        fd = {s: _frechet(real, net(model.sample(1500, seed=1, sampler=s) * 2 - 1).numpy()) for s in ("normal", "gmm")}
        floor = _frechet(real, net(test.images).numpy())
    print(f"Frechet distance to digits train features: normal {fd['normal']:.1f}, gmm {fd['gmm']:.1f}, "
          f"test images {floor:.1f}")
    assert fd["gmm"] < 0.8 * fd["normal"]
    assert floor < fd["gmm"]


def test_sampler_options_are_typed_from_text():
    """`--opt KEY=VALUE` arrives as text or a CLI-parsed number; a sampler's option_types convert it,
    and a value of the wrong kind is refused with the option's name."""
    trunc = samplers.get("truncated-normal")
    assert trunc.check_options({"truncation": "1.5", "truncation_mode": "clamp"}) == {
        "truncation": 1.5, "truncation_mode": "clamp"}
    assert type(trunc.check_options({"truncation": 2})["truncation"]) is float
    for bad in ("abc", "nan", "inf", True):
        with pytest.raises(GenzooError, match=f"option 'truncation' must be a finite number, got '{bad}'"):
            trunc.check_options({"truncation": bad})
    ddim = samplers.get("ddim")
    assert ddim.check_options({"steps": "20", "clip": "false", "eta": 0, "spacing": 3}) == {
        "steps": 20, "clip": False, "eta": 0.0, "spacing": "3"}
    assert ddim.check_options({"steps": 20.0, "clip": "ON"}) == {"steps": 20, "clip": True}
    with pytest.raises(GenzooError, match="option 'steps' must be a whole number, got '2.5'"):
        ddim.check_options({"steps": 2.5})
    with pytest.raises(GenzooError, match=r"--clip must be true or false, got 'maybe'"):
        ddim.check_options({"clip": "maybe"}, flags=True)
    assert samplers.get("normal").check_options({}) == {}
