"""The nightly batch on Dask: ``python -m matcher triage ... --engine dask [--scheduler ADDRESS]``.

:class:`DaskEngine` runs ``triage``'s blocks on a Dask cluster: a ``LocalCluster`` of
:data:`WORKERS` worker processes (one thread each, bound to 127.0.0.1, no dashboard) by
default, or the scheduler at ``--scheduler`` (whose workers must have this package
installed). The algorithm is ``matcher.triage``'s; this module only says where its blocks run.

* **The directory is scattered once**, to every worker (``broadcast``), and each task gets it
  by reference; the open-slot mask likewise, once per run. What is sent is the encoded
  directory without its display table (:func:`for_workers`), which no block reads.
* **Referrals are partitioned by state** (``triage.state_blocks``: a state's referrals in
  queue order, cut into blocks of ``triage.BLOCK``). Each block is one task that computes its
  referrals' shortlists on a worker sharing one ``Scope``; a shortlist is small and holds no
  reference to the directory, so only shortlists come back.
* **The assignment is solved per block, reconciled through the therapists licensed in
  several states.** Such a therapist can sit on the shortlists of referrals from several
  states, and its open slots are one pool: solving each state on its own would overbook it.
  So each tier's state blocks are joined through the therapists they share (the connected
  components of the referral-therapist graph, ``triage.assign_blocks``) and each joined
  component is solved as one exact min-cost matching, components in order of their first
  referral in queue order. The assignment is solved in the calling process: it is small
  (edges are shortlist x slots) and, with 30 % of the synthetic national directory licensed
  in a second state, the blocks join into one large component per tier anyway; shipping it
  to a worker would cost more than it saves. Because each component's input (its referrals in
  queue order, their shortlists, the remaining slots) does not depend on where or in which
  order the shortlists were computed, the result is the local engine's, and the output file
  is the same byte for byte (``tests/test_distributed.py``).
* **Outcomes** (the assigned therapist's full match) are built per block on the workers too.

Dask is imported only here, and only when an engine starts: the app and the local engine do
not need it (``pip install -e '.[scale]'`` brings it).
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import numpy as np

from matcher.directory import Directory

WORKERS = 2  # a LocalCluster's worker processes: this project's machines have two cores
CONNECT_TIMEOUT_S = 10.0  # how long to wait for a scheduler given by address

R = TypeVar("R")
T = TypeVar("T")


class EngineUnavailable(Exception):
    """The Dask engine cannot start: Dask is not installed or no scheduler answered."""


class DaskEngine:
    """Runs ``triage``'s blocks on Dask; a context manager that starts and stops the cluster.

    ``scheduler``: an address such as ``tcp://10.0.0.5:8786``; None starts a ``LocalCluster``
    of ``workers`` processes on 127.0.0.1.
    """

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int = WORKERS,
        timeout: float | None = None,  # CONNECT_TIMEOUT_S
    ) -> None:
        self.scheduler, self.workers = scheduler, workers
        self.timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
        self._cluster: Any = None
        self._client: Any = None
        self._directory: Directory | None = None
        self._directory_future: Any = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` while the engine runs (e.g. to ask workers for their CPU)."""
        if self._client is None:
            raise RuntimeError("the Dask engine is not running; use it in a with block")
        return self._client

    def __enter__(self) -> DaskEngine:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise EngineUnavailable(
                "the Dask engine needs Dask: pip install -e '.[scale]'"
            ) from error
        if self.scheduler is None:
            # Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which also turns off glibc's
            # adaptive mmap threshold: every temporary over 128 kB (a mask over a state's rows)
            # is then mapped and unmapped afresh, and scoring ran at half speed on the workers
            # (measured: the same block 1.2 s CPU in this process, 2.7 s on a worker).
            environ = {
                name: value
                for name, value in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                if name != "MALLOC_TRIM_THRESHOLD_"
            }
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    # Workers still heartbeating while the scheduler closes log an ERROR with
                    # a traceback (seen at the end of a 50k run); a task that fails or a
                    # worker that dies reaches this process as an exception all the same.
                    silence_logs=logging.CRITICAL,
                )
            self._client = Client(self._cluster)
            return self
        try:
            self._client = Client(self.scheduler, timeout=self.timeout)
        except (OSError, ValueError, TypeError) as error:  # refused, timed out, bad address
            raise EngineUnavailable(
                f"no Dask scheduler answered at {self.scheduler} ({error})"
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        self._directory = self._directory_future = None

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        directory: Directory,
        **common: Any,
    ) -> Iterator[tuple[int, R]]:
        """``(i, fn(items[i], directory=directory, **common))`` as the tasks finish."""
        from distributed import as_completed

        client = self.client
        if self._directory is not directory:  # scattered once, however many maps use it
            self._directory_future = client.scatter(
                for_workers(directory), broadcast=True, hash=False
            )
            self._directory = directory
        shared = {
            name: client.scatter(value, broadcast=True, hash=False)
            if isinstance(value, np.ndarray)
            else value
            for name, value in common.items()
        }
        # Each block travels as one opaque value: Dask would otherwise walk into the list.
        parcels = client.scatter([_Parcel(item) for item in items], hash=False)
        futures = client.map(
            _unwrap, parcels, fn=fn, directory=self._directory_future, pure=False, **shared
        )
        position = {future.key: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            yield position[future.key], future.result().item
            future.release()


def for_workers(directory: Directory) -> Directory:
    """The directory without its display table, which only the app's pages read (scoring,
    facts and matches read the encoded arrays): at 1M therapists 0.8 of the 1.2 GB to send."""
    return dataclasses.replace(directory, table=directory.table.iloc[:0])


class _Parcel(Generic[T]):
    """One block, or one block's results, sent as one pickled value.

    Dask would otherwise walk into a list, and it sends every numpy array inside a value as a
    frame of its own: a block's 250 shortlists hold 1,250 small arrays, and 50,000 referrals'
    shortlists took 16.3 s to scatter at 50k x 1M, against 8.8 s as one value per block."""

    __slots__ = ("item",)

    def __init__(self, item: T) -> None:
        self.item = item

    def __getstate__(self) -> bytes:
        return pickle.dumps(self.item, protocol=pickle.HIGHEST_PROTOCOL)  # arrays in-band

    def __setstate__(self, state: bytes) -> None:
        self.item = pickle.loads(state)  # from this engine's own processes, as Dask's own pickles


def _unwrap(parcel: _Parcel[Any], *, fn: Callable[..., R], **kwargs: Any) -> _Parcel[R]:
    return _Parcel(fn(parcel.item, **kwargs))
