"""Capabilities (genzoo.capabilities) and commands from plugins (the genzoo.commands group)."""

from __future__ import annotations

import math
from importlib import metadata
from typing import Protocol, runtime_checkable

import pytest
import torch

import genzoo
import genzoo.cli
from genzoo.capabilities import CAPABILITIES, get_capability, members
from genzoo.config import ModelConfig
from genzoo.errors import GenzooError
from genzoo.family import GenerativeModel
from genzoo.plugin import (
    ConditionalOnLabels,
    DecodesLatents,
    EncodesImages,
    HasLatentMixture,
    HasLikelihood,
    Inpaints,
    MissingCapabilityError,
    Reconstructs,
    Samples,
    ScoresAnomalies,
    ShowsTrajectory,
    TranslatesImages,
    capabilities_of,
    families,
    families_with,
    has_capability,
    require,
)


@runtime_checkable
class Glows(Protocol):
    """A plugin's own capability."""

    def glow(self) -> float: ...


class Plain(GenerativeModel):
    family_name = "plain"


class Declared(GenerativeModel):
    family_name = "declared"
    capabilities = (Glows,)


def test_built_in_families_have_the_expected_capabilities():
    assert families_with(Inpaints) == ["diffusion"] == families_with(ShowsTrajectory)
    assert families_with(TranslatesImages) == ["cyclegan", "pix2pix"]
    for cap in (EncodesImages, Reconstructs):  # the flow's encoder is its bijection
        assert families_with(cap) == ["ae", "cvae", "flow", "vae"]
    assert families_with(HasLikelihood) == ["cvae", "flow", "vae"]
    assert families_with(HasLatentMixture) == ["ae", "cvae", "vae"]
    assert {"dcgan", "gan", "wgan", "wgan-gp", "cgan", "vae", "cvae"} <= set(families_with(ScoresAnomalies))
    assert {"dcgan", "gan", "vae"} <= set(families_with(DecodesLatents)) and "diffusion" not in families_with(DecodesLatents)
    # pix2pix's and cyclegan's sample() refuse (they translate): they withhold Samples by declaration
    assert {"pix2pix", "cyclegan"}.isdisjoint(families_with(Samples)) and "diffusion" in families_with(Samples)
    # config-dependent: the families that support labels may be conditional; gan may not
    assert "cgan" in families_with(ConditionalOnLabels) and "gan" not in families_with(ConditionalOnLabels)
    assert set(capabilities_of(families.get("diffusion"))) >= {Samples, Inpaints, ShowsTrajectory}


def test_models_satisfy_the_protocols_structurally():
    dcgan = genzoo.create("dcgan", image_size=16)
    assert isinstance(dcgan, Samples) and isinstance(dcgan, DecodesLatents) and isinstance(dcgan, ScoresAnomalies)
    assert not has_capability(dcgan, Inpaints) and not isinstance(dcgan, Inpaints)
    # a dcgan without labels is not conditional; one trained with labels is
    assert not has_capability(dcgan, ConditionalOnLabels)
    cond = genzoo.create("dcgan", image_size=16, conditional=True, num_classes=3)
    assert has_capability(cond, ConditionalOnLabels)
    assert has_capability(genzoo.create("pix2pix", image_size=32), TranslatesImages)
    assert not has_capability(genzoo.create("pix2pix", image_size=32), Samples)


def test_declared_and_plugin_capabilities():
    m = Declared(ModelConfig(image_size=8, channels=1))
    assert has_capability(m, Glows) and has_capability(Declared, Glows) and Glows in capabilities_of(m)
    assert not has_capability(Plain, Glows)
    with pytest.raises(MissingCapabilityError, match="a plain model lacks the Glows capability; no installed family"):
        require(Plain(ModelConfig(image_size=8, channels=1)), Glows)


def test_require_names_the_families_that_can():
    model = Plain(ModelConfig(image_size=8, channels=1))
    with pytest.raises(MissingCapabilityError) as e:
        require(model, Inpaints)
    assert str(e.value) == "a plain model cannot inpaint; families that have it: diffusion"
    assert e.value.families == ["diffusion"] and e.value.family == "plain" and e.value.capability is Inpaints
    with pytest.raises(GenzooError, match="^x plain y ae or cvae or flow or vae$"):
        require(model, Reconstructs, message="x {family} y {families}")
    require(genzoo.create("dcgan", image_size=16), Samples)  # no error


