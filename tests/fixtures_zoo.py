"""Session fixtures of `genzoo zoo` (loaded by tests/conftest.py as a pytest plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: a recipe run shortened to a few steps and a small evaluation: seconds, not minutes
ZOO_RECIPE = "dcgan/digits-10min-cpu"
ZOO_BUDGET = "3steps"
ZOO_EVAL_N = 64


@pytest.fixture(scope="session")
def zoo_run(tmp_path_factory) -> Path:
    """dcgan/digits-10min-cpu run for 3 steps and evaluated on 64 samples (shared, read-only)."""
    from genzoo.zoo import run_recipe

    out = tmp_path_factory.mktemp("zoo") / "dcgan-digits"
    run_recipe(ZOO_RECIPE, budget=ZOO_BUDGET, out=out, eval_n=ZOO_EVAL_N, progress=False)
    return out
