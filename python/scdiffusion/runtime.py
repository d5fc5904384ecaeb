"""Where computations run: the torch device, and on CPUs how many threads (a policy that adapts to other load)."""

from __future__ import annotations

import logging
import os
import time
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
"""Environment variable: a fixed number of CPU threads (like ``threads=``, ``--threads``)."""


def usable_cores() -> float:
    """Cores this process may really use: its CPU affinity, capped by a cgroup CPU quota (v2 or v1)."""
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = float(os.cpu_count() or 1)
    for quota_file, period_file in (("/sys/fs/cgroup/cpu.max", None),
                                    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")):
        try:
            text = Path(quota_file).read_text().split()
            quota, period = (text[0], text[1]) if period_file is None else (text[0], Path(period_file).read_text())
            if quota not in ("max", "-1") and float(quota) > 0:
                cores = min(cores, float(quota) / float(period))
        except (OSError, ValueError, IndexError):
            continue
    return max(cores, 1.0)


def _cpu_jiffies(cpus: set[int]) -> tuple[float, float]:
    """``(busy, total)`` jiffies of the given CPUs since boot (``/proc/stat``)."""
    busy = total = 0.0
    with open("/proc/stat") as fh:
        for line in fh:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *fields = line.split()
            if int(name[3:]) not in cpus:
                continue
            v = [float(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
            total += sum(v)
            busy += sum(v) - v[3] - v[4]
    return busy, total


class ThreadPolicy:
    """How many intra-op threads torch uses on the CPU, decided from what this process may really use.

    An explicit number (``threads=``, ``--threads``, ``$SCDIFFUSION_THREADS``, or ``$OMP_NUM_THREADS`` set by the
    user) is used as given. Otherwise the policy starts with every usable core (CPU affinity and cgroup quota,
    not the machine's core count) and, every ``interval`` seconds of work, measures how much of those cores
    *other* processes used meanwhile (``/proc/stat`` minus this process's own CPU time) and keeps only the idle
    ones: beside a busy process or another training it steps down instead of oversubscribing (torch's OpenMP
    threads then spin against each other and run 7–50× slower), and it steps back up when they finish.

    Parameters
    ----------
    threads
        A fixed number of threads, or ``None`` for the adaptive policy.
    interval
        Seconds between measurements.
    """

    def __init__(self, threads: int | None = None, interval: float = 2.0):
        self.cores = usable_cores()
        self.max_threads = max(1, int(self.cores))
        env = os.environ.get(THREADS_ENV) or (os.environ.get("OMP_NUM_THREADS") if threads is None else None)
        self.fixed = threads if threads is not None else (int(env) if env and env.isdigit() and int(env) > 0
                                                          else None)
        self.interval = float(interval)
        self.threads = self.fixed or self.max_threads
        self._last: tuple[float, float, float, float] | None = None
        self._others = 0.0
        self.changes = 0
        try:
            self._cpus = os.sched_getaffinity(0)
        except (AttributeError, OSError):  # pragma: no cover
            self._cpus = set(range(os.cpu_count() or 1))

    def describe(self) -> str:
        how = "fixed" if self.fixed else "adaptive: fewer while other processes use the cores"
        return f"{self.threads} CPU thread(s) ({how}; {self.cores:g} usable cores)"

    def apply(self) -> int:
        """Set torch's thread count to the current choice; returns it."""
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        return self.threads

    def tick(self) -> None:
        """Call often (every training or sampling step); measures and adapts at most every ``interval`` s."""
        if self.fixed or self.max_threads == 1:
            return
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.interval:
            return
        try:
            busy, total = _cpu_jiffies(self._cpus)
        except (OSError, ValueError):  # pragma: no cover - no /proc
            return
        own = time.process_time()
        if self._last is not None:
            _, busy0, total0, own0 = self._last
            if total > total0:
                span = (total - total0) / len(self._cpus)  # jiffies per CPU in the interval
                ticks = os.sysconf("SC_CLK_TCK")
                others = max(0.0, (busy - busy0) - (own - own0) * ticks) / span  # cores used by others
                self._others = 0.5 * self._others + 0.5 * others
                want = int(min(self.max_threads, max(1, round(self.cores - self._others))))
                if want != self.threads:
                    logger.info("CPU threads %d -> %d (other processes use %.1f of %g cores).", self.threads, want,
                                self._others, self.cores)
                    self.threads = want
                    self.changes += 1
                    self.apply()
        self._last = (now, busy, total, own)


_POLICY: ThreadPolicy | None = None


def thread_policy(threads: int | None = None) -> ThreadPolicy:
    """The process's thread policy (made on first use; a number given later fixes it); applied to torch."""
    global _POLICY
    if _POLICY is None or (threads is not None and _POLICY.fixed != threads):
        _POLICY = ThreadPolicy(threads)
        logger.info("Using %s.", _POLICY.describe())
    _POLICY.apply()
    return _POLICY


def set_threads(threads: int | None) -> ThreadPolicy:
    """Fix the number of CPU threads (``None``: back to the adaptive policy)."""
    global _POLICY
    if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
        raise InputError(f"threads must be a positive integer or None (adaptive), got {threads!r}.")
    _POLICY = None
    return thread_policy(None if threads is None else int(threads))


def tick_threads() -> None:
    """Let the process's thread policy (if one was made) measure and adapt; cheap enough for every step."""
    if _POLICY is not None:
        _POLICY.tick()
