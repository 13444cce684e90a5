"""Worker pools for the data-making jobs (synthesis, feature banks): ``job_pool(workers, n_jobs, initializer)``
gives a process pool, or None where one process does the work, stopped at once when its block is interrupted."""
from __future__ import annotations

import contextlib
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
    pool = ctx.Pool(workers, initializer=initializer) if workers > 1 and n_jobs > 1 else None
    try:
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
