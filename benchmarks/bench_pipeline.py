"""Pipeline throughput against dlib used natively, on the same images in one run.

Baseline: dlib without deepface (HOG detector, 5-point landmarks, 150 px chip
with 25% padding, ResNet descriptor), one process. Then lfr-audit's pipeline
with the same detector and model in each preprocessing mode, one worker and
two, each with an empty cache; and the raw Dlib model on already-detected
chips, which bounds what any pipeline can reach. Throughput is reported as a
ratio to the baseline measured in the same run, so machine load cancels out.

    .venv/bin/python benchmarks/bench_pipeline.py --data-dir ../shared/datasets \
        --images 300 [--full-lfw] --out benchmarks/results_pipeline.md

``--full-lfw`` also embeds all 13,233 LFW images with the default
configuration and two workers (about 20 minutes here) and records the time;
``--full-cache-dir`` keeps that cache (it must start empty) for later audits.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from audit.pipeline.config import PipelineConfig, Preprocess
from audit.pipeline.run import embed_manifest
from audit.pipeline.weights import seed_dlib_weights, weights_dir


def lfw_manifest(lfw_root: Path, limit: int | None) -> pa.Table:
    """Every n-th LFW image, spread over people, so a subset is not one person's photos."""
    files = sorted((lfw_root / "images").glob("*/*.jpg"))
    if limit is not None:
        files = files[:: max(1, len(files) // limit)][:limit]
    return pa.Table.from_pylist([
        {"image_id": f.stem, "path": str(f.relative_to(lfw_root)), "subject_id": f.parent.name,
         "dataset": "lfw"} for f in files
    ])


def native_dlib(paths: list[Path]) -> tuple[float, list[np.ndarray]]:
    """dlib's own recipe, no deepface: seconds taken and the chips it embedded."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(weights_dir() / "shape_predictor_5_face_landmarks.dat"))
    model = dlib.face_recognition_model_v1(
        str(weights_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
    chips = []
    start = time.perf_counter()
    for path in paths:
        rgb = cv2.imread(str(path))[:, :, ::-1].copy()
        faces = detector(rgb, 1)
        if not faces:
            continue
        face = max(faces, key=lambda r: r.area())
        chip = dlib.get_face_chip(rgb, landmarks(rgb, face), size=150, padding=0.25)
        model.compute_face_descriptor(chip)
        chips.append(chip)
    return time.perf_counter() - start, chips


def raw_model(chips: list[np.ndarray]) -> float:
    """The Dlib ResNet alone on already-detected, already-aligned chips (batched)."""
    import dlib

    model = dlib.face_recognition_model_v1(
        str(weights_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
    start = time.perf_counter()
    for i in range(0, len(chips), 16):
        model.compute_face_descriptor(chips[i: i + 16])
    return time.perf_counter() - start


def pipeline(manifest: pa.Table, root: Path, config: PipelineConfig, workers: int,
             cache_dir: Path | None = None) -> float:
    """Seconds to embed ``manifest`` from an empty cache (a temporary one by default)."""
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(cache_dir or scratch)
        if cache.exists() and any(cache.iterdir()):
            raise SystemExit(f"{cache} is not empty: the timing would reuse cached faces")
        start = time.perf_counter()
        embed_manifest(manifest, root, config, cache_dir=cache, workers=workers)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--full-lfw", action="store_true")
    parser.add_argument("--full-cache-dir", type=Path, default=None,
                        help="empty folder to keep the full-LFW faces cache in (for audits)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results_pipeline.md"))
    args = parser.parse_args()
    seed_dlib_weights()
    root = args.data_dir / "lfw"
    manifest = lfw_manifest(root, args.images)
    paths = [root / p for p in manifest.column("path").to_pylist()]
    n = len(paths)

    native_s, chips = native_dlib(paths)
    rows = [("dlib native (HOG + 5-point chip), 1 process", native_s)]
    rows.append((f"Dlib model alone on {len(chips)} ready chips", raw_model(chips)))
    for preprocess in Preprocess:
        config = PipelineConfig(preprocess=preprocess)
        rows.append((f"lfr-audit {preprocess.value}, 1 worker",
                     pipeline(manifest, root, config, 1)))
    for preprocess in (Preprocess.dlib_chip, Preprocess.deepface):
        rows.append((f"lfr-audit {preprocess.value}, 2 workers",
                     pipeline(manifest, root, PipelineConfig(preprocess=preprocess), 2)))

    lines = [
        "# Pipeline throughput",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_pipeline.py --data-dir DATA "
        f"--images {args.images}{' --full-lfw' if args.full_lfw else ''}`",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores; {time.strftime('%Y-%m-%d')}.",
        f"{n} LFW images (every n-th file), Dlib model + dlib HOG detector; empty cache each run.",
        "",
        "| run | seconds | images/s | vs native dlib |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in rows:
        count = len(chips) if name.startswith("Dlib model alone") else n
        lines.append(f"| {name} | {seconds:.1f} | {count / seconds:.2f} | "
                     f"{(count / seconds) / (n / native_s):.2f}x |")
    if args.full_lfw:
        full = lfw_manifest(root, None)
        seconds = pipeline(full, root, PipelineConfig(), 2, args.full_cache_dir)
        lines += ["", f"Full LFW ({full.num_rows} images), default configuration "
                  f"(deepface preprocessing), 2 workers: {seconds / 60:.1f} min "
                  f"({full.num_rows / seconds:.2f} images/s)."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
