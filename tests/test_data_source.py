"""The ImageSource interface: items decoded one at a time at a fixed geometry."""

import torch

from genzoo.data import load_dataset
from genzoo.data.source import NO_LABEL, TensorSource, open_source


def test_digits_source_matches_the_in_memory_dataset():
    src = open_source("digits", image_size=16)
    ds = load_dataset("digits", image_size=16)
    assert len(src) == len(ds) and src.channels == 1 and src.image_size == 16
    assert src.class_names == ds.class_names and src.labelled
    x, y = src.read_many([0, 5, 100])
    assert x.dtype == torch.uint8 and x.shape == (3, 1, 16, 16)
    assert torch.equal(y, ds.labels[[0, 5, 100]])
    # the same resize as the in-memory path, up to uint8 rounding
    assert (x.float() / 255 * 2 - 1 - ds.images[[0, 5, 100]]).abs().max() <= 1 / 255 + 1e-6
    assert src.float32_bytes() == len(ds) * 16 * 16 * 4


def test_fingerprint_changes_with_geometry_and_unlabelled_reads():
    a, b = open_source("digits", image_size=16), open_source("digits", image_size=8)
    assert a.fingerprint() != b.fingerprint() and a.fingerprint() == open_source("digits", image_size=16).fingerprint()
    raw = open_source("digits").raw
    raw.labels = None
    src = TensorSource(raw, "x", "train")
    assert src.read(0)[1] == NO_LABEL and not src.labelled
