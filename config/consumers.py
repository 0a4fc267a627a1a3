from channels.generic.websocket import AsyncJsonWebsocketConsumer


class HealthConsumer(AsyncJsonWebsocketConsumer):
    """`ws/health/`: answers {"type": "ping"} with a round trip through the channel layer.

    Lets an operator (and the tests) check that the WebSocket stack and the configured channel layer
    (in-memory or Redis) both work, without logging in.
    """

    async def connect(self) -> None:
        await self.accept()

    async def receive_json(self, content, **kwargs):
        if content.get("type") != "ping":
            await self.send_json({"type": "error", "detail": 'Send {"type": "ping"}.'})
            return
        await self.channel_layer.send(self.channel_name, {"type": "health.pong"})

    async def health_pong(self, event):
        await self.send_json({"type": "pong", "channel_layer": type(self.channel_layer).__name__})
