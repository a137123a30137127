"""Change tokens per county, pushed to each worker with LISTEN/NOTIFY.

The caches of built answers (vector tiles, OGC feature pages, region
summaries; one byte-bounded LRU per worker process) are keyed by the change
tokens of the counties an answer covers (migration 0014, ``region_change``):
a write in one county leaves every other county's cached answers valid.

What an answer covers
    A tile: the counties whose bounding boxes meet the tile with its buffer,
    plus ``''`` (rows outside their county's box) and ``'*'`` (boundaries).
    A region's summary or a region-filtered page: the counties under the
    region's code prefix, plus ``'*'``.  Anything else: every key.  The key of
    a cache entry is a hash of the covered keys' ``(key, token)`` pairs
    (:func:`combine`).

How a worker knows the tokens
    One thread per worker process (:class:`RegionTokens`) holds a connection
    to the PRIMARY (NOTIFY is not delivered on a streaming standby), LISTENs on
    ``region_change``, loads every token and every county box, and on each
    notification re-reads the tokens of the keys named in it (all of them, and
    the boxes, for ``'*'``).  A request then answers a 304 or a cache hit from
    memory, without a round trip.  While the listener is not connected and
    loaded (starting, database restart, network) the worker reads the tokens
    it needs from the database on every request instead: slower, never stale.
    A notification is delivered after its commit, so a request arriving within
    that instant in another worker may still be answered from the previous
    state, as if it had arrived just before the commit.  In the worker that
    wrote, a request that may have written (any method but GET, HEAD and
    OPTIONS) waits before answering until the listener has heard everything
    committed so far (:meth:`RegionTokens.barrier`), so the writer's next
    request there sees its own write.

The invariant
    **An answer built from the database is cached, and given an ETag, only
    under the tokens read from the same database in the same snapshot as its
    data** (the tile statement and the OGC page statement carry the tokens as
    one more column; the multi-statement summary reads them first, in the
    same transaction, so they are never newer than its data).  The tokens
    pushed from the primary are used only to LOOK UP an answer, never to store
    one: when the data was read from a replica that has not yet replayed the
    latest change, the answer is served fresh but stored under the older
    tokens it really reflects, so nothing is ever cached under a token newer
    than its data.  A tile keyed by county boxes is cached only when the
    snapshot's ``'*'`` token is the one the boxes were read with (otherwise
    the boxes may be out of date and the answer is served uncached).
"""

from __future__ import annotations

import hashlib
import logging
import os
import select
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from psycopg2 import Error as _DBAPIError  # the installed driver (psycopg2-binary, see db.py)
from sqlalchemy.pool import NullPool

from .queries.changes import EVERYTHING, STRAY, Selection, boxes_select, tokens_select

__all__ = ["BARRIER_CHANNEL", "CHANNEL", "Boxes", "RegionTokens", "combine", "pick"]

LOGGER = logging.getLogger(__name__)

CHANNEL = "region_change"
BARRIER_CHANNEL = "region_change_barrier"
EPS = 1e-6  # degrees added around each box: float rounding never drops a county
KEEPALIVE_S = 10.0  # an idle listener checks its connection this often
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class Boxes:
    """The bounding boxes (WGS84 degrees) of the 6-digit regions, as of ``'*'`` token ``star``."""

    star: int
    boxes: tuple[tuple[str, float, float, float, float], ...]

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> Boxes:
        star, boxes = 0, []
        for row in rows:
            star = int(row[0])
            if row[1] is not None:
                boxes.append((str(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5])))
        return cls(star, tuple(sorted(boxes)))

    def keys_for(self, west: float, south: float, east: float, north: float) -> tuple[str, ...]:
        """The keys covering an area: the regions whose boxes meet it, ``''`` and ``'*'``.

        >>> b = Boxes(0, (("532501", 103.0, 23.0, 103.5, 24.0), ("532502", 103.5, 23.0, 104.0, 24.0)))
        >>> b.keys_for(103.1, 23.1, 103.2, 23.2), b.keys_for(103.4, 23.1, 103.6, 23.2)
        (('532501', '', '*'), ('532501', '532502', '', '*'))
        """
        hit = tuple(code for code, w, s, e, n in self.boxes
                    if w - EPS <= east and e + EPS >= west and s - EPS <= north and n + EPS >= south)
        return hit + (STRAY, EVERYTHING)


def combine(tokens: Mapping[str, int]) -> str:
    """One short key for a set of ``(key, token)`` pairs, whatever their order;
    keys never changed (token 0 or absent) do not count.

    >>> combine({"532501": 3, "*": 1}) == combine({"*": 1, "532501": 3, "532502": 0})
    True
    >>> combine({"532501": 3}) == combine({"532501": 4})
    False
    """
    text = ",".join(f"{k}={int(v)}" for k, v in sorted(tokens.items()) if int(v))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def pick(tokens: Mapping[str, int], selection: Selection) -> dict[str, int]:
    """The tokens of ``selection`` out of a worker's full map (as
    :func:`~geo_service.queries.changes.tokens_select` reads them from the database).

    >>> t = {"532501": 3, "532502": 5, "533101": 7, "": 2, "*": 1}
    >>> pick(t, "5325"), pick(t, ("533101", "", "*"))
    ({'532501': 3, '532502': 5, '*': 1}, {'533101': 7, '': 2, '*': 1})
    """
    if selection is None:
        return dict(tokens)
    if isinstance(selection, str):
        return {k: v for k, v in tokens.items() if (k.startswith(selection) and k) or k == EVERYTHING}
    return {k: tokens[k] for k in selection if k in tokens}


@dataclass(frozen=True)
class _State:
    tokens: dict[str, int]
    boxes: Boxes


