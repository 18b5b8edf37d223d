"""A plain hand-written DCGAN loop: the yardstick for `genzoo train dcgan --data fashion-mnist`.

Usage: python docs/baselines/dcgan_plain.py --minutes 10 --out plain.png
Tutorial-style on purpose: no EMA, no checkpoints, widths 64, Adam 2e-4 / (0.5, 0.999).
"""
import argparse, gzip, time
import numpy as np, torch, torch.nn as nn
from PIL import Image

p = argparse.ArgumentParser()
p.add_argument("--minutes", type=float, default=10)
p.add_argument("--out", default="plain.png")
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
args = p.parse_args()
torch.manual_seed(0)

with gzip.open(args.data) as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
data = torch.from_numpy(x.copy()).float() / 127.5 - 1

nz, ngf, ndf = 100, 64, 64
G = nn.Sequential(
    nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), nn.Tanh())
D = nn.Sequential(
    nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
    nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False))


def init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1, 0.02); nn.init.zeros_(m.bias)


G.apply(init); D.apply(init)
optG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
optD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
bs, step, t0 = 64, 0, time.time()
while time.time() - t0 < args.minutes * 60:
    real = data[torch.randint(0, len(data), (bs,))]
    fake = G(torch.randn(bs, nz, 1, 1))
    optD.zero_grad()
    lossD = bce(D(real).view(-1), torch.ones(bs)) + bce(D(fake.detach()).view(-1), torch.zeros(bs))
    lossD.backward(); optD.step()
    optG.zero_grad()
    lossG = bce(D(fake).view(-1), torch.ones(bs))
    lossG.backward(); optG.step()
    step += 1
    if step % 500 == 0:
        print(f"step {step} D {lossD.item():.3f} G {lossG.item():.3f} {time.time() - t0:.0f}s", flush=True)

G.eval()
with torch.no_grad():
    imgs = (G(torch.randn(64, nz, 1, 1, generator=torch.Generator().manual_seed(0))) + 1) / 2
grid = torch.ones(1, 8 * 30 + 2, 8 * 30 + 2)
for i in range(64):
    r, c = divmod(i, 8)
    grid[:, 2 + r * 30: 2 + r * 30 + 28, 2 + c * 30: 2 + c * 30 + 28] = imgs[i]
Image.fromarray((grid[0].clamp(0, 1) * 255).byte().numpy()).resize((484, 484), Image.NEAREST).save(args.out)
print(f"done: {step} steps in {time.time() - t0:.0f}s -> {args.out}")
