"""Fault test: a real `genzoo train` (tiny dcgan on digits) stopped by SIGINT, by SIGTERM sent
twice, and killed by SIGKILL, then continued with --resume to the same final step, ends with
weights and training state bit-identical (torch.equal per tensor) to a run never interrupted.

SIGINT and SIGTERM stop at a step boundary and save that step (exit 130 / 143); SIGKILL loses
the steps after the last scheduled checkpoint, and the resumed run redoes them identically.
The random-moment loops are marked slow (`pytest -m slow tests/test_faults.py`)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from genzoo.engine import find_checkpoint
from tests.conftest import TINY_DCGAN, sets

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

FINAL = 48  # the step every run ends at
CONFIG = {**TINY_DCGAN, "steps": FINAL, "log_every": 4, "checkpoint_every": 12, "sample_every": 1000}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "GENZOO_PROGRESS": "0", "HF_HUB_OFFLINE": "1"}
NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


def train_args(run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "genzoo", "train", "dcgan", "--out", str(run), *extra]


def start(run: Path) -> subprocess.Popen:
    return subprocess.Popen(train_args(run, *sets(CONFIG)), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def logged_step(run: Path) -> int:
    """The last step in the run's log.jsonl (0: none yet)."""
    try:
        lines = (run / "log.jsonl").read_text().splitlines()
        return max((json.loads(x)["step"] for x in lines if x.endswith("}")), default=0)
    except (OSError, ValueError):
        return 0


def wait_until(proc: subprocess.Popen, done, what: str, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not done():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stderr.read()}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {timeout}s")
        time.sleep(0.01)


def state(run: Path) -> dict[str, torch.Tensor]:
    """Inference weights plus the final checkpoint's tensors (model, EMA, optimizers, RNG, data order)."""
    out = {f"weights.{k}": v for k, v in load_file(str(run / "model.safetensors")).items()}
    ck = find_checkpoint(run)
    out.update({f"ckpt.{k}": v for k, v in load_file(str(ck / "state.safetensors")).items()})
    return out


def assert_identical(run: Path, reference: Path) -> None:
    a, b = state(run), state(reference)
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"
    assert find_checkpoint(run).name == find_checkpoint(reference).name == f"step-{FINAL:08d}"


def resume(run: Path) -> subprocess.CompletedProcess:
    res = subprocess.run(train_args(run, "--resume"), env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run, made as the interrupted ones are (a subprocess, same environment)."""
    run = tmp_path_factory.mktemp("faults") / "reference"
    res = subprocess.run(train_args(run, *sets(CONFIG)), env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return run


def stop_with(run: Path, sig: int, after_step: int, twice: bool = False) -> int:
    """Start a run, send ``sig`` once it logged ``after_step`` (``twice``: again as soon as it says
    it is saving), check how it ended; returns the step it saved."""
    proc = start(run)
    try:
        wait_until(proc, lambda: logged_step(run) >= after_step, f"log line at step {after_step}")
        proc.send_signal(sig)
        err = ""
        if twice:  # the second one lands during the final save
            for line in proc.stderr:
                err += line
                if "received: stopped at step" in line:
                    proc.send_signal(sig)
                    break
        code = proc.wait(timeout=300)
        err += proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 128 + sig, err
    assert "Traceback" not in err
    assert f"stopped by {NAMES[sig]}" in err and "time budget" not in err
    assert f"continue with: genzoo train dcgan --out {run} --resume" in err
    ck = find_checkpoint(run)
    step = int(ck.name.split("-")[1])
    assert after_step <= step < FINAL, "the signal came too late to test a stop"
    saved = json.loads((ck / "state.json").read_text())
    assert saved["step"] == step and saved["images_seen"] == step * CONFIG["batch_size"]  # no half step
    return step


def kill_after(run: Path, after_step: int) -> int:
    """SIGKILL a run once it logged ``after_step``; returns the step of its last checkpoint."""
    proc = start(run)
    try:
        wait_until(proc, lambda: logged_step(run) >= after_step, f"log line at step {after_step}")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    ck = find_checkpoint(run)
    return int(ck.name.split("-")[1]) if ck is not None else 0


def test_sigint_stops_at_a_step_boundary_and_resumes_bit_identically(reference, tmp_path):
    run = tmp_path / "int"
    stop_with(run, signal.SIGINT, after_step=8)
    res = resume(run)
    assert "resuming from step" in res.stderr
    assert_identical(run, reference)


def test_sigterm_twice_saves_once_whole_and_resumes_bit_identically(reference, tmp_path):
    run = tmp_path / "term"
    stop_with(run, signal.SIGTERM, after_step=8, twice=True)
    resume(run)
    assert_identical(run, reference)


def test_sigkill_loses_only_the_steps_since_the_checkpoint_and_resumes_bit_identically(reference, tmp_path):
    run = tmp_path / "kill"
    step = kill_after(run, after_step=16)
    assert step >= 12 and step % CONFIG["checkpoint_every"] == 0
    resume(run)
    assert_identical(run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["int", "term", "kill"])
def test_signals_at_random_moments_then_resume_end_bit_identical(reference, tmp_path, sig):
    rng = random.Random(sig)
    for i in range(3):
        run = tmp_path / f"run{i}"
        when = rng.randrange(1, FINAL // 2)
        if sig == signal.SIGKILL:
            if kill_after(run, when) == 0:  # killed before the first checkpoint: nothing to resume
                continue
        else:
            stop_with(run, sig, after_step=when, twice=rng.random() < 0.5)
        resume(run)
        assert_identical(run, reference)
