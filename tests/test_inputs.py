"""Inputs users hand genzoo: 16-bit images, decompression bombs, KID on small sets, numeric options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.cli.checks import SEED_MAX, check_number, describe
from genzoo.data import load_dataset, read_image, to_8bit
from genzoo.errors import GenzooError
from genzoo.images import load_images
from tests.fixtures_commands import sparse_png


def _png16(path: Path, arr: np.ndarray) -> Path:
    """A 16-bit grayscale PNG of ``arr`` (uint16)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint16)).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # PIL keeps it 16-bit: the case this file is about
    return path


RAMP = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)  # 0 .. 63000 of 65535


def _as_255(x: torch.Tensor) -> np.ndarray:
    """Model-range [-1, 1] -> 0..255."""
    return ((x + 1) / 2 * 255).round().numpy()


# ------------------------------------------------------------------------------------------
# 16-bit images are scaled by their bit depth, never clipped at 255
# ------------------------------------------------------------------------------------------
def test_16bit_folder_images_scale_to_8bit_and_the_data_facts_say_so(tmp_path):
    for i in range(3):
        _png16(tmp_path / "f" / f"{i}.png", RAMP)
    d = load_dataset(f"folder:{tmp_path / 'f'}")
    got = _as_255(d.images[0, 0])
    want = np.round(RAMP / 65535 * 255)
    assert np.abs(got - want).max() <= 1  # 63000 -> 245, not 255
    assert got.max() == 245 and len(np.unique(got)) == 64  # every level kept, none saturated
    facts = d.describe()
    assert any("converted 3 16-bit images" in n and "scaled by bit depth" in n for n in facts["notes"]), facts


def test_8bit_folder_data_facts_have_no_notes(tmp_path):
    (tmp_path / "f").mkdir()
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "f" / "a.png")
    d = load_dataset(f"folder:{tmp_path / 'f'}")
    assert "notes" not in d.describe() and _as_255(d.images).max() == 7


def test_16bit_pairs_scale_like_8bit_partners(tmp_path):
    root = tmp_path / "p"
    _png16(root / "A" / "x.png", RAMP)
    (root / "B").mkdir()
    Image.fromarray(np.round(RAMP / 257).astype(np.uint8)).save(root / "B" / "x.png")
    d = load_dataset(f"pairs:{root}")
    a, b = _as_255(d.extra["inputs"][0, 0]), _as_255(d.images[0, 0])
    assert np.abs(a - b).max() <= 1  # the 16-bit A and its 8-bit twin B read the same
    assert any("converted 1 16-bit images" in n for n in d.notes)


def test_16bit_files_for_translate_and_score_scale_too(tmp_path):
    x = load_images([_png16(tmp_path / "a.png", RAMP)], 8, 1)
    assert abs(float(x.max()) - 63000 / 65535) < 1 / 255


@pytest.mark.parametrize("mode,arr,top", [
    ("I", RAMP.astype(np.int32) * 16, 16 * 63000 / (2**32 - 1) * 255),  # 32-bit values: scaled by 2^32-1
    ("I", np.full((4, 4), 200, np.int32), 200),  # fits in 8 bits: left as it is
    ("F", np.full((4, 4), 0.5, np.float32), 127.5),  # float in [0, 1]
])
def test_to_8bit_other_deep_modes(mode, arr, top):
    im, what = to_8bit(Image.fromarray(arr, mode=mode))
    assert im.mode == "L" and what
    assert abs(int(np.asarray(im).max()) - top) <= 1


def test_16bit_png_read_as_mode_i_is_16_bits(tmp_path):
    im = read_image(_png16(tmp_path / "a.png", RAMP)).convert("I")
    im.format = "PNG"  # as an older PIL reads a 16-bit PNG
    out, what = to_8bit(im)
    assert what == "16-bit images" and int(np.asarray(out).max()) == 245


