"""Train the digits feature extractor (``digits-cnn``), reproducibly, on the digits training split.

    python -m benchbed.generative.train_extractor            # writes benchbed/generative/weights/digits_extractor.pt
    python -m benchbed.generative.train_extractor --out /tmp/x.pt
    python -m benchbed.generative.train_extractor --check    # retrain into a temp file, compare the sha256

Recipe: :class:`~benchbed.generative.extractor.DigitsFeatureNet` on the 1,348 training images, pixels
quantised to 8 bits as torch-fidelity feeds them; random shifts of up to one pixel (zero fill);
Adam (lr 1e-3, weight decay 1e-4), batch 64, 40 epochs; cross-entropy; then the ``features`` layer's
scale is fixed so its mean square over the (unshifted) training images is 1. Determinism: ``torch.manual_seed``
for the initialisation, a dedicated ``torch.Generator`` for the data order and the shifts,
``torch.use_deterministic_algorithms(True)`` and one thread. The same torch build on the same CPU kind
gives the same bytes; another torch version or CPU instruction set may round differently, in which
case ``--check`` says so (and the recorded checksum in ``extractor.py`` is what the shipped file has).
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from benchbed.generative.extractor import WEIGHTS_PATH, WEIGHTS_SHA256, DigitsFeatureNet

SEED = 20240607
EPOCHS = 40
BATCH = 64
LR = 1e-3
WEIGHT_DECAY = 1e-4


def quantise(x: torch.Tensor) -> torch.Tensor:
    """What the extractor sees at evaluation time: 8-bit pixels."""
    return torch.round(x * 255.0) / 255.0


def random_shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift every image by (dy, dx) in {-1, 0, 1}^2, filling with zeros (the digits' background)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1))
    shifts = torch.randint(0, 3, (n, 2), generator=generator)
    out = torch.empty_like(x)
    for dy in range(3):
        for dx in range(3):
            where = ((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).nonzero().flatten()
            if where.numel():
                out[where] = padded[where, :, dy:dy + h, dx:dx + w]
    return out


def train(epochs: int = EPOCHS, log=print) -> tuple[dict, float]:
    """Train from scratch; returns (state_dict, test accuracy in %)."""
    deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        return _train(epochs, log)
    finally:  # leave the process as it was (tests call this in-process)
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def _train(epochs: int, log) -> tuple[dict, float]:
    from benchbed.builtin.dataset_loaders import load_digits_split

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    train_split, test_split = load_digits_split("train"), load_digits_split("test")
    x, y = quantise(train_split.images), train_split.labels
    net = DigitsFeatureNet()
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(y), generator=gen)
        total = 0.0
        for start in range(0, len(y), BATCH):
            idx = order[start:start + BATCH]
            loss = F.cross_entropy(net(random_shift(x[idx], gen)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if (epoch + 1) % 10 == 0:
            log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(y):.4f}")
    net.eval()
    with torch.no_grad():
        features, _ = net.features_and_logits(x)
        net.feature_scale.copy_(features.pow(2).mean().rsqrt())
        acc = 100.0 * float((net(quantise(test_split.images)).argmax(1) == test_split.labels).float().mean())
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    return state, acc


def save(state: dict, path: Path) -> str:
    """Write the state dict (bytes are deterministic for a given state); returns its sha256."""
    import hashlib

    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchbed.generative.train_extractor",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=WEIGHTS_PATH,
                   help=f"where to write the weights (default: {WEIGHTS_PATH})")
    p.add_argument("--check", action="store_true",
                   help="retrain into a temporary file and compare with the recorded sha256")
    args = p.parse_args(argv)
    state, acc = train()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            digest = save(state, Path(tmp) / "digits_extractor.pt")
        same = digest == WEIGHTS_SHA256
        print(f"test accuracy {acc:.2f}%  sha256 {digest}  {'matches' if same else 'DIFFERS from'} the recorded "
              f"{WEIGHTS_SHA256}")
        return 0 if same else 1
    digest = save(state, args.out)
    print(f"test accuracy {acc:.2f}%\nwrote {args.out}\nsha256 {digest}")
    if args.out.resolve() == WEIGHTS_PATH and digest != WEIGHTS_SHA256:
        print(f"note: the recorded WEIGHTS_SHA256 in benchbed/generative/extractor.py is {WEIGHTS_SHA256}; "
              f"update it to ship these weights", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
