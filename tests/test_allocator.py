"""genzoo/allocator.py: the CLI's malloc settings stop the page-fault churn of CPU sampling."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Repeated forward passes through a small conv net, as a diffusion sampler makes: count the
# minor page faults of 20 passes after a warm-up, with and without the tuning.
SCRIPT = textwrap.dedent(
    """
    import sys, resource, torch
    if sys.argv[1] == "tuned":
        from genzoo.allocator import tune_cpu_allocator
        assert tune_cpu_allocator() is True
        assert tune_cpu_allocator() is True  # idempotent
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.SiLU(),
                              torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(64, 1, 3, padding=1))
    x = torch.randn(64, 1, 16, 16)
    with torch.inference_mode():
        for _ in range(3):
            x = net(x)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            x = net(x)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    """
)


def _faults(mode: str, **env: str) -> int:
    import os

    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tuned_allocator_stops_page_fault_churn():
    plain, tuned = _faults("plain"), _faults("tuned")
    assert plain > 10_000  # measured ~50,000: every pass faults its activations in again
    assert tuned < plain / 10, (plain, tuned)  # measured ~1,000


def test_opt_out_and_user_settings_are_respected(monkeypatch):
    import genzoo.allocator as a

    for env in ({"GENZOO_NO_MALLOPT": "1"}, {"MALLOC_TRIM_THRESHOLD_": "1000000"}):
        monkeypatch.setattr(a, "_done", None)
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            assert a.tune_cpu_allocator() is False
    monkeypatch.setattr(a, "_done", None)
