"""CPU time and memory of a server's process tree (a uvicorn supervisor and its workers)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of the process and every live descendant."""
    total = 0.0
    for process in _tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:  # noqa: PTH123 - /proc, Linux only
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    peak_rss_mb: float


def memory(pid: int) -> Memory:
    """Current and peak (VmHWM) resident memory, summed over the tree's processes that
    serve requests (a supervisor's few MB are included; they do not change the picture)."""
    processes = _tree(pid)
    rss = sum(_status_kib(p.pid, "VmRSS") for p in processes)
    peak = sum(_status_kib(p.pid, "VmHWM") for p in processes)
    return Memory(rss_mb=rss / 1024, peak_rss_mb=peak / 1024)


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh (Linux: writing 5 to clear_refs), so a peak is per scenario."""
    for process in _tree(pid):
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{process.pid}/clear_refs", "w") as refs,  # noqa: PTH123 - /proc
        ):
            refs.write("5")
