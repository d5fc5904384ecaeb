"""Where computations run: the torch device, and on CPUs how many threads (one count, fixed for the run)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from .errors import InputError

logger = logging.getLogger(__name__)


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


def autocast(device: torch.device | str, enabled: bool = True):
    """bfloat16 autocast for forward passes on ``device`` (CUDA or CPU); a no-op context when not enabled.

    Losses, likelihoods and the samplers' arithmetic are kept in float32 by their callers (``.float()``)."""
    device = torch.device(device)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bool(enabled))


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU random generator: draws made from it are the same on every device."""
    return torch.Generator(device="cpu").manual_seed(int(seed))


# ---------------------------------------------------------------------------------------------- CPU threads
THREADS_ENV = "SCDIFFUSION_THREADS"
"""Environment variable: the number of CPU threads (like ``threads=``, ``--threads``, R's ``scDiffusion.threads``)."""

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
"""OpenMP's wait policy; :mod:`scdiffusion` sets it to ``PASSIVE`` (unless the user set it) before torch loads."""

_AUTO = ("", "auto", "0")


def parse_threads(value: object, source: str = "threads") -> int | None:
    """The one rule for a thread setting, on every surface (Python, CLI, environment, R).

    ``None``, ``""``, ``"auto"`` or ``0`` mean automatic (every usable core); a positive whole number fixes the
    count; anything else is an :class:`~scdiffusion.errors.InputError` that names ``source``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"{source} must be a positive whole number, or 0 / 'auto' for every usable core; "
                         f"got {value!r}.")
    text = str(value).strip().lower()
    if text in _AUTO or (isinstance(value, (int, float)) and value == 0):
        return None
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < 1:
        raise InputError(f"{source} must be a positive whole number, or 0 / 'auto' for every usable core; "
                         f"got {value!r}.")
    return int(number)


def usable_cores(cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> float:
    """Cores this process may really use: its CPU affinity, capped by a cgroup CPU quota (v2 or v1).

    This depends on the machine and on how the process was started, never on other load, so a run's thread
    count (and so its arithmetic) is the same whenever it is repeated on the same machine.
    """
    root = Path(cgroup_root)
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = float(os.cpu_count() or 1)
    for quota_file, period_file in ((root / "cpu.max", None),
                                    (root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us")):
        try:
            text = quota_file.read_text().split()
            quota, period = (text[0], text[1]) if period_file is None else (text[0], period_file.read_text())
            if quota not in ("max", "-1") and float(quota) > 0 and float(period) > 0:
                cores = min(cores, float(quota) / float(period))
        except (OSError, ValueError, IndexError):
            continue
    return max(cores, 1.0)


class ThreadPolicy:
    """How many intra-op threads torch uses on the CPU: one number, fixed for the whole run.

    The first of: ``threads`` (``threads=``, ``--threads``, R's ``options(scDiffusion.threads)``),
    ``$SCDIFFUSION_THREADS``, ``$OMP_NUM_THREADS``, and otherwise every usable core (CPU affinity and cgroup
    quota: :func:`usable_cores`). The count never follows other load: torch's CPU kernels split sums by thread,
    so a count that changed with load would make the same command train a different model. Sharing cores stays
    cheap because OpenMP's threads wait passively (``OMP_WAIT_POLICY=PASSIVE``, set by :mod:`scdiffusion` before
    torch loads): beside another job they sleep instead of spinning against it.

    Parameters
    ----------
    threads
        A fixed number of threads, or ``None`` (0, ``"auto"``) for the rule above.

    Attributes
    ----------
    threads
        The count in force.
    fixed
        The count the user asked for, or ``None`` when it came from the usable cores.
    source
        Where the count came from, for the log and the model's record.
    """

    def __init__(self, threads: int | str | None = None):
        self.cores = usable_cores()
        self.fixed = parse_threads(threads)
        self.source = "threads"
        if self.fixed is None:
            for env in (THREADS_ENV, "OMP_NUM_THREADS"):
                self.fixed = parse_threads(os.environ.get(env), f"${env}")
                if self.fixed is not None:
                    self.source = f"${env}"
                    break
        if self.fixed is None:
            self.source = "usable cores"
        self.threads = self.fixed or max(1, int(self.cores))

    def describe(self) -> str:
        return (f"{self.threads} CPU thread(s) (from {self.source}; {self.cores:g} usable cores; fixed for the run, "
                f"OpenMP wait policy {os.environ.get(WAIT_POLICY_ENV, 'default')})")

    def apply(self) -> int:
        """Set torch's thread count to this policy's; returns it."""
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        return self.threads


_POLICY: ThreadPolicy | None = None


def thread_policy(threads: int | str | None = None) -> ThreadPolicy:
    """The process's thread policy (made on first use; a number given later fixes it); applied to torch."""
    global _POLICY
    wanted = parse_threads(threads)
    if _POLICY is None or (wanted is not None and _POLICY.fixed != wanted):
        _POLICY = ThreadPolicy(wanted)
        logger.info("Using %s.", _POLICY.describe())
    _POLICY.apply()
    return _POLICY


def set_threads(threads: int | str | None) -> ThreadPolicy:
    """Fix the number of CPU threads (``None``, 0 or ``"auto"``: back to the automatic count)."""
    global _POLICY
    wanted = parse_threads(threads)
    _POLICY = None
    return thread_policy(wanted)
