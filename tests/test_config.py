"""Typed configs: --set parsing, unknown keys, config files, round trip."""

from __future__ import annotations

import json

import pytest

from genzoo.config import ModelConfig, coerce, read_config_file
from genzoo.errors import GenzooError
from genzoo.registry import families


def dcgan_config():
    return families.get("dcgan").default_config()


def test_overrides_are_typed_against_the_dataclass():
    c = dcgan_config().with_overrides(["lr=1e-4", "betas=0.0,0.9", "steps=7", "conditional=true", "ema=0"])
    assert c.lr == pytest.approx(1e-4) and isinstance(c.lr, float)
    assert c.betas == (0.0, 0.9)
    assert c.steps == 7 and isinstance(c.steps, int)
    assert c.conditional is True
    assert c.ema == 0.0


def test_unknown_key_is_rejected_with_the_valid_list():
    with pytest.raises(GenzooError) as e:
        dcgan_config().with_overrides(["lrr=1"])
    msg = str(e.value)
    assert "unknown --set key 'lrr'" in msg and "did you mean 'lr'?" in msg
    assert "valid keys:" in msg and "g_width" in msg


@pytest.mark.parametrize("pair,err", [
    ("steps=abc", "steps must be int, got 'abc'"),
    ("betas=0.5", "betas needs 2 comma-separated values, got 1"),
    ("conditional=maybe", "conditional must be bool"),
    ("steps", "expected key=value, got .steps."),
])
def test_bad_values_say_what_is_wrong(pair, err):
    with pytest.raises(GenzooError, match=err):
        dcgan_config().with_overrides([pair])


def test_round_trip_through_dict():
    c = dcgan_config().with_overrides(["lr=3e-4", "g_width=8"])
    d = json.loads(json.dumps(c.to_dict()))
    assert type(c).from_dict(d) == c


def test_coerce_scientific_int_and_optional():
    assert coerce("1e3", int) == 1000
    assert coerce("none", int | None) is None
    assert coerce("5", int | None) == 5


def test_config_files_json_and_yaml(tmp_path):
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"lr": 0.001, "steps": 3}))
    assert read_config_file(j) == {"lr": 0.001, "steps": 3}
    y = tmp_path / "c.yaml"
    y.write_text("lr: 0.001\nbetas: [0.0, 0.9]\n")
    c = dcgan_config().update(read_config_file(y))
    assert c.betas == (0.0, 0.9)
    # a run's config.json (family + nested config) is accepted too
    run = tmp_path / "config.json"
    run.write_text(json.dumps({"family": "dcgan", "config": {"steps": 9}}))
    assert read_config_file(run) == {"steps": 9}


def test_config_file_errors(tmp_path):
    with pytest.raises(GenzooError, match="not found"):
        read_config_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{lr: ")
    with pytest.raises(GenzooError, match="could not parse config file"):
        read_config_file(bad)
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    with pytest.raises(GenzooError, match="must hold a mapping"):
        read_config_file(lst)


def test_base_config_defaults_are_sane():
    c = ModelConfig()
    assert c.image_size == 0  # the data's native size
    assert c.batch_size > 0 and c.steps > 0
