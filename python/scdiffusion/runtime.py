"""Where computations run: the torch device (and, for CPUs, how many threads)."""

from __future__ import annotations

import torch

from .errors import InputError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is checked for availability."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise InputError(f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"Device {device!r} was requested but CUDA is not available; use --device cpu or auto.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"Device {device!r} was requested but MPS is not available; use --device cpu or auto.")
    return dev


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU random generator: draws made from it are the same on every device."""
    return torch.Generator(device="cpu").manual_seed(int(seed))
