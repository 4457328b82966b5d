"""Helpers for tests that watch real processes: is a pid alive, wait (bounded) for a condition."""

from __future__ import annotations

import time

import psutil


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, not yet reaped, counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(predicate, timeout, interval=0.02):
    """Polls ``predicate`` until it holds or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
