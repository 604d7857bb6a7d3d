#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (small valid and near-valid
inputs). Usage, from the repository root, with a built wtp-synth and Debian's python3-torch:
    /usr/bin/python3 tests/fuzz/make_corpus.py build/bin
The LFW, CelebA, CEW and JPEG seeds come from wtp-synth; .pt files from torch.save, .npy
files from numpy, archives from tarfile/zipfile. Re-running rewrites the same names."""
import glob
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def head(path, lines):
    with open(path) as f:
        return "".join(f.readlines()[:lines])


def torch_bytes(obj, zip_format=True):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def png_bytes(width, height, channels):
    kind = {1: 0, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\0" + bytes((x * 37 + y * 11 + c) % 256 for x in range(width) for c in range(channels))
                    for y in range(height))
    chunk = lambda tag, body: struct.pack(">I", len(body)) + tag + body + struct.pack(
        ">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, kind, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def bmp_bytes(width, height):
    stride = (width * 3 + 3) & ~3
    pixels = b"".join(bytes((x * 50 + y) % 256 for x in range(width * 3)) + b"\0" * (stride - width * 3)
                      for y in range(height))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def ppm_bytes(width, height):
    pixels = bytes((x * 40 + y * 7) % 256 for y in range(height) for x in range(width * 3))
    return b"P6\n# seed\n%d %d\n255\n" % (width, height) + pixels


def tiff_bytes(width, height):
    """A little-endian, uncompressed RGB TIFF: one strip, the image directory after it."""
    pixels = bytes((x * 30 + y) % 256 for y in range(height) for x in range(width * 3))
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, 8), (277, 3, 1, 3), (278, 3, 1, height),
               (279, 4, 1, len(pixels))]
    directory = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries) + b"\0" * 4
    return b"II*\0" + struct.pack("<I", 8 + len(pixels)) + pixels + directory


def idx_bytes(shape, values, compress=False):
    data = bytes([0, 0, 8, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape) + bytes(values)
    return __import__("gzip").compress(data, mtime=0) if compress else data


def archive(kind, files):
    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files:
                z.writestr(name, data)
    else:
        with tarfile.open(fileobj=buf, mode={"tar": "w", "tgz": "w:gz"}[kind]) as t:
            for name, data in files:
                info = tarfile.TarInfo(name)
                if data is None:
                    info.type = tarfile.DIRTYPE
                    t.addfile(info)
                elif isinstance(data, tuple):  # (link type, target)
                    info.type, info.linkname = data
                    t.addfile(info)
                else:
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main():
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
    synth = tempfile.mkdtemp(prefix="wtp-corpus-")
    try:
        subprocess.run([os.path.join(bin_dir, "wtp-synth"), "--out", synth, "--identities", "10",
                        "--images-per-identity", "2", "--size", "32", "--threads", "1",
                        "--log-level", "warn"], check=True, stdout=subprocess.DEVNULL)
        lfw, celeba = os.path.join(synth, "lfw"), os.path.join(synth, "celeba")
        cew = os.path.join(synth, "cew", "dataset_B_FacialImages")

        # torch.save: zip and legacy formats, a state dict with views, a nested checkpoint.
        base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
        state = {"w": base, "w_t": base.t(), "row": base[1], "b": torch.tensor([1, 2], dtype=torch.int64)}
        put("torch_file", "state_dict_zip.pt", torch_bytes(state))
        put("torch_file", "state_dict_legacy.pt", torch_bytes(state, zip_format=False))
        put("torch_file", "checkpoint.pt", torch_bytes(
            {"epoch": 3, "lr": 0.5, "names": ["a", "b"], "flags": (True, None),
             "state_dict": {"h": torch.zeros(2, dtype=torch.float16)}}))
        put("torch_file", "pickle_protocol2.pkl", __import__("pickle").dumps({"a": [1, 2.5, "x"]}, protocol=2))
        put("torch_file", "truncated.pt", torch_bytes(state)[:200])

        # .npy: every supported dtype family, fortran order, a scalar, an empty array.
        put("npy", "f4_2x3.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
        put("npy", "i8_fortran.npy", npy_bytes(np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3))))
        put("npy", "bool.npy", npy_bytes(np.array([True, False, True])))
        put("npy", "u1_scalar.npy", npy_bytes(np.array(7, dtype="u1")))
        put("npy", "f2_empty.npy", npy_bytes(np.zeros((0, 4), dtype="<f2")))
        put("npy", "big_endian.npy", npy_bytes(np.arange(3, dtype=">i4")))

        # IDX (MNIST format): images and labels, plain and gzip, a truncated and a short file.
        put("idx", "images_2x3x2.idx", idx_bytes([2, 3, 2], range(12)))
        put("idx", "labels.idx.gz", idx_bytes([4], [9, 0, 3, 1], compress=True))
        put("idx", "images.idx.gz", idx_bytes([1, 2, 2], [0, 128, 255, 7], compress=True))
        put("idx", "truncated.idx", idx_bytes([3, 4], range(12))[:14])
        put("idx", "float_type.idx", bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 128, 63]))

        # config: main.yaml NUL base.yaml NUL --set assignments.
        put("config", "plain.yaml", "flag: true\nsmall: 3\nratio: 0.25\nmode: slow\n"
            "stages:\n  - {name: a, epochs: 2}\n  - name: b\n    lr: 1e-3\nks: [1, 5]\n"
            "weights: {x: 1.5}\nmodel: {name: cnn, depth: 3}\nraw: [1, {a: b}]\n")
        put("config", "include.yaml", "include: base.yaml\nsmall: 4\nstages:\n  - {name: c}\n\0"
            "big: 18446744073709551615\nmode: fast\nweights: {y: 2}\n\0stages.0.epochs=7\0ks=[2, 3]")
        put("config", "include_list_set.yaml", "include: [base.yaml]\nmodel: cnn\n\0small: 1\n\0"
            "weights.z=0.5\0model.name=other")
        put("config", "unknown_key.yaml", "flag: true\nsmal: 3\n")
        put("config", "wrong_type.yaml", "small: [1]\nratio: nan\nmode: medium\n")
        put("config", "cycle.yaml", "include: main.yaml\n\0include: main.yaml\n")
        put("config", "anchors.yaml", "a: &x {epochs: 2}\nstages: [*x, *x]\n")

        # LFW protocol files (wtp-synth's) and near-misses.
        put("lfw_text", "pairs.txt", open(os.path.join(lfw, "pairs.txt")).read())
        put("lfw_text", "people.txt", open(os.path.join(lfw, "people.txt")).read())
        put("lfw_text", "view1.txt", "1\nA_B\t1\t2\nA_B\t1\tC_D\t1\n")
        put("lfw_text", "short.txt", "2\t1\nA\t1\t2\n")
        put("lfw_text", "people_bad_count.txt", "1\n3\nA\t2\n")

        # CelebA identity NUL partition.
        ident = head(os.path.join(celeba, "identity_CelebA.txt"), 20)
        part = head(os.path.join(celeba, "list_eval_partition.txt"), 20)
        put("celeba_text", "synth.txt", ident + "\0" + part)
        put("celeba_text", "partition_missing.txt", "000001.jpg 1\n000002.jpg 2\n\0000001.jpg 0\n")
        put("celeba_text", "bad_fields.txt", "000001.jpg 0\n000002.jpg x 2\n\0000001.jpg 3\n")

        # CEW eye coordinates: OpenFace NUL ClosedFace.
        put("cew_eyes", "synth.txt", head(os.path.join(cew, "EyeCoordinatesInfo_OpenFace.txt"), 5) + "\0" +
            head(os.path.join(cew, "EyeCoordinatesInfo_ClosedFace.txt"), 5))
        put("cew_eyes", "names_match.txt", "Aaron_Eckhart_0001.jpg 16 15 20 15\nopen1.jpg 1e3 -2 0.5 7\n\0"
            "closed_eye_0001.jpg_face_1.jpg 12 15 19 17\n")
        put("cew_eyes", "bad.txt", "open1.jpg 1 2 3\n\0x 1 2 3 y\n")

        # Archives: tar, tar.gz, zip; a directory, a safe and an unsafe link.
        files = [("top/", None), ("top/a.txt", b"hello\n"), ("top/sub/b.bin", bytes(range(64)))]
        put("extract", "files.tar", archive("tar", files))
        put("extract", "files.tgz", archive("tgz", files))
        put("extract", "files.zip", archive("zip", [(n, d) for n, d in files if d is not None]))
        put("extract", "links.tar", archive("tar", files + [("top/l", (tarfile.SYMTYPE, "a.txt")),
                                                             ("top/h", (tarfile.LNKTYPE, "top/a.txt"))]))
        put("extract", "escape.tar", archive("tar", [("../x", b"x"), ("top/l", (tarfile.SYMTYPE, "/etc"))]))

        # Images: wtp-synth's JPEG, PNGs (grey, RGB, RGBA), a BMP, a truncated JPEG.
        faces = sorted(glob.glob(os.path.join(lfw, "lfw-deepfunneled", "*", "*.jpg")))
        with open(faces[0], "rb") as f:
            jpeg = f.read()
        put("image", "face.jpg", jpeg)
        put("image", "truncated.jpg", jpeg[: len(jpeg) // 2])
        put("image", "grey.png", png_bytes(5, 4, 1))
        put("image", "rgb.png", png_bytes(4, 3, 3))
        put("image", "rgba.png", png_bytes(3, 3, 4))
        put("image", "rgb.bmp", bmp_bytes(3, 2))
        put("image", "rgb.ppm", ppm_bytes(3, 2))
        put("image", "rgb.tiff", tiff_bytes(4, 3))

        # wtp-serve request bodies: a log-in with PNG and JPEG frames (one as a data URL),
        # an enrolment, bad base64, a data URL without ;base64, too many frames.
        import base64
        import json
        b64 = lambda data: base64.b64encode(data).decode()
        png = png_bytes(4, 3, 3)
        frames = [{"image": b64(png), "t_ms": 0},
                  {"image": "data:image/jpeg;base64," + b64(jpeg[:600]), "t_ms": 100.5}]
        put("request", "login.json", json.dumps({"nonce": "n" * 43, "frames": frames}))
        put("request", "enrol.json", json.dumps({"images": [b64(png)] * 3 + [b64(jpeg[:300])]}))
        put("request", "bad_base64.json", json.dumps({"nonce": "x", "frames": [{"image": "@@@", "t_ms": 1}]}))
        put("request", "data_url.json", json.dumps({"images": ["data:,AAAA", "data:image/png;base64,"]}))
        put("request", "many_frames.json", json.dumps({"nonce": "x", "frames": [{"image": "AAAA", "t_ms": i} for i in range(41)]}))
    finally:
        shutil.rmtree(synth)


if __name__ == "__main__":
    main()
