"""Bad-input rows of damaged checkpoints and weights (gathered by tests/test_bad_inputs.py).

Each resume row names a run of tests/fixtures_ckpt.py whose EVERY checkpoint carries one damage,
so there is nothing to fall back to: one error line listing why each was skipped. The cases
with a checkpoint to fall back to are in tests/test_checkpoint_damage.py.
"""

from __future__ import annotations

NONE_RESUMES = "can be resumed (step-00000006: "
NAN = "model.safetensors: tensor 'generator.net.0.weight' has 12 non-finite value(s) (NaN or infinite); the file is damaged: "


def _resume(fixture: str) -> list[str]:
    return ["train", "dcgan", "--resume", "--out", "{" + fixture + "}", "--no-progress"]


ROWS: list[tuple[str, list[str], str]] = [
    ("ckpt-resume-state-json-is-a-list", _resume("ckpt_all_json_list"),
     NONE_RESUMES + "its state.json is a list, not an object of fields; step-00000004: "),
    ("ckpt-resume-state-json-without-step", _resume("ckpt_all_no_step"), NONE_RESUMES + "its state.json has no 'step'"),
    ("ckpt-resume-state-json-without-optimizers", _resume("ckpt_all_no_optimizers"),
     NONE_RESUMES + "its state.json has no 'optimizers'"),
    ("ckpt-resume-state-json-string-step", _resume("ckpt_all_string_step"),
     NONE_RESUMES + "its state.json has 'step' '6' (text), not a whole number"),
    ("ckpt-resume-state-json-not-json", _resume("ckpt_all_bad_json"), NONE_RESUMES + "its state.json is not valid JSON"),
    ("ckpt-resume-tensors-truncated", _resume("ckpt_all_truncated_tensors"),
     NONE_RESUMES + "its state.safetensors is corrupted or truncated"),
    ("ckpt-resume-no-rng-state", _resume("ckpt_all_no_rng"),
     NONE_RESUMES + "its random generator state 'rng.torch' is missing"),
    ("ckpt-resume-no-weight-tensor", _resume("ckpt_all_no_weight"),
     NONE_RESUMES + "its weight tensor 'model.generator.net.0.weight' is missing"),
    ("ckpt-resume-no-ema-tensors", _resume("ckpt_all_no_ema"),
     NONE_RESUMES + "its EMA tensor 'ema.net.0.weight' is missing (with 12 more EMA tensor(s))"),
    ("ckpt-resume-no-optimizer-tensor", _resume("ckpt_all_no_optim_tensor"),
     NONE_RESUMES + "its optimizer tensor 'optim.g.0.exp_avg' is missing"),
    ("ckpt-resume-wrong-weight-shape", _resume("ckpt_all_wrong_shape"),
     NONE_RESUMES + "its tensor 'model.discriminator.net.0.weight' has shape (3, 3), the model's is (8, 1, 4, 4)"),
    ("ckpt-sample-nan-weights", ["sample", "{ckpt_nan_weights}", "-n", "2", "--out", "{tmp}/s.png"], NAN),
    ("ckpt-eval-nan-weights", ["eval", "{ckpt_nan_weights}", "-n", "8", "--out", "{tmp}/eval"], NAN),
    ("ckpt-sample-config-far-too-wide", ["sample", "{ckpt_wide_config}", "-n", "2", "--out", "{tmp}/s.png"],
     "(g_width is 100000 in the config; the weights were made with g_width=8); nothing was built"),
]
