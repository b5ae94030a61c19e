"""PNG images of samples: a grid (one row per class, ``per_class`` samples each) and single images."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

GRID_ARRAY = "generative_grid_png"  # name of the PNG bytes (uint8 array) kept in a result's .npz


def to_hwc_uint8(image: torch.Tensor) -> np.ndarray:
    """One (C, H, W) image in [0, 1] -> (H, W) or (H, W, 3) uint8, rounded like every PNG benchbed writes."""
    x = image.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).cpu().numpy()
    return x[0] if x.shape[0] == 1 else np.transpose(x, (1, 2, 0))


def grid_array(images: torch.Tensor, labels: torch.Tensor, num_classes: int, per_class: int = 8, pad: int = 1,
               min_cell: int = 32) -> np.ndarray:
    """The first ``per_class`` samples of every class, one row per class (missing cells stay blank).

    Cells are upscaled with nearest-neighbour to at least ``min_cell`` pixels (8x8 digits become 32x32)
    and separated by ``pad`` (upscaled) pixels of mid-grey.
    """
    c, h, w = images.shape[1:]
    scale = max(1, -(-min_cell // max(h, w)))
    ch, cw, p = h * scale, w * scale, pad * scale
    channels = 1 if c == 1 else 3
    canvas = np.full((num_classes * (ch + p) + p, per_class * (cw + p) + p, channels), 128, dtype=np.uint8)
    labels = torch.as_tensor(labels).cpu()
    for y in range(num_classes):
        where = torch.nonzero(labels == y).flatten()[:per_class]
        for col, i in enumerate(where.tolist()):
            cell = to_hwc_uint8(images[i])
            cell = cell[..., None] if cell.ndim == 2 else cell
            cell = cell.repeat(scale, axis=0).repeat(scale, axis=1)
            top, left = p + y * (ch + p), p + col * (cw + p)
            canvas[top:top + ch, left:left + cw] = cell
    return canvas[..., 0] if channels == 1 else canvas


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def labelled_grid_array(images: torch.Tensor, labels: torch.Tensor, num_classes: int, per_class: int = 8,
                        class_names=()) -> np.ndarray:
    """:func:`grid_array` with each row's class written in a strip on its left (the class name where the
    dataset has names, else its index), so a reader sees what each row was drawn for."""
    from PIL import Image, ImageDraw, ImageFont

    grid = grid_array(images, labels, num_classes, per_class)
    names = [str(class_names[y]) if y < len(class_names) else str(y) for y in range(num_classes)]
    font = ImageFont.load_default()
    row = (grid.shape[0] - 1) // num_classes  # cell + gap, in pixels
    width = max(int(font.getlength(n)) for n in names) + 8
    mode = "L" if grid.ndim == 2 else "RGB"
    canvas = Image.new(mode, (width + grid.shape[1], grid.shape[0]), 255 if mode == "L" else (255, 255, 255))
    canvas.paste(Image.fromarray(grid), (width, 0))
    draw = ImageDraw.Draw(canvas)
    for y, name in enumerate(names):
        draw.text((width - 4, 1 + y * row + row // 2), name, fill=0 if mode == "L" else (0, 0, 0), font=font,
                  anchor="rm")
    return np.asarray(canvas)


def grid_png(images: torch.Tensor, labels: torch.Tensor, num_classes: int, per_class: int = 8,
             class_names=None) -> bytes:
    """The grid as PNG bytes; with ``class_names`` (a sequence, may be empty: indices) rows are labelled."""
    if class_names is None:
        return png_bytes(grid_array(images, labels, num_classes, per_class))
    return png_bytes(labelled_grid_array(images, labels, num_classes, per_class, class_names))


def grid_png_from_arrays(arrays: dict) -> bytes | None:
    """The sample grid's PNG bytes from a result's arrays (``ResultsStore.arrays``), if it has one."""
    data = arrays.get(GRID_ARRAY)
    return None if data is None else np.asarray(data, dtype=np.uint8).tobytes()


def save_pngs(images: torch.Tensor, labels: torch.Tensor, folder: str | Path, class_names=()) -> list[Path]:
    """One PNG per sample, ``<folder>/<index:05d>-<class>.png`` (grey images as 8-bit greyscale)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    width = max(5, len(str(len(images) - 1)))
    for i, (image, y) in enumerate(zip(images, torch.as_tensor(labels).tolist())):
        name = class_names[y] if y < len(class_names) else str(y)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))
        path = folder / f"{i:0{width}d}-{safe}.png"
        Image.fromarray(to_hwc_uint8(image)).save(path, format="PNG")
        paths.append(path)
    return paths