def test_unknown_or_bad_capability_is_a_one_line_error():
    assert get_capability("inpaints") is Inpaints
    with pytest.raises(GenzooError, match="unknown capability 'Inpaint'; did you mean 'Inpaints'"):
        get_capability("Inpaint")
    with pytest.raises(GenzooError, match="unknown capability"):
        families_with("nope")
    with pytest.raises(GenzooError, match="is not a capability: use a @runtime_checkable Protocol"):
        has_capability(Plain, int)
    assert members(TranslatesImages) == ["directions", "in_channels", "translate"]
    assert all(c.__doc__ and "[0, 1]" in c.__doc__ for c in CAPABILITIES if c not in (ConditionalOnLabels,))


def test_vae_log_likelihood_is_a_bound_in_nats_and_bits_per_dim():
    vae = genzoo.create("vae", image_size=16, channels=1, latent_dim=4, width=8)
    x = torch.rand(3, 1, 16, 16)
    ll = vae.log_likelihood(x, seed=0)
    assert ll.exact is False and ll.nats.shape == (3,)
    torch.testing.assert_close(ll.nats, vae.elbo(x, seed=0)["elbo"])
    torch.testing.assert_close(ll.bits_per_dim, -ll.nats / (256 * math.log(2)))


# -- commands from plugins -----------------------------------------------------------------
@pytest.fixture
def plugin_cmds(monkeypatch):
    """Fake genzoo.commands entry points (no distribution behind them)."""
    real = metadata.entry_points

    def install(*eps: tuple[str, str]) -> None:
        fake = [metadata.EntryPoint(n, v, genzoo.cli.COMMAND_GROUP) for n, v in eps]
        monkeypatch.setattr(metadata, "entry_points",
                            lambda **kw: fake if kw.get("group") == genzoo.cli.COMMAND_GROUP else real(**kw))
        monkeypatch.setattr(genzoo.cli, "_plugin_commands", None)

    yield install
    genzoo.cli._plugin_commands = None


def test_plugin_command_is_listed_and_runs(cli, plugin_cmds):
    plugin_cmds(("hello", "genzoo.cli.inspect:plugins"))
    code, out, _ = cli("--help")
    assert code == 0 and "Commands from plugins" in out and "hello" in out
    code, out, _ = cli("hello")
    assert code == 0 and "command" in out and "hello" in out  # it ran `genzoo plugins`, which lists itself


def test_broken_shadowing_and_odd_plugin_commands_are_reported_not_fatal(cli, plugin_cmds, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # table rows on one line each
    plugin_cmds(("boom", "genzoo_no_such_module_xyz:cmd"), ("train", "genzoo.cli.inspect:plugins"),
                ("odd", "genzoo.errors:GenzooError"))
    code, _, err = cli("boom")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "command 'boom' from plugin ? ? could not be loaded (failed: ModuleNotFoundError" in err
    code, _, err = cli("odd")
    assert code == 1 and "genzoo.errors:GenzooError is a type, not a click command" in err
    code, out, _ = cli("plugins")
    rows = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert any(r.startswith("command train ? ? refused: 'train' is a built-in command") for r in rows)
    assert any(r.startswith("command boom ? ? failed: ModuleNotFoundError") for r in rows)
    # the built-in train is untouched, and the CLI still works
    code, out, _ = cli("--help")
    assert code == 0 and "Train a family" in out and "boom" not in out  # known broken now: not offered
    genzoo.cli._plugin_commands = None  # a fresh process knows metadata only, so it lists boom
    assert "boom" in cli("--help")[1]
    assert cli("list", "capabilities", "inpaints")[0] == 0


def test_disabled_plugin_command(cli, plugin_cmds, monkeypatch):
    monkeypatch.setenv("GENZOO_DISABLE_PLUGINS", "hello")
    plugin_cmds(("hello", "genzoo.cli.inspect:plugins"))
    code, out, _ = cli("--help")
    assert "hello" not in out
    code, _, err = cli("hello")
    assert code == 1 and "command 'hello' (from ?) is disabled by GENZOO_DISABLE_PLUGINS" in err


def test_list_capabilities_and_info(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli("list", "capabilities")
    rows = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert code == 0 and any(r.startswith("Inpaints ") and r.endswith("diffusion") for r in rows)
    code, out, _ = cli("info", "diffusion")
    assert code == 0 and "capabilities: Samples, ConditionalOnLabels, Inpaints, ShowsTrajectory" in out
