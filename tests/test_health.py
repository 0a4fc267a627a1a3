"""The serving stack works on whatever the settings chose: database, cache and channel layer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache

from config.asgi import application

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_cache(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_cache_round_trip_uses_the_configured_backend():
    from django.core.cache import caches

    expected = "RedisCache" if settings.REDIS_URL else "LocMemCache"
    assert type(caches["default"]).__name__ == expected
    cache.set("k", {"n": 1}, 10)
    assert cache.get("k") == {"n": 1}


def test_channel_layer_round_trip_uses_the_configured_backend():
    layer = get_channel_layer()
    expected = {"pubsub": "RedisPubSubChannelLayer", "core": "RedisChannelLayer"}
    assert type(layer).__name__ == (expected[settings.CHANNELS_LAYER] if settings.REDIS_URL else "InMemoryChannelLayer")

    async def round_trip():
        channel = await layer.new_channel()
        await layer.group_add("health-test", channel)
        await layer.group_send("health-test", {"type": "x.y", "n": 7})
        message = await layer.receive(channel)
        await layer.group_discard("health-test", channel)
        return message

    assert async_to_sync(round_trip)() == {"type": "x.y", "n": 7}


def test_websocket_health_ping_goes_through_the_channel_layer():
    async def ping():
        communicator = WebsocketCommunicator(
            application, "/ws/health/", headers=[(b"origin", b"http://127.0.0.1:8000")]
        )
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"type": "ping"})
        reply = await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "nonsense"})
        error = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return reply, error

    reply, error = async_to_sync(ping)()
    assert reply["type"] == "pong"
    assert error == {"type": "error", "detail": 'Send {"type": "ping"}.'}


def test_websocket_from_a_foreign_origin_is_refused():
    async def connect():
        communicator = WebsocketCommunicator(application, "/ws/health/", headers=[(b"origin", b"http://evil.example")])
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(connect)() is False
