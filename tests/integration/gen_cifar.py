#!/usr/bin/env python3
"""Write a small CIFAR-10 data set in the official *binary* layout.

    gen_cifar.py OUTDIR [--per-batch N] [--test N] [--tar]

OUTDIR/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin and batches.meta.txt:
3073-byte records (label, 1024 R, 1024 G, 1024 B).  Each class has its own
mean colour and a stripe pattern plus noise, so a small CNN can learn it.
With --tar, also OUTDIR/cifar-10-binary.tar.gz.  Standard library only;
deterministic (fixed seed).
"""
import argparse
import os
import random
import tarfile

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def image(rng, label):
    base = [(label * 37) % 256, (label * 91 + 40) % 256, (label * 53 + 90) % 256]
    out = bytearray()
    for c in range(3):
        for y in range(32):
            for x in range(32):
                stripe = 60 if ((x + y * (label % 3)) // (2 + label % 4)) % 2 else 0
                v = base[c] + stripe + rng.randint(-40, 40)
                out.append(max(0, min(255, v)))
    return out


def batch(rng, n, offset):
    data = bytearray()
    for i in range(n):
        label = (i + offset) % 10
        data.append(label)
        data += image(rng, label)
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--per-batch", type=int, default=100)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--tar", action="store_true")
    a = ap.parse_args()
    rng = random.Random(1234)
    folder = os.path.join(a.outdir, "cifar-10-batches-bin")
    os.makedirs(folder, exist_ok=True)
    for b in range(1, 6):
        with open(os.path.join(folder, "data_batch_%d.bin" % b), "wb") as f:
            f.write(batch(rng, a.per_batch, b))
    with open(os.path.join(folder, "test_batch.bin"), "wb") as f:
        f.write(batch(rng, a.test, 0))
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n\n")
    if a.tar:
        with tarfile.open(os.path.join(a.outdir, "cifar-10-binary.tar.gz"), "w:gz") as t:
            t.add(folder, arcname="cifar-10-batches-bin")


if __name__ == "__main__":
    main()
