"""The docs/augmentation.md table: CAS and augmentation for cgan, cvae and conditional diffusion
(Fashion-MNIST at 16 px), in one process so each model is sampled once and the real-data
classifiers are trained once. Every classifier: 200 steps of 64 (the machine was shared).

The runs first (cgan and cvae 3000 steps, diffusion 2000):
    genzoo train F --data fashion-mnist --set image_size=16 --steps S --out runs/augment/F-fm16
then: python docs/baselines/augment_table.py   (writes runs/augment/measure.json)
"""
import json
import time

import torch
import genzoo
from genzoo.augment import augmentation_study
from genzoo.data import load_dataset
from genzoo.metrics.cas import classification_accuracy_score

torch.set_num_threads(1)
STEPS, BS, N, REAL, SEEDS = 200, 64, 10000, 1000, 3
runs = {"cgan": "runs/augment/cgan-fm16", "cvae": "runs/augment/cvae-fm16", "diffusion": "runs/augment/diffusion-fm16"}
opts = {"diffusion": {"steps": 20}}  # ddim with 20 steps
train = load_dataset("fashion-mnist", split="train", image_size=16, channels=1)
test = load_dataset("fashion-mnist", split="test", image_size=16, channels=1)
out = {"steps": STEPS, "batch_size": BS, "n": N, "real": REAL, "seeds": SEEDS, "runs": {}}
models, drawn = [], []
for name, path in runs.items():
    m = genzoo.load(path)
    labels = torch.arange(N) % 10
    t = time.time()
    x = m.sample(N, seed=0, labels=labels, progress=True, **opts.get(name, {}))
    ts = time.time() - t
    t = time.time()
    gen, real = classification_accuracy_score(x, labels, "fashion-mnist", train=train, test=test, steps=STEPS,
                                              batch_size=BS, seed=0)
    out["runs"][name] = {"sample_s": round(ts, 1), "cas": gen.accuracy, "real_same_count": real.accuracy,
                         "cas_s": round(time.time() - t, 1), "trained_steps": m.meta.get("training", {}).get("steps")}
    print(name, out["runs"][name], flush=True)
    models.append(m); drawn.append((x, labels))
    json.dump(out, open("runs/augment/measure.json", "w"), indent=1)
t = time.time()
rep = augmentation_study(models, sources=list(runs), data="fashion-mnist", real=REAL, synthetic=N, seeds=SEEDS,
                         seed=0, steps=STEPS, batch_size=BS, drawn=drawn)
out["augment"] = rep.to_dict(); out["augment_s"] = round(time.time() - t, 1)
json.dump(out, open("runs/augment/measure.json", "w"), indent=1)
for a in rep.arms:
    print(a.name, [round(v, 4) for v in a.accuracies], round(a.mean, 4), round(a.std, 4), flush=True)
