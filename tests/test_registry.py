"""Registries: lookup, helpful errors, wildcards, entry-point discovery, broken plugins, opt-outs."""

from __future__ import annotations

from importlib import metadata

import pytest

from genzoo.errors import GenzooError, UnknownNameError
from genzoo.family import Family
from genzoo.registry import Registry, families


def test_register_and_get_by_decorator():
    reg: Registry = Registry("loss", group="genzoo.test-none")

    @reg.register("triple")
    def triple(x):
        return 3 * x

    assert reg.get("triple")(2) == 6
    assert reg.names() == ["triple"]
    assert "triple" in reg and "nope" not in reg


def test_unknown_name_suggests_close_match_and_lists_installed():
    with pytest.raises(UnknownNameError) as e:
        families.get("dcgn")
    msg = str(e.value)
    assert msg.startswith("unknown family 'dcgn'; did you mean 'dcgan'")
    assert "installed:" in msg and "dcgan" in msg


def test_duplicate_registration_is_refused():
    reg: Registry = Registry("sampler", group="genzoo.test-none")
    reg.register("a", object())
    with pytest.raises(GenzooError, match="already registered"):
        reg.register("a", object())


def test_wildcard_listing():
    reg: Registry = Registry("dataset", group="genzoo.test-none")
    for n in ("wgan", "wgan-gp", "dcgan", "vae"):
        reg.register(n, n)
    assert reg.names("*gan*") == ["dcgan", "wgan", "wgan-gp"]
    assert reg.names("wgan*") == ["wgan", "wgan-gp"]
    assert reg.names("x*") == []


def test_class_registered_in_instance_registry_is_instantiated():
    reg: Registry = Registry("sampler", group="genzoo.test-none", instances=True)

    @reg.register("s")
    class S:
        pass

    assert isinstance(reg.get("s"), S)


def _fake_eps(monkeypatch, eps):
    real = metadata.entry_points

    def fake(**kw):
        if kw.get("group") == "genzoo.test-plugins":
            return eps
        return real(**kw)

    monkeypatch.setattr(metadata, "entry_points", fake)


def test_entry_points_are_lazy_and_broken_plugin_is_reported_not_fatal(monkeypatch):
    good = metadata.EntryPoint("good", "json:dumps", "genzoo.test-plugins")
    bad = metadata.EntryPoint("broken", "genzoo_no_such_module_xyz:thing", "genzoo.test-plugins")
    _fake_eps(monkeypatch, [good, bad])
    reg: Registry = Registry("loss", group="genzoo.test-plugins")
    # listing reads metadata only: nothing imported, both names known
    assert reg.names() == ["broken", "good"]
    import json

    assert reg.get("good") is json.dumps
    with pytest.raises(GenzooError, match="could not be loaded"):
        reg.get("broken")
    status = {p.name: p.status for p in reg.plugins()}
    assert status["good"] == "ok"
    assert status["broken"].startswith("failed: ModuleNotFoundError")
    assert reg.names() == ["good"]  # a failed plugin drops out of listings


def test_opt_out_switches(monkeypatch):
    ep = metadata.EntryPoint("good", "json:dumps", "genzoo.test-plugins")
    _fake_eps(monkeypatch, [ep])
    monkeypatch.setenv("GENZOO_DISABLE_PLUGINS", "good")
    reg: Registry = Registry("loss", group="genzoo.test-plugins")
    assert reg.names() == []
    assert [p.status for p in reg.plugins()] == ["disabled"]
    with pytest.raises(GenzooError, match="disabled"):
        reg.get("good")
    monkeypatch.delenv("GENZOO_DISABLE_PLUGINS")
    monkeypatch.setenv("GENZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
    reg2: Registry = Registry("loss", group="genzoo.test-plugins")
    assert reg2.names() == []



# ------------------------------------------------------------------------------------------
# names are written once: the registered key is the name
# ------------------------------------------------------------------------------------------
class MisnamedFamily(Family):
    """Says it is 'other' while its entry point calls it 'misnamed'."""

    name = "other"


class UnnamedFamily(Family):
    pass


def test_a_decorator_registered_family_or_sampler_gets_its_key_as_name():
    reg: Registry = Registry("family", group="genzoo.test-none", instances=True, named=True)

    @reg.register("mine")
    class Mine(Family):
        pass

    assert reg.get("mine").name == "mine" and reg.get("mine").build(reg.get("mine").default_config()).family_name == "mine"
    with pytest.raises(GenzooError, match=r"family 'yours' is a class MisnamedFamily whose name is 'other'; "
                                          r"the registered key is its only name"):
        reg.register("yours", MisnamedFamily)
    assert "yours" not in reg
    reg.register("other", MisnamedFamily)  # a name that agrees is fine
    assert reg.get("other").name == "other"


def test_builtin_families_and_samplers_are_named_by_their_keys_alone():
    from genzoo.registry import samplers

    for name in families.names():
        fam = families.get(name)
        assert fam.name == name
        assert all("name" not in vars(c) for c in type(fam).__mro__[:-2]), f"{name} writes its name again"
    for name in samplers.names():
        assert samplers.get(name).name == name
        assert "name" not in vars(type(samplers.get(name))), f"sampler {name} writes its name again"


def test_an_entry_point_whose_object_disagrees_with_its_key_is_a_reported_plugin_failure(monkeypatch):
    eps = [metadata.EntryPoint("misnamed", f"{__name__}:MisnamedFamily", "genzoo.test-plugins"),
           metadata.EntryPoint("plain", f"{__name__}:UnnamedFamily", "genzoo.test-plugins")]
    _fake_eps(monkeypatch, eps)
    reg: Registry = Registry("family", group="genzoo.test-plugins", instances=True, named=True)
    status = {p.name: p.status for p in reg.plugins()}  # what `genzoo plugins` shows; nothing raised
    assert status["misnamed"] == (
        "failed: family 'misnamed' is a class MisnamedFamily whose name is 'other'; the registered key is its "
        "only name, so drop its `name = \"other\"` (or register it as 'other')")
    assert status["plain"] == "ok" and reg.get("plain").name == "plain"
    with pytest.raises(GenzooError, match="could not be loaded"):
        reg.get("misnamed")


def test_genzoo_plugins_reports_a_misnamed_family(monkeypatch, cli):
    ep = metadata.EntryPoint("misnamed", f"{__name__}:MisnamedFamily", "genzoo.families")
    real = metadata.entry_points

    def fake(**kw):
        found = list(real(**kw))
        return found + [ep] if kw.get("group") == "genzoo.families" else found

    monkeypatch.setattr(metadata, "entry_points", fake)
    families.refresh()
    try:
        code, out, _ = cli("plugins")
        assert code == 0
        # the reason may wrap inside its table cell: read the words without the cell borders
        words = " ".join(w for w in out.split() if w not in ("│", "┃"))
        assert "misnamed" in out and "whose name is 'other'" in words
        assert families.get("gan").name == "gan"  # the others still load
    finally:
        monkeypatch.undo()
        families.refresh()


def test_builtin_registries_have_the_core_entries():
    from genzoo.registry import datasets, losses, samplers

    assert {"minimax", "non-saturating", "wasserstein", "hinge", "least-squares"} <= set(losses.names())
    assert {"normal", "truncated-normal", "uniform"} <= set(samplers.names())
    assert {"digits", "fashion-mnist", "folder"} <= set(datasets.names())
    assert families.origin("dcgan") == "genzoo-dcgan"
    assert losses.origin("hinge") == "genzoo"
