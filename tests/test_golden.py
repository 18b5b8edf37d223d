"""The refactors keep behaviour: every family reproduces its recorded fixed-seed outputs bit for bit.

The tensors in tests/golden/ were recorded by tests/golden.py before the plugin-platform
refactor (weights after a fixed short training run, samples from every sampler, inpainting,
translations, reconstructions, anomaly scores). Same torch build, one thread: same bits.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.golden import CASES, GOLDEN_DIR, outputs


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("family", sorted(CASES))
def test_family_reproduces_recorded_outputs(family, tmp_path):
    want = load_file(str(GOLDEN_DIR / f"{family}.safetensors"))
    got = outputs(family, tmp_path / family)
    assert sorted(got) == sorted(want), "recorded outputs and weights differ in names"
    differ = [k for k in want if got[k].shape != want[k].shape or not torch.equal(got[k], want[k])]
    worst = {k: float((got[k].float() - want[k].float()).abs().max()) for k in differ if got[k].shape == want[k].shape}
    assert not differ, f"{family}: {len(differ)} of {len(want)} tensors changed, e.g. {dict(list(worst.items())[:5])}"
    assert any(k.startswith("sample") or k in ("translate",) for k in want)
