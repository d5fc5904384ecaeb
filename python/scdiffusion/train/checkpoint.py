"""Resumable training checkpoints: weights, EMA, optimiser, step, RNG state and history.

Written with ``torch.save`` to a temporary file and renamed (atomic); read with
``torch.load(weights_only=True)``, so a planted checkpoint cannot execute code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_file_atomic
from ..errors import InputError


class Checkpointer:
    """Saves and restores the state of one training stage every ``every`` steps.

    Parameters
    ----------
    path
        File of this stage's checkpoint.
    every
        Steps between checkpoints.
    """

    def __init__(self, path: str | os.PathLike, every: int = 200):
        if every < 1:
            raise InputError(f"checkpoint_every must be >= 1, got {every}.")
        self.path = Path(path)
        self.every = int(every)

    def save(self, state: dict[str, Any]) -> None:
        save_atomic(state, self.path)

    def load(self) -> dict[str, Any] | None:
        return load_checkpoint(self.path) if self.path.exists() else None


def save_atomic(state: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file, renamed into place."""
    write_file_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise InputError(
            f"Checkpoint '{path}' is corrupted or holds objects other than tensors and plain values "
            f"({type(err).__name__}); delete it to restart that training stage."
        ) from err
