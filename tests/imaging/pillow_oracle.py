"""Reference outputs from Pillow (and torch/numpy) for the imaging tests.

Run with /usr/bin/python3 (Debian's, which has PIL and numpy). Every command writes raw pixel
files plus a JSON manifest into OUTDIR; the C++ tests read them and compare with xray-search.

  pillow_oracle.py generate OUTDIR SEED      PNG files of every colour type / bit depth /
                                             interlace / filter (written by the small encoder
                                             below) and JPEG files written by Pillow (gray, RGB,
                                             CMYK, YCCK; qualities; 4:4:4, 4:2:2, 4:2:0;
                                             progressive)
                                             -> generated.json
  pillow_oracle.py decode OUTDIR FILE...     Pillow's decoded pixels of each file -> decoded.json
                                             (@LIST reads the file names from LIST, one a line)
  pillow_oracle.py resize OUTDIR SEED COUNT  random L/LA/RGB/RGBA images and Pillow's
                                             Image.resize(BICUBIC) of them -> resize.json
  pillow_oracle.py normalize OUTDIR M0 M1 M2 S0 S1 S2
                                             ToTensor + Normalize of the values 0..255 per
                                             channel, float32 (torch when importable, else numpy)
                                             -> normalize.f32 (3 x 256)

Decoded pixels are dumped in the mode xray-search decodes to: "1" as L (0/255), "P" as RGB, or
RGBA when it has transparency, CMYK as convert("RGB"), "I" (16-bit gray) as uint16
little-endian ("I16").
"""

import json
import os
import random
import struct
import sys
import zlib

import numpy as np
from PIL import Image


# ---- a minimal PNG encoder (independent of libpng, which xray-search decodes with) ----------

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """One scanline of samples (1-D uint array) at `depth` bits, padded to a whole byte."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    padded = np.zeros(-(-len(samples) // per_byte) * per_byte, dtype=np.uint8)
    padded[: len(samples)] = samples
    groups = padded.reshape(-1, per_byte)
    out = np.zeros(len(groups), dtype=np.uint8)
    for i in range(per_byte):
        out |= (groups[:, i] << (8 - depth * (i + 1))).astype(np.uint8)
    return out.tobytes()


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, rng):
    """Applies a random PNG filter type to each row (all five types get exercised)."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for row in rows:
        kind = rng.randrange(5)
        line = bytearray(len(row))
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            line[i] = (x - pred) & 0xFF
        out.append(kind)
        out += line
        prev = row
    return bytes(out)


