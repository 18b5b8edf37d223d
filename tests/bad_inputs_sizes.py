"""Image sizes a family cannot make, through `genzoo train` (gathered by tests/test_bad_inputs.py).

Each is refused in one line that names sizes that work, before any data is read (the folder rows
name a folder that does not exist: the size error comes first)."""

from __future__ import annotations

ROWS: list[tuple[str, list[str], str]] = [
    ("sizes-dcgan-100", ["train", "dcgan", "--data", "digits", "--set", "image_size=100", "--out", "{tmp}/r"],
     "DCGAN cannot make 100x100 images; use a size of base * 2^k with base 4..7 and k <= 6, nearest: 96 or 112"),
    ("sizes-dcgan-too-large", ["train", "dcgan", "--data", "digits", "--set", "image_size=512", "--out", "{tmp}/r"],
     "DCGAN cannot make 512x512 images; use a size of base * 2^k with base 4..7 and k <= 6, nearest: 448"),
    ("sizes-dcgan-before-data", ["train", "dcgan", "--data", "folder:{tmp}/no-such-folder", "--set", "image_size=100",
                                 "--out", "{tmp}/r"], "DCGAN cannot make 100x100 images"),
    ("sizes-vae-100", ["train", "vae", "--data", "digits", "--set", "image_size=100", "--out", "{tmp}/r"],
     "the VAE cannot handle 100x100 images; use a size of base * 2^k with base 4..7 and k <= 6, nearest: 96 or 112"),
    ("sizes-ae-36", ["train", "ae", "--data", "digits", "--set", "image_size=36", "--out", "{tmp}/r"],
     "the autoencoder cannot handle 36x36 images; use a size of base * 2^k with base 4..7 and k <= 6, nearest: 32 or 40"),
    ("sizes-pix2pix-100", ["train", "pix2pix", "--data", "folder:{tmp}/no-such-folder", "--task", "superres",
                           "--set", "image_size=100", "--out", "{tmp}/r"],
     "pix2pix works on 32, 64, 128 or 256 px images, not 100"),
    ("sizes-flow-128", ["train", "flow", "--data", "folder:{tmp}/no-such-folder", "--set", "image_size=128",
                        "--out", "{tmp}/r"], "the flow handles 16 to 64 px images with a side divisible by 4"),
    ("sizes-cyclegan-30", ["train", "cyclegan", "--data", "digits", "--task", "invert", "--set", "image_size=30",
                           "--out", "{tmp}/r"], "the side must be a multiple of 4 (>= 8), not 30"),
    ("sizes-wgan-100", ["train", "wgan", "--data", "digits", "--set", "image_size=100", "--out", "{tmp}/r"],
     "DCGAN cannot make 100x100 images"),
]
