"""Training options of the diffusion family (issue 18, part 3), on by default since they were
measured: Min-SNR-gamma loss weighting, with eps and v targets. (v-prediction and the cosine schedule
have their own tests in tests/test_diffusion.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from genzoo.errors import GenzooError
from genzoo.hub import create


def test_min_snr_weights_formula():
    from genzoo_diffusion import min_snr_weights

    abar = torch.tensor([0.999, 0.9, 5 / 6, 0.5, 0.01], dtype=torch.float64)  # SNR 999, 9, 5, 1, 1/99
    snr = abar / (1 - abar)
    gamma = 5.0
    want_eps = [gamma / 999, gamma / 9, 1.0, 1.0, 1.0]  # min(SNR, g) / SNR
    want_v = [gamma / 1000, gamma / 10, 5 / 6, 0.5, (1 / 99) / (1 + 1 / 99)]  # min(SNR, g) / (SNR + 1)
    torch.testing.assert_close(min_snr_weights(abar, gamma, "eps"), torch.tensor(want_eps, dtype=torch.float64))
    torch.testing.assert_close(min_snr_weights(abar, gamma, "v"), torch.tensor(want_v, dtype=torch.float64))
    # both are min(SNR, gamma) in x0 space: ||eps err||^2 = SNR ||x0 err||^2, ||v err||^2 = (SNR + 1) ||x0 err||^2
    torch.testing.assert_close(min_snr_weights(abar, gamma, "eps") * snr, snr.clamp(max=gamma))
    torch.testing.assert_close(min_snr_weights(abar, gamma, "v") * (snr + 1), snr.clamp(max=gamma))


def _loss(model, seed: int):
    from genzoo_diffusion import diffusion_loss

    g = torch.Generator().manual_seed(0)
    batch = SimpleNamespace(images=torch.rand(6, 1, 8, 8, generator=g) * 2 - 1, labels=torch.arange(6))
    torch.manual_seed(seed)
    return diffusion_loss(SimpleNamespace(model=model, batch=batch)), batch


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_min_snr_loss_weights_each_image(prediction):
    """The weighted loss is mean_i w(t_i) ||out_i - target_i||^2 / (C H W), with the same draws of t and eps."""
    from genzoo_diffusion import min_snr_weights

    kw = {"image_size": 8, "width": 8, "num_res_blocks": 1, "dropout": 0.0, "num_classes": 10, "label_dropout": 0.0,
          "prediction": prediction}
    plain = create("diffusion", **kw, min_snr_gamma=0.0)
    torch.manual_seed(1)
    for p in plain.parameters():  # a non-zero output, as after some training
        torch.nn.init.normal_(p, 0, 0.05)
    weighted = create("diffusion", **kw, min_snr_gamma=5.0)
    weighted.load_state_dict(plain.state_dict())
    base, batch = _loss(plain, seed=3)
    got, _ = _loss(weighted, seed=3)
    # redo the draws by hand: t, then eps, from the same global seed
    torch.manual_seed(3)
    x0 = batch.images
    t = torch.randint(0, 1000, (6,))
    eps = torch.randn_like(x0)
    ab = plain.schedule.alphas_cumprod_on(x0.device)[t].view(6, 1, 1, 1)
    out = plain.denoiser(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t, batch.labels)
    target = eps if prediction == "eps" else ab.sqrt() * eps - (1 - ab).sqrt() * x0
    per_image = ((out - target) ** 2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(base, F.mse_loss(out, target))  # off (gamma 0): the plain loss
    torch.testing.assert_close(got, (min_snr_weights(ab.view(6), 5.0, prediction) * per_image).mean())
    assert not torch.allclose(got, base)


def test_cosine_v_and_min_snr_5_are_the_defaults_and_gamma_is_bounded():
    c = create("diffusion", image_size=8, width=8, num_res_blocks=1).config
    assert (c.schedule, c.prediction, c.min_snr_gamma) == ("cosine", "v", 5.0)  # measured in docs/diffusion.md
    assert create("diffusion", image_size=8, width=8, num_res_blocks=1, min_snr_gamma=0.0).config.min_snr_gamma == 0
    with pytest.raises(GenzooError, match="min_snr_gamma"):
        create("diffusion", image_size=8, width=8, num_res_blocks=1, min_snr_gamma=-1.0)
