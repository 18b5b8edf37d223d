"""One writer per run directory (RUN/.lock), `latest` confined to its own run, and temporaries
of dead writers cleaned: two real `genzoo train` processes on one --out, and the pieces alone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genzoo.engine import Trainer, find_checkpoint
from genzoo.engine.runlock import LOCK_NAME, RunLock
from genzoo.errors import GenzooError
from genzoo.registry import families
from tests.conftest import TINY_DCGAN, sets

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: runs go unlocked there")

# a run that goes on until stopped: long enough for a second writer to meet it
LONG = {**TINY_DCGAN, "steps": 100000, "checkpoint_every": 20, "sample_every": 100000, "log_every": 10}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "GENZOO_PROGRESS": "0"}


def genzoo_train(run: Path, *extra: str, config: dict | None = None) -> list[str]:
    return [sys.executable, "-m", "genzoo", "train", "dcgan", "--out", str(run), "--no-progress",
            *sets(config if config is not None else LONG), *extra]


def start_and_wait_for_checkpoint(run: Path) -> subprocess.Popen:
    """A long run in a subprocess, returned once it holds the lock and has written a checkpoint."""
    proc = subprocess.Popen(genzoo_train(run), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        lock = run / LOCK_NAME
        if lock.is_file() and lock.read_text().strip() == str(proc.pid) and find_checkpoint(run) is not None:
            return proc
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read().decode())
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the first run wrote no lock and checkpoint")


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=120)


def test_second_writer_and_resume_are_refused_while_a_run_is_active(tmp_path):
    run = tmp_path / "run"
    first = start_and_wait_for_checkpoint(run)
    try:
        config_before = json.loads((run / "config.json").read_text())
        second = run_cli(genzoo_train(run, config={**TINY_DCGAN, "steps": 3}))
        resumed = run_cli(genzoo_train(run, "--resume", config={"steps": 100000}))
        for refused in (second, resumed):
            out = refused.stdout + refused.stderr
            assert refused.returncode != 0
            assert "Traceback" not in out
            assert f"in use by process {first.pid}" in out and str(run) in out
        assert first.poll() is None  # the first run goes on
        assert json.loads((run / "config.json").read_text())["config"] == config_before["config"]
        first.send_signal(signal.SIGTERM)  # stops at a step boundary and saves
        assert first.wait(timeout=120) == 143, first.stderr.read().decode()  # 128 + SIGTERM: stopped, saved
    finally:
        if first.poll() is None:
            first.kill()
    # one run's log only: steps strictly increasing, every line whole
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))
    last = find_checkpoint(run)
    assert json.loads((last / "state.json").read_text())["step"] >= 20
    import genzoo

    assert genzoo.load(str(run)).sample(2, seed=0).shape == (2, 1, 16, 16)


def test_sigkilled_holder_never_blocks_and_its_temporaries_are_removed(tmp_path):
    run = tmp_path / "run"
    first = start_and_wait_for_checkpoint(run)
    first.send_signal(signal.SIGKILL)
    first.wait()
    dead = first.pid
    # what a kill between a temporary write and its rename leaves behind (and one older-style name)
    stale = [run / f".config.json.pid{dead}.a1b2c3d4.tmp", run / ".README.md.k2j3h4g5.tmp",
             run / "checkpoints" / f".latest.pid{dead}.zz9_yy8x.tmp"]
    for p in stale:
        p.write_text("half")
    stale_dir = run / "checkpoints" / f".step-00099999.tmp-{dead}"
    stale_dir.mkdir()
    (stale_dir / "state.json").write_text("{")
    live = run / f".samples.png.pid{os.getpid()}.q1w2e3r4.tmp"  # a living writer's: left alone
    live.write_text("busy")
    step = int(find_checkpoint(run).name.split("-")[1])
    res = run_cli(genzoo_train(run, "--resume", config={"steps": step + 4}))
    assert res.returncode == 0, res.stderr
    assert "temporary file(s)" in res.stderr
    assert not any(p.exists() for p in stale) and not stale_dir.exists()
    assert live.exists()
    assert json.loads((find_checkpoint(run) / "state.json").read_text())["step"] == step + 4


def test_lock_names_the_holder_and_is_free_after_release(tmp_path):
    a, b = RunLock(tmp_path), RunLock(tmp_path)
    a.acquire()
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(GenzooError, match=f"in use by process {os.getpid()}"):
        b.acquire()
    a.release()
    with b:  # the OS lock went with the closed file
        assert b.held
    assert not b.held


def test_trainer_on_a_locked_directory_touches_nothing(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run):
        with pytest.raises(GenzooError, match="in use by process"):
            Trainer(families.get("dcgan"), overrides=TINY_DCGAN, out=run, progress=False)
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]


def test_failed_setup_releases_the_lock_and_makes_no_directory(tmp_path):
    bad = {**TINY_DCGAN, "data": "no-such-data"}
    with pytest.raises(GenzooError):
        Trainer(families.get("dcgan"), overrides=bad, out=tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(GenzooError):
        Trainer(families.get("dcgan"), overrides=bad, out=run, progress=False)
    res = Trainer(families.get("dcgan"), overrides=TINY_DCGAN, out=run, progress=False).fit()
    assert res.steps == TINY_DCGAN["steps"]
    with RunLock(run):  # fit() released it
        pass


def test_out_that_is_a_file_is_one_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(GenzooError, match="is a file"):
        Trainer(families.get("dcgan"), overrides=TINY_DCGAN, out=f, progress=False).fit()
    assert f.read_text() == "x"


def test_latest_outside_the_run_is_never_followed(tiny_run, tmp_path, capsys):
    other, victim = tmp_path / "other", tmp_path / "victim"
    shutil.copytree(tiny_run, other)
    shutil.copytree(tiny_run, victim)
    own = find_checkpoint(victim)
    ck = victim / "checkpoints"
    # a link out of the run, with a higher step than any of the run's own
    (ck / "step-99999999").symlink_to(other / "checkpoints" / own.name, target_is_directory=True)
    for content in (f"../../other/checkpoints/{own.name}\n".encode(), str(other / "checkpoints" / own.name).encode(),
                    b"step-99999999\n", b"\xff\xfe\x00step", b"step-00000042\n"):
        (ck / "latest").write_bytes(content)
        capsys.readouterr()
        found = find_checkpoint(victim)
        assert found == own and found.resolve().parent == ck.resolve()
        assert "note:" in capsys.readouterr().err
    # resume continues the victim's own checkpoint
    (ck / "latest").write_text(f"../../other/checkpoints/{own.name}\n")
    t = Trainer(families.get("dcgan"), overrides={"steps": TINY_DCGAN["steps"] + 2}, out=victim, resume=True,
                progress=False)
    assert t.fit().steps == TINY_DCGAN["steps"] + 2
    assert find_checkpoint(other) == other / "checkpoints" / own.name  # the other run is untouched
    assert json.loads((find_checkpoint(victim) / "state.json").read_text())["step"] == TINY_DCGAN["steps"] + 2