def encode_png(pixels, color_type, depth, interlace, rng, palette=None, trns=None):
    """pixels: (h, w, channels) array of samples < 2**depth."""
    h, w, ch = pixels.shape
    bpp = max(1, ch * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = [pack_row(sub[y].reshape(-1), depth) for y in range(sub.shape[0])]
        raw += filter_rows(rows, bpp, rng)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    data = zlib.compress(raw, rng.choice([1, 6, 9]))
    # Split the compressed stream over several IDAT chunks, as real encoders do.
    step = max(1, len(data) // rng.randint(1, 4))
    for i in range(0, len(data), step):
        out += chunk(b"IDAT", data[i : i + step])
    return out + chunk(b"IEND", b"")


def smooth_noise(rng, h, w, ch, top):
    """Gradients plus noise: compressible like a photo, with every level reachable."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 7 + y * 3)[:, :, None] + np.arange(ch)[None, None, :] * 40
    noise = rng.integers(0, top // 4 + 1, size=(h, w, ch))
    return ((base * max(1, top // 256) + noise) % top).astype(np.int64)


def generate(outdir, seed):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    entries = []

    def add(name, data, what):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        entries.append({"file": name, "what": what})

    cases = [(0, d) for d in (1, 2, 4, 8, 16)] + [(2, 8), (2, 16), (4, 8), (4, 16), (6, 8), (6, 16)]
    cases += [(3, d) for d in (1, 2, 4, 8)]
    for n, (ct, depth) in enumerate(cases * 2):
        interlace = n >= len(cases)
        w, h = rng.randint(1, 70), rng.randint(1, 70)
        ch = CHANNELS[ct]
        palette = trns = None
        if ct == 3:
            colors = rng.randint(1, 1 << depth)
            palette = nrng.integers(0, 256, size=(colors, 3))
            pixels = nrng.integers(0, colors, size=(h, w, 1))
            if rng.random() < 0.5:
                trns = bytes(nrng.integers(0, 256, size=rng.randint(1, colors)).astype(np.uint8))
        else:
            pixels = smooth_noise(nrng, h, w, ch, 1 << depth)
            if ct in (0, 2) and rng.random() < 0.5:  # a transparent colour (Pillow keeps L/RGB)
                trns = b"".join(struct.pack(">H", int(v)) for v in pixels[0, 0])
        name = f"png_ct{ct}_d{depth}_{'i' if interlace else 'n'}_{w}x{h}.png"
        add(name, encode_png(pixels, ct, depth, int(interlace), rng, palette, trns), name)

    for mode in ("L", "RGB", "CMYK"):
        for quality in (30, 75, 95, 100):
            for subsampling in ((0, 1, 2) if mode != "L" else (0,)):
                for progressive in (False, True):
                    w, h = rng.randint(1, 90), rng.randint(1, 90)
                    arr = smooth_noise(nrng, h, w, len(mode), 256).astype(np.uint8)
                    im = Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode)
                    name = f"jpeg_{mode}_q{quality}_s{subsampling}_{'p' if progressive else 'b'}_{w}x{h}.jpg"
                    path = os.path.join(outdir, name)
                    im.save(path, "JPEG", quality=quality, subsampling=subsampling,
                            progressive=progressive)
                    entries.append({"file": name, "what": name})
    # YCCK: a CMYK file whose Adobe marker says transform 2, so that libjpeg converts YCC->CMYK
    # (different pixels, but both decoders read the same file).
    for n, name in enumerate([e["file"] for e in entries if e["file"].startswith("jpeg_CMYK")][:4]):
        with open(os.path.join(outdir, name), "rb") as f:
            data = bytearray(f.read())
        at = data.find(b"Adobe")
        if at < 0 or data[at + 11] != 0:
            raise SystemExit(f"{name}: no Adobe marker with transform 0")
        data[at + 11] = 2
        add(f"jpeg_YCCK_{n}.jpg", bytes(data), "CMYK file relabelled YCCK")
    # A larger JPEG with optimised Huffman tables.
    arr = smooth_noise(nrng, 301, 403, 3, 256).astype(np.uint8)
    Image.fromarray(arr, "RGB").save(os.path.join(outdir, "jpeg_large_optimized.jpg"), "JPEG",
                                     quality=88, optimize=True)
    entries.append({"file": "jpeg_large_optimized.jpg", "what": "optimized Huffman tables"})
    with open(os.path.join(outdir, "generated.json"), "w") as f:
        json.dump(entries, f)


# ---- Pillow's decoded pixels -----------------------------------------------------------------

def decode(outdir, files):
    entries = []
    for i, path in enumerate(files):
        entry = {"file": path}
        try:
            im = Image.open(path)
            im.load()
            if im.mode == "1":
                im = im.convert("L")
            elif im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode == "CMYK":
                im = im.convert("RGB")
            if im.mode == "I":
                data = np.asarray(im).astype("<u2").tobytes()
                mode = "I16"
            else:
                data = np.asarray(im).tobytes()
                mode = im.mode
            raw = f"decoded_{i}.raw"
            with open(os.path.join(outdir, raw), "wb") as f:
                f.write(data)
            entry.update(ok=True, mode=mode, width=im.width, height=im.height, raw=raw)
        except Exception as e:  # noqa: BLE001 - any Pillow failure is an answer here
            entry.update(ok=False, error=f"{type(e).__name__}: {e}")
        entries.append(entry)
    with open(os.path.join(outdir, "decoded.json"), "w") as f:
        json.dump(entries, f)


# ---- Pillow's resize -------------------------------------------------------------------------

def resize(outdir, seed, count):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    entries = []
    modes = ["L", "LA", "RGB", "RGBA"]
    for i in range(count):
        mode = modes[i % 4]
        w, h = rng.randint(1, 150), rng.randint(1, 150)
        kind = rng.randrange(4)
        if kind == 0:  # strong reduction
            ow, oh = rng.randint(1, max(1, w // 5)), rng.randint(1, max(1, h // 5))
        elif kind == 1:  # enlargement
            ow, oh = rng.randint(w, 3 * w + 2), rng.randint(h, 3 * h + 2)
        elif kind == 2:  # one side unchanged (that pass is skipped)
            ow, oh = (w, rng.randint(1, 200)) if rng.random() < 0.5 else (rng.randint(1, 200), h)
        else:
            ow, oh = rng.randint(1, 200), rng.randint(1, 200)
        ch = len(mode)
        if rng.random() < 0.5:
            arr = nrng.integers(0, 256, size=(h, w, ch)).astype(np.uint8)  # worst case: noise
        else:
            arr = smooth_noise(nrng, h, w, ch, 256).astype(np.uint8)
        if mode in ("LA", "RGBA"):
            alpha = nrng.integers(0, 256, size=(h, w))
            extremes = nrng.random(size=(h, w))
            alpha[extremes < 0.2] = 0
            alpha[extremes > 0.8] = 255
            arr[:, :, -1] = alpha
        im = Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode)
        out = im.resize((ow, oh), Image.BICUBIC)
        src, dst = f"resize_{i}_in.raw", f"resize_{i}_out.raw"
        with open(os.path.join(outdir, src), "wb") as f:
            f.write(arr.tobytes())
        with open(os.path.join(outdir, dst), "wb") as f:
            f.write(np.asarray(out).tobytes())
        entries.append({"mode": mode, "width": w, "height": h, "out_width": ow,
                        "out_height": oh, "in": src, "out": dst})
    with open(os.path.join(outdir, "resize.json"), "w") as f:
        json.dump(entries, f)


# ---- ToTensor + Normalize --------------------------------------------------------------------

def normalize(outdir, mean, std):
    values = np.arange(256, dtype=np.uint8)
    try:
        import torch  # what torchvision's ToTensor/Normalize run on

        x = torch.from_numpy(np.stack([values] * 3)[:, :, None]).to(torch.float32).div(255)
        x = x.sub(torch.tensor(mean, dtype=torch.float32)[:, None, None])
        x = x.div(torch.tensor(std, dtype=torch.float32)[:, None, None])
        table = x.numpy().reshape(3, 256)
    except ImportError:
        x = np.stack([values] * 3).astype(np.float32) / np.float32(255)
        table = (x - np.array(mean, np.float32)[:, None]) / np.array(std, np.float32)[:, None]
    with open(os.path.join(outdir, "normalize.f32"), "wb") as f:
        f.write(table.astype("<f4").tobytes())


def main(argv):
    command, outdir = argv[1], argv[2]
    if command == "generate":
        generate(outdir, int(argv[3]))
    elif command == "decode":
        files = []
        for arg in argv[3:]:
            if arg.startswith("@"):
                with open(arg[1:]) as f:
                    files += f.read().splitlines()
            else:
                files.append(arg)
        decode(outdir, files)
    elif command == "resize":
        resize(outdir, int(argv[3]), int(argv[4]))
    elif command == "normalize":
        normalize(outdir, [float(v) for v in argv[3:6]], [float(v) for v in argv[6:9]])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv)
