#!/usr/bin/python3
"""torch_peer.py - PyTorch 1.13 on hptune's two reference networks, for `hptune bench --peers`.

The peer of hptune's per-layer speed: the *small* and *wide* networks of
src/cli/bench.c written in PyTorch, trained (Adam, cross-entropy) and
evaluated (forward + loss, no autograd) at batch 64 on synthetic normalised
inputs, one thread (torch.set_num_threads(1), also for the interop pool).

  small: 3 x [conv 32 3x3 same, ReLU, max-pool 2, dropout 0.25], dense 128, ReLU, dense 10
  wide:  3 x [conv 64 3x3 same, ReLU, max-pool 2],               dense 256, ReLU, dense 10

hptune interleaves its own measurements with this script's, so the script is
a line server on stdin/stdout (nothing runs while it waits for a line):

  -> hello                  <- ok torch <version> threads <n> [mkldnn <0|1>]
  -> warm <net> <batches>   <- ok params <count>      (train and eval steps, not timed;
                                                     the count lets hptune check the networks match)
  -> train <net> <seconds>  <- rate <images/s> <batches>
  -> eval <net> <seconds>   <- rate <images/s> <batches>
  -> quit                   (or end of input)

A rate is the number of images in whole batches run until at least <seconds>
passed, divided by the time they took (time.perf_counter).  Anything else on
a line is answered with "error <why>".

Run by hand: /usr/bin/python3 tests/bench/torch_peer.py --once  (prints one
table: the median of 5 repeats of 1 s per network and mode).
"""
import statistics
import sys
import time

BATCH = 64


def build(net):
    import torch
    from torch import nn

    filters, units, dropout = (32, 128, 0.25) if net == "small" else (64, 256, 0.0)
    layers, channels = [], 3
    for _ in range(3):
        layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        channels = filters
    layers += [nn.Flatten(), nn.Linear(filters * 4 * 4, units), nn.ReLU(), nn.Linear(units, 10)]
    model = nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (BATCH,), generator=generator)
    return model, optimizer, x, y


class Peer:
    def __init__(self):
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass  # already set (only possible once per process)
        self.torch = torch
        self.nets = {}
        self.loss = torch.nn.CrossEntropyLoss()

    def net(self, name):
        if name not in ("small", "wide"):
            raise ValueError("unknown network %r (small or wide)" % name)
        if name not in self.nets:
            self.nets[name] = build(name)
        return self.nets[name]

    def train_step(self, name):
        model, optimizer, x, y = self.net(name)
        model.train()
        optimizer.zero_grad()
        loss = self.loss(model(x), y)
        loss.backward()
        optimizer.step()

    def eval_step(self, name):
        model, _, x, y = self.net(name)
        model.eval()
        with self.torch.no_grad():
            self.loss(model(x), y)

    def rate(self, step, name, seconds):
        self.net(name)
        batches, t0 = 0, time.perf_counter()
        while True:
            step(name)
            batches += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return batches * BATCH / dt, batches


def serve(peer):
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                return
            if words[0] == "hello":
                torch = peer.torch
                reply = "ok torch %s threads %d mkldnn %d" % (
                    torch.__version__, torch.get_num_threads(), int(torch.backends.mkldnn.is_available()))
            elif words[0] == "warm" and len(words) == 3:
                for _ in range(int(words[2])):
                    peer.train_step(words[1])
                    peer.eval_step(words[1])
                model = peer.net(words[1])[0]
                reply = "ok params %d" % sum(t.numel() for t in model.parameters())
            elif words[0] in ("train", "eval") and len(words) == 3:
                step = peer.train_step if words[0] == "train" else peer.eval_step
                ips, batches = peer.rate(step, words[1], float(words[2]))
                reply = "rate %.3f %d" % (ips, batches)
            else:
                reply = "error unknown request %r" % line.strip()
        except Exception as e:  # report, keep serving
            reply = "error %s" % str(e).replace("\n", " ")
        print(reply, flush=True)


def once(peer):
    print("PyTorch %s, %d thread(s), batch %d" % (peer.torch.__version__, peer.torch.get_num_threads(), BATCH))
    for name in ("small", "wide"):
        for _ in range(3):
            peer.train_step(name)
            peer.eval_step(name)
        for mode, step in (("train", peer.train_step), ("eval", peer.eval_step)):
            rates = [peer.rate(step, name, 1.0)[0] for _ in range(5)]
            print("%-6s %-5s %8.0f images/s (median of 5; min %.0f, max %.0f)"
                  % (name, mode, statistics.median(rates), min(rates), max(rates)))


def main():
    try:
        peer = Peer()
    except ImportError as e:
        print("error PyTorch is not importable by %s (%s)" % (sys.executable, e), flush=True)
        if "--once" in sys.argv[1:]:
            print("install Debian's PyTorch 1.13 with: apt-get install python3-torch", file=sys.stderr)
        return 3
    if "--once" in sys.argv[1:]:
        once(peer)
    else:
        serve(peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
