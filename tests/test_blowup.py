"""The divergence guard beyond NaN/inf: losses or weights exploding by orders of magnitude
against the run's own history stop the run before they reach a checkpoint, keep the last good
checkpoint, and advise a new run with a smaller learning rate (resume keeps the config)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from genzoo.engine import Trainer, find_checkpoint, train
from genzoo.engine.loop import BLOWUP, LoopState, first_blown, magnitudes
from genzoo.errors import GenzooError
from tests.conftest import TINY_DCGAN


def blowing_family(what: str):
    """A DCGAN whose discriminator loss (``what="loss"``) or generator weights (``"weights"``)
    jump by 1e6 from step 4 on (steps counting from 0), after the checkpoint at step 3."""
    from genzoo_dcgan import DCGANFamily

    class BlowUp(DCGANFamily):
        name = f"blowup-{what}-test"

        def recipe(self, model, config):
            r = super().recipe(model, config)
            inner = r.phases[0].loss

            def loss(ctx):
                if ctx.step == 4 and what == "weights":  # before the forward pass: autograd must not see it
                    with torch.no_grad():
                        for p in model.generator.parameters():
                            p.mul_(1e6)
                value, logs = inner(ctx)
                return (value * 1e6 if ctx.step >= 4 and what == "loss" else value), logs

            r.phases[0].loss = loss
            return r

    return BlowUp()


@pytest.mark.parametrize("what,expected", [
    ("loss", "a loss exploded at step 5 ("),
    ("weights", "the weights exploded between step 5 and step 6: the largest |value| in generator."),
])
def test_blow_up_stops_before_the_next_checkpoint_and_keeps_the_good_one(tmp_path, what, expected):
    run = tmp_path / what
    good = None

    def remember(step: int) -> None:
        nonlocal good
        if step == 3:
            good = load_file(str(find_checkpoint(run) / "state.safetensors"))

    t = Trainer(blowing_family(what), overrides=TINY_DCGAN, out=run, progress=False)
    t.step_callbacks.append(remember)
    with pytest.raises(GenzooError) as e:
        t.fit()
    msg = str(e.value)
    assert msg.startswith("training diverged: ") and expected in msg
    assert "stopped at step 6" in msg or what == "weights"
    assert "last good checkpoint (step-00000003)" in msg and "resuming it would diverge the same way" in msg
    assert f"genzoo train {t.family.name} --data digits --set lr=2e-05 --out NEW_RUN_DIR" in msg
    # the good checkpoint is the newest, whole and unchanged; the blown-up state was never saved
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == ["step-00000003"]
    now = load_file(str(find_checkpoint(run) / "state.safetensors"))
    assert now.keys() == good.keys() and all(torch.equal(now[k], good[k]) for k in now)
    shipped = load_file(str(run / "model.safetensors"))
    assert max(float(v.abs().max()) for v in shipped.values() if v.is_floating_point()) < 100


def test_huge_learning_rate_is_caught_at_the_first_check(tmp_path):
    """`--set lr=1e6` used to exit 0 with weights near 1e30."""
    with pytest.raises(GenzooError, match=r"the weights exploded between step 1 and step 2: the largest \|value\| in generator\..* grew from .* to \S+ \(more than 1e\+04 times\)"
                                          r"\. no checkpoint had been written yet; start a new run with a smaller learning "
                                          r"rate \(and your other options\): genzoo train dcgan --data digits --set lr=100000 "):
        train("dcgan", out=tmp_path / "lr", progress=False, **{**TINY_DCGAN, "lr": 1e6})
    assert find_checkpoint(tmp_path / "lr") is None


def test_loss_history_sets_the_limit_and_the_first_check_has_none():
    s = LoopState(step=0, checked_step=0, epochs_hooked=0)
    s.loss_hist = [(1, torch.tensor(5000.0)), (2, torch.tensor(-3.0))]
    assert s.local_bad_step() == -1  # no history yet: a large first loss (a VAE's nats) is fine
    assert s.loss_peak == 5000.0
    s.loss_hist = [(3, torch.tensor(5000.0 * BLOWUP * 0.9)), (4, torch.tensor(5000.0 * BLOWUP * 1.1))]
    assert s.local_bad_step() == 4 and s.bad_loss == pytest.approx(5000.0 * BLOWUP * 1.1)
    s = LoopState(step=0, checked_step=0, epochs_hooked=0, loss_peak=1.0)
    s.loss_hist = [(7, torch.tensor(float("nan")))]
    assert s.local_bad_step() == 7 and s.bad_loss == 0.0  # non-finite: reported as NaN/inf


def test_weight_limit_is_per_tensor_with_a_floor_of_one():
    start = magnitudes([torch.zeros(3), torch.full((2,), 50.0)])
    assert start.tolist() == [0.0, 50.0]
    assert first_blown(magnitudes([torch.full((3,), 9e3), torch.full((2,), 4e5)]), start) == -1
    assert first_blown(magnitudes([torch.full((3,), 2e4), torch.ones(2)]), start) == 0  # zeros start: floor 1
    assert first_blown(magnitudes([torch.ones(3), torch.full((2,), -6e5)]), start) == 1  # sign does not matter
