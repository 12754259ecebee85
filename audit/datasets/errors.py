"""Exceptions of the dataset stage.

One family, so that the command line can map every dataset problem to one exit
code and print its message as is. Messages name the file (and row or line when
there is one), say what is wrong and what to do, on one line per problem.
"""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset, manifest or download cannot be used as it is."""


class ManifestError(DatasetError):
    """A manifest has row-level problems; ``problems`` holds one line for each.

    All rows are checked before raising, so an evaluator can fix every problem
    shown in one pass instead of one per run.
    """

    def __init__(self, summary: str, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join([summary, *(f"  {p}" for p in problems)]))


class FetchError(DatasetError):
    """A download could not be made, or its bytes are not the published ones."""
