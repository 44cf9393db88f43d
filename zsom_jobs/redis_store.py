"""The store in Redis: what several web processes and Celery workers, on any machines, share.

``RedisStore`` is ``store.KeyValueStore`` over ``RedisCache``, a small cache with
diskcache's methods: values in ``codec``'s format (never a pickle), every entry but the
job slots with Redis's own expiry (so a ``maxmemory-policy`` of ``volatile-ttl`` drops
the entries written longest ago, never the slots), a run's entries listed in a set per
tag, and a block made atomic by a Redis lock per scope (a session, or the job slots),
reentrant in its thread.
A Redis that cannot be reached is ``StoreUnavailable``, with the URL's password left out.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import redis

from .codec import DecodeError, decode, encode
from .redis_url import checked, redacted
from .store import DEFAULT_TTL_S, KeyValueStore, StoreUnavailable

# A lock's holder that died frees it after LOCK_TIMEOUT_S; a block waits at most
# LOCK_WAIT_S for one (every block of the store takes a few milliseconds).
LOCK_TIMEOUT_S = 10.0
LOCK_WAIT_S = 15.0
LOCK_SLEEP_S = 0.002
SOCKET_TIMEOUT_S = 5.0


def connect(url: str) -> redis.Redis:
    """A client for ``url`` (``redis://[:password@]host:port/db``), or ``ValueError`` saying
    what is wrong with the URL (never repeating its password)."""
    url = checked(url)
    try:
        return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S,
                                    health_check_interval=30)
    except ValueError:  # a malformed port, an unknown option
        raise ValueError(f"not a Redis URL: {redacted(url)!r}") from None


class RedisCache:
    """diskcache's ``get``, ``set``, ``delete``, ``evict``, ``cull`` and ``close`` on a Redis server."""

    def __init__(self, client: redis.Redis, url: str):
        self.client = client
        self.where = redacted(url)
        self._held = threading.local()

    @contextmanager
    def reachable(self):
        """Turn Redis's connection errors into ``StoreUnavailable``: what the page reports."""
        try:
            yield
        except redis.AuthenticationError:  # a ConnectionError too: first
            raise StoreUnavailable(f"the store at {self.where} refused the password") from None
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise StoreUnavailable(f"the store at {self.where} cannot be reached ({type(error).__name__})") from None

    def get(self, key: str, default=None):
        with self.reachable():
            data = self.client.get(key)
        if data is None:
            return default
        try:
            return decode(data)
        except DecodeError:
            return default  # damaged, or not written by this store: as if absent

    def set(self, key: str, value, expire: float | None = None, tag: str | None = None) -> None:
        data = encode(value)
        with self.reachable():
            pipe = self.client.pipeline(transaction=False)
            pipe.set(key, data, px=None if expire is None else max(1, int(expire * 1000)))
            if tag is not None:
                pipe.sadd(_tag_key(tag), key)
                if expire is not None:
                    pipe.pexpire(_tag_key(tag), max(1, int(expire * 1000)))
            pipe.execute()

    def delete(self, key: str) -> bool:
        with self.reachable():
            return bool(self.client.delete(key))

    def evict(self, tag: str) -> int:
        """Delete every entry stored with ``tag``; returns how many were there."""
        with self.reachable():
            keys = self.client.smembers(_tag_key(tag))
            return self.client.unlink(*keys, _tag_key(tag)) - 1 if keys else 0

    def cull(self) -> int:
        return 0  # Redis drops expired entries itself, and maxmemory the rest

    @contextmanager
    def transact(self, scope: str):
        """Hold the lock of ``scope`` meanwhile (taken once per thread however deep)."""
        held = self._held.__dict__
        if scope in held:
            yield
            return
        lock = self.client.lock(f"zsom/lock/{scope}", timeout=LOCK_TIMEOUT_S, sleep=LOCK_SLEEP_S,
                                blocking_timeout=LOCK_WAIT_S, thread_local=False)
        with self.reachable():
            if not lock.acquire():
                raise StoreUnavailable(f"the store at {self.where} is too busy (no lock within {LOCK_WAIT_S:g} s)")
        held[scope] = lock
        try:
            yield
        finally:
            del held[scope]
            try:
                with self.reachable():
                    lock.release()
            except redis.exceptions.LockError:
                pass  # it outlived LOCK_TIMEOUT_S and lapsed: nothing left to release

    def ping(self) -> None:
        with self.reachable():
            self.client.ping()

    def close(self) -> None:
        self.client.close()


def _tag_key(tag: str) -> str:
    return f"zsom/tag/{tag}"


class RedisStore(KeyValueStore):
    """``seams.Store`` in Redis at ``url``; entries expire ``ttl`` seconds after they were written.

    Every web process shares it, so none names itself (``server_id`` None): no web
    process's stop interrupts a run, and a worker's runs are watched by their slot's lease.
    """

    def __init__(self, url: str, *, ttl: float = DEFAULT_TTL_S):
        super().__init__(RedisCache(connect(url), url), ttl=ttl, server_id=None)

    def _transact(self, scope: str):
        return self.cache.transact(scope)

    def ping(self) -> None:
        """``StoreUnavailable`` unless the server answers (and takes the password)."""
        self.cache.ping()
