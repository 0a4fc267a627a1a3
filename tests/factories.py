"""factory_boy factories for every model; they build valid rows (all constraints satisfied).

Call `XFactory.create(...)` (typed: returns the model) rather than `XFactory(...)` (untyped).
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from calls.models import (
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    ApiKey,
    CallLog,
    CallStatus,
    hash_api_key,
)
from crm.models import (
    AuthorType,
    Broadcast,
    Campaign,
    Contact,
    Conversation,
    Direction,
    LeadStatus,
    LeadStatusChange,
    Message,
    MessageStatus,
    Role,
    Team,
    User,
)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.AGENT
    password = factory.django.Password("pw")


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)

    @factory.post_generation
    def supervisors(self, create, extracted, **kwargs):
        if create and extracted:
            self.supervisors.add(*extracted)


class CampaignFactory(factory.django.DjangoModelFactory[Campaign]):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaign {n}")
    is_active = True

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    name = factory.Faker("name")
    phone = factory.Sequence(lambda n: f"+4860{n:07d}")
    lead_status = LeadStatus.NEW


class LeadStatusChangeFactory(factory.django.DjangoModelFactory[LeadStatusChange]):
    class Meta:
        model = LeadStatusChange

    contact = factory.SubFactory(ContactFactory)
    from_status = LeadStatus.NEW
    to_status = LeadStatus.CONTACTED


class CallLogFactory(factory.django.DjangoModelFactory[CallLog]):
    """A completed, answered call of 2 minutes unless told otherwise."""

    class Meta:
        model = CallLog

    agent = factory.SubFactory(UserFactory)
    contact = factory.SubFactory(ContactFactory)
    phone_number = factory.LazyAttribute(lambda c: c.contact.phone if c.contact else "+48600000001")
    status = CallStatus.COMPLETED
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=10))
    answered_at = factory.LazyAttribute(lambda c: c.started_at + timedelta(seconds=10))
    ended_at = factory.LazyAttribute(lambda c: (c.answered_at or c.started_at) + timedelta(seconds=120))
    duration_seconds = 120


class AgentStatusPeriodFactory(factory.django.DjangoModelFactory[AgentStatusPeriod]):
    class Meta:
        model = AgentStatusPeriod

    agent = factory.SubFactory(UserFactory)
    status = AgentStatus.AVAILABLE
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ended_at = factory.LazyAttribute(lambda p: p.started_at + timedelta(minutes=30))


class AgentSessionFactory(factory.django.DjangoModelFactory[AgentSession]):
    class Meta:
        model = AgentSession

    agent = factory.SubFactory(UserFactory)
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    ended_at = factory.LazyAttribute(lambda s: s.started_at + timedelta(hours=1))


class ApiKeyFactory(factory.django.DjangoModelFactory[ApiKey]):
    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    name = "test key"
    prefix = factory.Sequence(lambda n: f"cb_{n:07d}")
    key_hash = factory.Sequence(lambda n: hash_api_key(f"cb_raw{n}"))


class ConversationFactory(factory.django.DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    """An inbound customer message in a conversation."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    contact = factory.SelfAttribute("conversation.contact")
    direction = Direction.INBOUND
    author_type = AuthorType.CUSTOMER
    status = MessageStatus.RECEIVED
    body = "Hello"
    twilio_sid = factory.Sequence(lambda n: f"SM{n:032d}")


class BroadcastFactory(factory.django.DjangoModelFactory[Broadcast]):
    class Meta:
        model = Broadcast

    name = factory.Sequence(lambda n: f"Broadcast {n}")
    body = "Our gym opens a new class on Monday!"
