from django.urls import path

from analytics.consumers import DashboardConsumer
from config.consumers import HealthConsumer

websocket_urlpatterns = [
    path("ws/health/", HealthConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
