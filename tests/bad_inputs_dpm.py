"""Bad inputs of the dpm++2m diffusion sampler through `genzoo sample` (gathered by tests/test_bad_inputs.py)."""

from __future__ import annotations

ROWS: list[tuple[str, list[str], str]] = [
    ("dpm-eta-refused", ["sample", "{dpm_diffusion_run}", "--sampler", "dpm++2m", "--eta", "0.5", "--out", "{tmp}/a.png"],
     "sampler 'dpm++2m' takes no --eta (dpm++2m is deterministic; use --sampler ddim for eta > 0)"),
    ("dpm-steps-beyond-timesteps", ["sample", "{dpm_diffusion_run}", "--sampler", "dpm++2m", "--steps", "51",
                                    "--out", "{tmp}/a.png"], "steps must be between 1 and the model's 50 timesteps, got 51"),
    ("dpm-unknown-spacing", ["sample", "{dpm_diffusion_run}", "--sampler", "dpm++2m", "--opt", "spacing=middle",
                             "--out", "{tmp}/a.png"], "unknown spacing 'middle'"),
    ("dpm-steps-text", ["sample", "{dpm_diffusion_run}", "--sampler", "dpm++2m", "--opt", "steps=abc",
                        "--out", "{tmp}/a.png"], "sampler 'dpm++2m' option 'steps' must be a whole number, got 'abc'"),
    ("dpm-clip-not-a-bool", ["sample", "{dpm_diffusion_run}", "--sampler", "dpm++2m", "--opt", "clip=maybe",
                             "--out", "{tmp}/a.png"], "sampler 'dpm++2m' option 'clip' must be true or false, got 'maybe'"),
    ("dpm-guidance-negative", ["sample", "{dpm_diffusion_run}", "--sampler", "dpm++2m", "--guidance", "-1",
                               "--out", "{tmp}/a.png"], "--guidance must be a finite number >= 0, got -1"),
]
