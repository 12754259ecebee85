"""The ``datasets`` group: a dataset's manifest and label quirks, and downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..progress import stderr
from .common import DataDir, UserError, dataset_root, datasets_app, reports_user_errors

@datasets_app.command("info")
@reports_user_errors
def datasets_info(
    dataset: Annotated[str, typer.Argument(help="lfw, utkface, or a CSV/Parquet manifest")],
    data_dir: DataDir = None,
    root: Annotated[Path | None, typer.Option(help="Dataset root folder.")] = None,
) -> None:
    """Summarise a dataset's manifest: images, subjects, groups and label quirks."""
    from ..datasets import load_manifest

    manifest, info = load_manifest(dataset, dataset_root(Path(dataset).stem, data_dir, root))
    frame = manifest.to_pandas()
    stderr.print(f"{escape(info.name)}: {len(frame)} images of {frame.subject_id.nunique()} subjects "
                 f"(labels: {info.label_provenance}; mated trials: "
                 f"{'yes' if info.supports_mated else 'no'})", highlight=False)
    stderr.print(escape(f"  label quirks: {dict(info.quirks)}"), highlight=False)
    for note in info.notes:
        stderr.print(f"  note: {escape(note)}", highlight=False)
    for column in frame.columns.difference(["image_id", "path", "subject_id", "dataset"]):
        counts = frame[column].value_counts()
        shown = counts.to_dict() if len(counts) <= 12 else f"{len(counts)} distinct values"
        stderr.print(escape(f"  {column}: {shown}"), highlight=False)


@datasets_app.command("fetch")
@reports_user_errors
def datasets_fetch(
    dataset: Annotated[str, typer.Argument(help="lfw")],
    dest: Annotated[Path, typer.Option(help="Folder to download into.")] = Path("data/lfw"),
    allow_unverified: Annotated[bool, typer.Option(
        help="Accept files with no published SHA-256 (the LFW archive has only an MD5, "
             "which is still checked).")] = False,
) -> None:
    """Download a public dataset from its official sources, verifying checksums."""
    from ..datasets.fetch import fetch_lfw

    if dataset != "lfw":
        raise UserError(f"no download for {dataset!r}; only 'lfw' can be fetched "
                        "(see datasets/utkface.md for UTKFace)")
    fetch_lfw(dest, allow_unverified=allow_unverified)
    stderr.print(f"LFW is in {dest}; use --data-dir {dest.parent}")

