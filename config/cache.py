"""Django's Redis cache with one client per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and each one fills its own
table of about 170 response callbacks: a dashboard request's seven cache calls spent about 2.5 ms on
that alone. A `redis.Redis` is safe to share between threads (each command borrows a connection from
the pool), so one per pool serves every call; the pools are Django's, unchanged.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its private helpers are not in django-stubs
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django_client._get_connection_pool(write)
            client = self._clients[index] = django_client._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


def claim(cache: Any, key: str, seconds: float) -> bool:
    """Set `key` only if absent, for `seconds` (sub-second too); True when this caller set it.

    `cache` is a backend (`caches["default"]`), not the `django.core.cache.cache` proxy.

    Django's cache API takes whole seconds (0 deletes at once), so on Redis this is `SET NX PX`; the
    local-memory cache keeps float expiry times and takes `add` as it is. Atomic on both.
    """
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full_key, write=True)  # type: ignore[attr-defined]
        return bool(client.set(full_key, b"1", nx=True, px=max(1, int(seconds * 1000))))
    return bool(cache.add(key, 1, timeout=seconds))