# ------------------------------------------------------------------------------------------
# decompression bombs: skipped and counted in folder:, refused by name in pairs: and files
# ------------------------------------------------------------------------------------------
@pytest.fixture
def low_pixel_limit(monkeypatch):
    """PIL's bomb limit lowered to 40 pixels: 8x8 (64) is in the warning band, 16x16 (256) in the error band."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)


def _gray(path: Path, side: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((side, side), 100, np.uint8)).save(path)
    return path


def test_folder_skips_and_counts_bombs_in_both_bands(tmp_path, low_pixel_limit, capsys):
    f = tmp_path / "f"
    _gray(f / "ok.png", 6)  # 36 pixels: under the limit
    _gray(f / "warn.png", 8)
    _gray(f / "err.png", 16)
    d = load_dataset(f"folder:{f}")
    assert len(d) == 1
    note = next(n for n in d.notes if "decompression-bomb" in n)
    assert "skipped 2 images over the decompression-bomb limit of 40 pixels" in note and "(e.g. err.png)" in note
    assert "decompression-bomb limit" in capsys.readouterr().err  # printed as a note while loading


def test_folder_of_only_bombs_is_one_clear_error(tmp_path, low_pixel_limit):
    _gray(tmp_path / "f" / "big.png", 16)
    with pytest.raises(GenzooError, match=r"no images found in .*1 images over the decompression-bomb limit .*e\.g\. big\.png"):
        load_dataset(f"folder:{tmp_path / 'f'}")


def test_genuinely_huge_sparse_png_is_skipped_without_decoding(tmp_path):
    sparse_png(tmp_path / "f" / "bomb.png", 30000, 30000)  # 900 M pixels: above twice PIL's default limit
    _gray(tmp_path / "f" / "ok.png", 8)
    assert (tmp_path / "f" / "bomb.png").stat().st_size < 200
    d = load_dataset(f"folder:{tmp_path / 'f'}")
    assert len(d) == 1 and any("bomb.png" in n for n in d.notes)


def test_pairs_refuse_a_bomb_by_name(tmp_path, low_pixel_limit):
    _gray(tmp_path / "p" / "A" / "x.png", 16)
    _gray(tmp_path / "p" / "B" / "x.png", 16)
    with pytest.raises(GenzooError, match=r"A/x\.png' is too large to read safely \(Image size \(256 pixels\)"):
        load_dataset(f"pairs:{tmp_path / 'p'}")


def test_image_files_refuse_a_bomb_by_name(tmp_path):
    p = sparse_png(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(GenzooError, match=r"bomb\.png' is not a readable image \(Image size"):
        load_images([p], 8, 1)


# ------------------------------------------------------------------------------------------
# KID: no fake "± 0.0000" when every subset would be the same images
# ------------------------------------------------------------------------------------------
def _kid(n: int, n_ref: int, monkeypatch, subset_size: int | None = None, invert: bool = False):
    import genzoo
    from genzoo.metrics.builtin import KID
    from genzoo.registry import metrics

    if subset_size is not None:
        monkeypatch.setattr(metrics.get("kid"), "subset_size", subset_size)
    real = load_dataset("digits", split="test", image_size=16).images[:n]
    fake = (1 - real) / 2 if invert else (real + 1) / 2  # inverted digits: far from the data
    rep = genzoo.evaluate(fake, data="digits", metrics="kid", n_ref=n_ref)
    assert isinstance(metrics.get("kid"), KID)
    return rep.get("kid")


def test_kid_with_n_at_most_the_subset_size_has_no_std_and_says_why(monkeypatch):
    r = _kid(100, 100, monkeypatch)
    assert r.std is None and math_finite(r.value)
    assert "no std" in r.note and "one estimate on 100 generated and 100 real images" in r.protocol


def test_kid_above_the_subset_size_keeps_mean_and_std(monkeypatch):
    r = _kid(60, 60, monkeypatch, subset_size=30)
    assert r.std is not None and r.std > 0 and not r.note and "100 subsets of 30" in r.protocol


def test_kid_single_estimate_matches_the_subset_mean_on_average(monkeypatch):
    # the one estimate and the mean over subsets estimate the same MMD^2 (both unbiased)
    single = _kid(120, 120, monkeypatch, invert=True).value
    subsets = _kid(120, 120, monkeypatch, subset_size=60, invert=True).value
    assert single > 0.1 and abs(single - subsets) < 0.1 * single


def math_finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


def test_eval_table_prints_no_zero_std_but_a_note(tiny_run, cli, tmp_path):
    code, out, err = cli("eval", tiny_run, "-n", "50", "--metrics", "kid", "--json", tmp_path / "r.json")
    assert code == 0, out + err
    row = next(ln for ln in out.splitlines() if ln.lstrip().startswith("KID"))
    assert row.split("│")[2].strip() == ""  # the "± std" cell: empty, not 0.0000
    text = " ".join((out + err).split())
    assert "note: KID: one estimate on 50 generated and 50 real images, no std" in text
    kid = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert kid["std"] is None and "no std" in kid["note"]


# ------------------------------------------------------------------------------------------
# numeric options: one shared check
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,kw,message", [
    (0, {"lo": 1}, "--x must be at least 1, got 0"),
    (-1, {"lo": 0, "hi": SEED_MAX}, f"--x must be a whole number from 0 to {SEED_MAX}, got -1"),
    (float("nan"), {"lo": 0, "lo_open": True}, "--x must be a finite number > 0, got nan"),
    (float("inf"), {}, "--x must be a finite number, got inf"),
    (-5.0, {"lo": 0}, "--x must be a finite number >= 0, got -5"),
    (1.5, {"lo": 0, "hi": 1}, "--x must be a finite number in [0, 1], got 1.5"),
])
def test_check_number_refuses_with_one_message(value, kw, message):
    with pytest.raises(GenzooError) as e:
        check_number("--x", value, **kw)
    assert str(e.value) == message


@pytest.mark.parametrize("value,kw", [(None, {"lo": 1}), (1, {"lo": 1}), (0.0, {"lo": 0}), (SEED_MAX, {"lo": 0, "hi": SEED_MAX})])
def test_check_number_accepts_the_range(value, kw):
    check_number("--x", value, **kw)


def test_describe_open_integer_bounds():
    assert describe(integer=True, lo=0, lo_open=True) == "at least 1"


def _numeric_options() -> list[tuple[str, str, str, object]]:
    """(command, option, type name, callback) for every int/float option of every built-in command."""
    import importlib

    import click

    from genzoo.cli import COMMANDS

    out = []
    for name, (target, _) in COMMANDS.items():
        mod, _, attr = target.partition(":")
        cmd = getattr(importlib.import_module(mod), attr)
        for p in cmd.params:
            if isinstance(p, click.Option) and isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType)):
                out.append((name, p.opts[0], p.type.name, p.callback))
    return out


def test_every_numeric_option_of_every_command_has_a_range_check():
    opts = _numeric_options()
    assert len(opts) > 40
    unchecked = [(c, o) for c, o, _, cb in opts if cb is None]
    assert not unchecked, f"numeric options without a range check (genzoo.cli.checks.number): {unchecked}"


@pytest.mark.parametrize("command,option,kind", [(c, o, t) for c, o, t, _ in _numeric_options()])
def test_numeric_options_refuse_nan_or_a_negative(command, option, kind, cli):
    """Each numeric option refuses NaN (floats) or -1 (ints) while parsing: one line, no model loaded."""
    value = "nan" if kind == "float" else "-1"
    code, out, err = cli(command, "nonexistent-source", option, value)
    assert code == 1 and f"{option} must be" in out + err, (command, option, out + err)
    assert f"got {value}" in out + err