class RegionTokens:
    """This worker process's view of the change tokens, kept by a listener thread.

    Parameters
    ----------
    url
        The PRIMARY database (never a replica: NOTIFY is not delivered there).
    """

    def __init__(self, url: sa.URL | str) -> None:
        self._engine = sa.create_engine(
            url, poolclass=NullPool,
            connect_args={"connect_timeout": 5, "application_name": "geo-service-tokens",
                          "options": "-c statement_timeout=10000"})
        self._state: _State | None = None  # None: not listening (requests read the database)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._conn: Any = None
        self._loaded = False
        self._barriers: dict[str, threading.Event] = {}
        self._wake_r, self._wake_w = os.pipe()  # stop() wakes the thread out of select()
        self.notifications = 0  # notifications applied (tests, logs)

    # ------------------------------------------------------------------ reading

    @property
    def listening(self) -> bool:
        """Whether the listener is connected and its tokens loaded."""
        return self._state is not None

    def tokens(self, selection: Selection) -> dict[str, int] | None:
        """The tokens of ``selection`` from memory; None when not listening."""
        state = self._state
        return None if state is None else pick(state.tokens, selection)

    def boxes(self) -> Boxes | None:
        """The county boxes known from memory; None when not listening."""
        state = self._state
        return None if state is None else state.boxes

    def barrier(self, engine: sa.Engine, timeout_s: float = 2.0) -> bool:
        """Wait until this listener has applied every change committed before the
        call (a request's own write, so that the next request in this worker sees
        it): a notification on a second channel, committed now, arrives after
        all of them.  False when not listening or not heard within ``timeout_s``."""
        if not self.listening:
            return False
        token, done = uuid.uuid4().hex, threading.Event()
        self._barriers[token] = done
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_notify(:channel, :token)"),
                             {"channel": BARRIER_CHANNEL, "token": token})
                conn.commit()
            return done.wait(timeout_s)
        finally:
            self._barriers.pop(token, None)

    # ------------------------------------------------------------------ the thread

    def ensure_started(self) -> None:
        """Start the listener in this process (again after a fork: threads do not survive one)."""
        if self._pid == os.getpid():
            return  # started in this process (the thread reconnects by itself; stop() is final)
        self._pid = os.getpid()
        self._state = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="region-token-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening for good in this process (requests fall back to reading the database)."""
        self._stop.set()
        self._state = None
        os.write(self._wake_w, b"x")
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def dispose(self) -> None:
        self.stop()
        self._engine.dispose()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            self._loaded = False
            try:
                self._listen()
            except (sa.exc.SQLAlchemyError, OSError, _DBAPIError) as err:  # reconnect, never die
                LOGGER.warning("change-token listener on %r lost (%s); requests read the tokens meanwhile",
                               self._engine.url, err)
            finally:
                self._state = None
                self._close()
            # after a connection that worked, try again soon; while the database is away, less and less often
            backoff = 0.5 if self._loaded else min(backoff * 2, MAX_BACKOFF_S)
            self._stop.wait(backoff)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except _DBAPIError:
                pass

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        conn = raw.driver_connection
        self._conn = raw
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"LISTEN {CHANNEL}; LISTEN {BARRIER_CHANNEL}")  # before loading: no change can fall between
        self._state = self._load(cur)
        self._loaded = True
        LOGGER.info("change-token listener on %r: %d keys, %d region boxes", self._engine.url,
                    len(self._state.tokens), len(self._state.boxes.boxes))
        while not self._stop.is_set():
            if not conn.notifies:  # (a query of ours may have brought some in already)
                ready, _, _ = select.select([conn, self._wake_r], [], [], KEEPALIVE_S)
                if self._stop.is_set():
                    return
                if not ready:
                    cur.execute("SELECT 1")  # a dead connection fails here rather than waiting forever
                    continue
                conn.poll()
            notes = list(conn.notifies)
            conn.notifies.clear()
            payloads = {n.payload for n in notes if n.channel == CHANNEL}
            if payloads:
                self._apply(cur, payloads)
            # notifications arrive in commit order: a barrier comes after every change committed before it
            for n in notes:
                if n.channel == BARRIER_CHANNEL and (done := self._barriers.get(n.payload)) is not None:
                    done.set()

    def _load(self, cur: Any) -> _State:
        """Every token and every box, in one snapshot."""
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cur.execute(*_compiled(tokens_select(None)))
            tokens = {str(code): int(token) for code, token in cur.fetchall()}
            cur.execute(*_compiled(boxes_select()))
            boxes = Boxes.from_rows(cur.fetchall())
        finally:
            cur.execute("COMMIT")
        return _State(tokens, boxes)

    def _apply(self, cur: Any, payloads: set[str]) -> None:
        keys = {k for p in payloads for k in p.split(",")}
        if EVERYTHING in keys:
            self._state = self._load(cur)
        else:
            cur.execute(*_compiled(tokens_select(tuple(sorted(keys)))))
            fresh = {str(code): int(token) for code, token in cur.fetchall()}
            state = self._state
            if state is None:  # stopping
                return
            tokens = dict(state.tokens)
            for k, v in fresh.items():
                tokens[k] = max(v, tokens.get(k, 0))  # tokens only grow
            self._state = _State(tokens, state.boxes)
        self.notifications += len(payloads)


def _compiled(stmt: Any) -> tuple[str, dict[str, Any]]:
    """A statement as psycopg2 text and parameters (the listener uses its raw connection)."""
    from sqlalchemy.dialects import postgresql

    c = stmt.compile(dialect=postgresql.psycopg2.dialect(), compile_kwargs={"render_postcompile": True})
    return str(c), dict(c.params)

