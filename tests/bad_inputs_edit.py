"""Bad inputs of `genzoo edit`, `genzoo latent-map` and --from-images (gathered by tests/test_bad_inputs.py)."""

from __future__ import annotations

ENCODER = "needs a model with an encoder, and a dcgan model has none"
IMG = "{run}/samples.png"  # an image file that every session has

ROWS: list[tuple[str, list[str], str]] = [
    # genzoo edit
    ("edit-gan-has-no-encoder", ["edit", "{run}", "--direction", "0->1", "--out", "{tmp}/e.png"],
     "an attribute direction " + ENCODER),
    ("edit-direction-without-arrow", ["edit", "{edit_ae_run}", "--direction", "0-1", "--out", "{tmp}/e.png"],
     "--direction takes 'FROM->TO'"),
    ("edit-unknown-class-brackets", ["edit", "{edit_ae_run}", "--direction", "[red]x[/]->1", "--out", "{tmp}/e.png"],
     "unknown class '[red]x[/]'; the model's data has these classes: '0', '1'"),
    ("edit-class-to-itself", ["edit", "{edit_ae_run}", "--direction", "3->3", "--out", "{tmp}/e.png"],
     "goes from a class to itself"),
    ("edit-strengths-not-numbers", ["edit", "{edit_ae_run}", "--direction", "0->1", "--strengths", "a,b"],
     "--strengths takes numbers like -2,-1,0,1,2; got 'a,b'"),
    ("edit-strengths-nan", ["edit", "{edit_ae_run}", "--direction", "0->1", "--strengths", "0,nan"],
     "--strengths must be finite numbers"),
    ("edit-out-not-png", ["edit", "{edit_ae_run}", "--direction", "0->1", "--out", "{tmp}/e[1].gif"],
     "e[1].gif': this command writes a .png picture"),
    ("edit-n-with-images", ["edit", "{edit_ae_run}", IMG, "--direction", "0->1", "-n", "2"],
     "-n and --seed choose sampled latents to edit; with image files given, drop them"),
    ("edit-missing-image-brackets", ["edit", "{edit_ae_run}", "{tmp}/no[1].png", "--direction", "0->1"],
     "no[1].png' not found"),
    ("edit-label-unconditional", ["edit", "{edit_ae_run}", "--direction", "0->1", "--label", "3",
                                  "--out", "{tmp}/e.png"], "is not conditional, so it takes no labels"),
    ("edit-per-class-zero", ["edit", "{edit_ae_run}", "--direction", "0->1", "--per-class", "0"],
     "--per-class must be at least 1, got 0"),
    # genzoo latent-map
    ("latent-map-manifold-needs-2d", ["latent-map", "{edit_ae_run}", "--kind", "manifold", "--out", "{tmp}/m.png"],
     "the manifold grid needs a 2-D latent space and this model's has 4 dimensions"),
    ("latent-map-scatter-gan", ["latent-map", "{run}", "--kind", "scatter", "--out", "{tmp}/m.png"],
     "a latent scatter of encoded images " + ENCODER),
    ("latent-map-size-one", ["latent-map", "{edit_vae2_run}", "--size", "1"], "--size must be a whole number from 2 to 64, got 1"),
    ("latent-map-margin-too-big", ["latent-map", "{edit_vae2_run}", "--margin", "0.7"],
     "--margin must be a finite number in (0, 0.5), got 0.7"),
    # --from-images
    ("interpolate-from-images-gan", ["interpolate", "{run}", "--from-images", IMG, IMG, "--out", "{tmp}/w.gif"],
     "--from-images " + ENCODER),
    ("interpolate-from-images-one", ["interpolate", "{edit_ae_run}", "--from-images", IMG], "at least 2 images"),
    ("interpolate-seeds-and-images", ["interpolate", "{edit_ae_run}", "--seeds", "1,2", "--from-images", IMG, IMG],
     "--seeds and --from-images both name the points"),
    ("interpolate-nothing-to-walk", ["interpolate", "{run}"], "name the points to walk through"),
    ("interpolate-from-images-sampler", ["interpolate", "{edit_ae_run}", "--from-images", IMG, IMG,
                                         "--truncation", "0.5", "--out", "{tmp}/w.gif"], "so drop them"),
    ("arithmetic-from-images-missing-term", ["arithmetic", "{edit_ae_run}", "--from-images", IMG, IMG],
     "missing --a"),
    ("arithmetic-image-position-out-of-range", ["arithmetic", "{edit_ae_run}", "--from-images", IMG, IMG, IMG,
                                                "--a", "5", "--b", "0", "--c", "1", "--out", "{tmp}/a.png"],
     "image position 5 is out of range; --from-images gave images 0..2"),
    ("arithmetic-stray-argument-brackets", ["arithmetic", "{run}", "x[1].png", "--a", "1", "--b", "2", "--c", "3"],
     "unexpected argument 'x[1].png'; image files go after --from-images"),
]
