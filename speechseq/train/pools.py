"""Worker pools for the data-making jobs (synthesis, feature banks): ``job_pool(workers, n_jobs, initializer)``
gives a process pool, or None where one process does the work, stopped at once when its block is interrupted."""
from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator

__all__ = ["job_pool", "quiet_worker"]


def quiet_worker() -> None:
    """A pool worker's initializer: Ctrl+C reaches the whole process group, and the main process alone stops the
    pool (a worker that took it died with a traceback, or took a handler forked from the main process's training
    loop, and the pool hung); the pool's terminate() then ends a worker quietly by SIGTERM's default."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def job_pool(workers: int, n_jobs: int, initializer: Callable[[], None]) -> Iterator["multiprocessing.pool.Pool | None"]:
    """A pool of `workers` processes (forked where the system can) for `n_jobs` jobs, None for one worker or one
    job. A block ended by an exception (Ctrl+C, SIGTERM) terminates the pool at once: close() and join() would
    wait for every job, or hang on jobs whose workers are gone. `initializer` runs in each worker; the workers
    should leave SIGINT to the main process (it reaches the whole process group)."""
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    pool = None
    try:
        if workers > 1 and n_jobs > 1:
            # Ctrl+C blocked while the workers start, until their initializer has run: a worker forked with the main
            # process's handler died with a traceback if Ctrl+C came before it. One meanwhile reaches the main
            # process when its mask is restored, and the pool is terminated below.
            mask = _block_sigint()
            try:
                pool = ctx.Pool(workers, initializer=functools.partial(_start_worker, initializer))
            finally:
                _restore_sigmask(mask)
        yield pool
    except BaseException:
        if pool is not None:
            pool.terminate()
            pool.join()
            pool = None
        raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _block_sigint() -> "set | None":
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None


def _restore_sigmask(mask: "set | None") -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _start_worker(initializer: Callable[[], None]) -> None:
    """A worker's start: its initializer with Ctrl+C still blocked (as the main process forked it), then unblocked."""
    initializer()
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
