"""Deterministic demo data for `manage.py seed_demo`.

Everything is drawn from one `random.Random(seed)` and placed relative to "now" in settings.TIME_ZONE,
so a given seed and instant always produce the same rows and the demo always shows a live "today".
Local wall-clock times (shift starts, lunch at midnight) are built with zoneinfo and converted to UTC
at once; every duration is added in UTC, so DST days come out 23 or 25 hours long (METRICS.md "Time").

The rows obey the metric definitions: an agent's status periods form one gap-free timeline whose only
open period is the current one, each call sits in an `on_call` period followed by a `wrap_up` period
as long as its `wrap_up_seconds`, sessions cover exactly the non-offline stretches, lead status
histories chain from '' → new to the contact's current status, and FRT is measured from the later of
creation and bot hand-off. Scheduled callbacks (`callback_at`) are the only timestamps after "now".
"""

from __future__ import annotations

import math
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from analytics.rollups import rebuild_rollups
from calls.models import (
    AgentSession,
    AgentStatus,
    AgentStatusPeriod,
    BreakReason,
    CallDirection,
    CallLog,
    CallOutcome,
    CallStatus,
    RecordSource,
    SessionEndReason,
)
from crm.models import (
    AuthorType,
    AutoReplyRule,
    Broadcast,
    BroadcastStatus,
    BusinessReason,
    Campaign,
    Channel,
    Contact,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Direction,
    LeadStatus,
    LeadStatusChange,
    Message,
    MessageStatus,
    Priority,
    Role,
    SenderStatus,
    Team,
    User,
    WhatsAppSender,
)

BATCH_SIZE = 2000
CONTACTS_PER_AGENT = 250
OUR_WHATSAPP_NUMBER = "+48222900100"  # the default sender: customer care and broadcasts
RENEWALS_WHATSAPP_NUMBER = "+48222900200"  # the second sender: the mixed voice + WhatsApp campaign
DEMO_EMAIL_DOMAIN = "callboard.example"

# Models the demo writes, in the order they can be deleted (children first).
DEMO_MODELS: tuple[type[models.Model], ...] = (
    Message,
    Broadcast,
    WhatsAppSender,
    Conversation,
    CallLog,
    AgentStatusPeriod,
    AgentSession,
    LeadStatusChange,
    Contact,
    AutoReplyRule,
    Campaign,
    Team,
    User,
)

# --- Names and texts ---------------------------------------------------------------------------------

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pl": (
        (
            "Anna",
            "Katarzyna",
            "Magdalena",
            "Agnieszka",
            "Zofia",
            "Marta",
            "Joanna",
            "Ewa",
            "Aleksandra",
            "Piotr",
            "Krzysztof",
            "Tomasz",
            "Paweł",
            "Michał",
            "Jakub",
            "Marcin",
            "Łukasz",
            "Wojciech",
        ),
        (
            "Nowak",
            "Wójcik",
            "Kowalczyk",
            "Woźniak",
            "Mazur",
            "Krawczyk",
            "Kaczmarek",
            "Zając",
            "Król",
            "Wieczorek",
            "Wróbel",
            "Dudek",
            "Adamczyk",
            "Pawlak",
            "Sikora",
            "Walczak",
            "Baran",
            "Michalak",
        ),
    ),
    "es": (
        ("María", "Lucía", "Carmen", "Sofía", "Elena", "Javier", "Alejandro", "Diego", "Pablo", "Sergio"),
        (
            "García",
            "Fernández",
            "López",
            "Martínez",
            "Sánchez",
            "Romero",
            "Navarro",
            "Torres",
            "Ruiz",
            "Díaz",
        ),
    ),
    "en": (
        ("Emma", "Olivia", "Charlotte", "Amelia", "Grace", "James", "Oliver", "Harry", "George", "Thomas"),
        ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Walker", "Wright", "Hughes"),
    ),
}
_CULTURES = ("pl", "es", "en")
_CULTURE_WEIGHTS = (6, 2, 2)
_COMPANIES = (
    "Baltic Logistics", "Vistula Foods", "Mazovia Fitness", "Iberia Travel", "Costa Sol Hotels",
    "Northwind Traders", "Greenfield Energy", "Kraków Software House", "Tatra Outdoor", "Harbour Insurance",
    "Orbis Dental", "Silesia Motors", "Atlántico Seguros", "Pomorskie Media", "Oakridge Bakery",
)  # fmt: skip

# Polish mobile prefixes that libphonenumber accepts as valid mobile numbers.
_MOBILE_PREFIXES = (
    *range(500, 520), *range(530, 540), *range(570, 580), *range(600, 610), *range(660, 670),
    *range(690, 700), *range(720, 740), *range(780, 800), *range(880, 890),
)  # fmt: skip

_CAMPAIGNS = (
    ("Fitness memberships - spring", Channel.VOICE, True, "Outbound offers of the spring membership plans."),
    ("Insurance renewals", Channel.MIXED, True, "Renewal reminders by phone and WhatsApp."),
    ("WhatsApp customer care", Channel.WHATSAPP, True, "Questions about bookings, invoices and classes."),
    ("Winter promo 2025", Channel.VOICE, False, "Last winter's discount campaign (finished)."),
)
_VOICE, _MIXED, _WHATSAPP, _WINTER = range(4)
_TEAM_NAMES = ("Outbound Sales", "Renewals", "Customer Care")

_CUSTOMER_OPENERS = (
    "Hi, I have a question about my invoice.",
    "Hello! Can I change the date of my booking?",
    "Is the gym open on Sunday?",
    "I'd like to renew my policy, what do I need to do?",
    "Good morning, my card payment failed twice.",
    "Hola, ¿pueden llamarme mañana?",
    "Dzień dobry, chciałbym zmienić pakiet.",
    "How much is the family plan?",
    "I didn't receive the confirmation e-mail.",
    "Can I pause my membership for a month?",
)
_CUSTOMER_FOLLOW_UPS = (
    "Thanks, and what about the price?",
    "OK, I'll send you a photo of the document.",
    "My number is the same as this one.",
    "Could you check it again please?",
    "Great, that works for me.",
    "Sorry, one more thing…",
)
_CUSTOMER_THANKS = ("Thank you!", "Perfect, thanks a lot.", "Dziękuję!", "¡Gracias!", "Great, bye.")
_ASK_FOR_HUMAN = ("Can I talk to a person?", "That doesn't help, I need an agent.", "Agent please")
_BOT_REPLIES = (
    "Hi! I'm the Callboard assistant. You can find opening hours and prices at callboard.example/help.",
    "Thanks for your message! Your booking can be changed in the app under My bookings.",
    "Invoices are sent on the 1st of each month. You can download them in your account.",
    "The family plan costs 249 PLN per month for up to 4 people.",
)
_BOT_HANDOFF = "I'm connecting you with one of our agents, please wait a moment."
# (intent, keywords, reply, hands off, priority): the rules behind the bot's answers above.
_AUTO_REPLY_RULES = (
    ("talk to a person", "person, agent, human, consultant, konsultant", "", True, 10),
    ("opening hours", "open, opening hours, hours, godziny, horario", _BOT_REPLIES[0], False, 50),
    ("prices", "price, cost, how much, cena, precio, family plan", _BOT_REPLIES[3], False, 60),
    ("bookings", "booking, reservation, rezerwacja, reserva", _BOT_REPLIES[1], False, 70),
    ("invoices", "invoice, faktura, factura", _BOT_REPLIES[2], False, 80),
)
_AGENT_REPLIES = (
    "Hi, this is {name}. Let me check that for you.",
    "Hello! {name} here, I'm looking at your account now.",
    "Good morning, I'll help you with that right away.",
)
_AGENT_FOLLOW_UPS = (
    "Done — I've updated it. Anything else I can help with?",
    "I've sent you the details by e-mail.",
    "Could you confirm your date of birth, please?",
    "The change will be visible within an hour.",
    "I've booked a callback for tomorrow morning.",
)
_CSAT_PROMPT = "How did we do? Reply with a number from 1 (bad) to 5 (great)."
_BROADCASTS = (
    ("Spring class schedule", "New spring classes start on Monday! Reply YES to get the timetable."),
    ("Renewal reminder", "Your membership renews soon. Reply RENEW to keep your current price."),
)
_FAILED_WINDOW = (63016, "Failed to send freeform message because you are outside the allowed window.")
_UNDELIVERED = (30003, "Unreachable destination handset.")

# Outbound answer rate by local hour: better mid-morning and late afternoon, worse around lunch.
_ANSWER_RATE = {
    7: 0.36, 8: 0.42, 9: 0.50, 10: 0.58, 11: 0.57, 12: 0.46, 13: 0.40,
    14: 0.45, 15: 0.52, 16: 0.58, 17: 0.60, 18: 0.52, 19: 0.46, 20: 0.40,
}  # fmt: skip
# Mean seconds an agent waits in `available` before the next call, by local hour (dialer pacing).
_IDLE_MEAN = {8: 150, 9: 110, 10: 95, 11: 100, 12: 150, 13: 170, 14: 125, 15: 105, 16: 95, 17: 100, 18: 130}

_TERMINAL = (LeadStatus.CONVERTED, LeadStatus.LOST)


def _next_lead_status(current: str, target: str | None) -> str:
    """Lead statuses only move forward; converted and lost are final."""
    if target is None or current in _TERMINAL:
        return current
    if target == LeadStatus.CONTACTED:
        return LeadStatus.CONTACTED if current == LeadStatus.NEW else current
    return target


def database_has_data() -> bool:
    return any(model._default_manager.exists() for model in DEMO_MODELS)


@dataclass(frozen=True)
class DemoResult:
    usernames: list[str]
    password: str
    counts: dict[str, int]


def seed_demo(
    *,
    seed: int = 42,
    days: int = 30,
    agents: int = 12,
    password: str,
    now: datetime | None = None,
    progress: Callable[[list[date]], Iterable[date]] | None = None,
) -> DemoResult:
    """Create the whole demo in one transaction; the caller makes sure the database is empty."""
    if days < 1 or agents < 1:
        raise ValueError("days and agents must be at least 1.")
    builder = _DemoBuilder(seed=seed, days=days, agents=agents, password=password, now=now or timezone.now())
    with transaction.atomic():
        builder.build(progress or (lambda d: d))
        counts = builder.save()
        rebuild_rollups()  # the demo is bulk-inserted: count it once, from the raw rows
    return DemoResult(usernames=[u.username for u in builder.users], password=password, counts=counts)


# --- The builder -------------------------------------------------------------------------------------


@dataclass
class _Event:
    """Something that may move a contact's lead status (a call disposition, a chat, older history)."""

    at: datetime
    target: str | None
    agent: User | None
    reason: str = ""
    callback_at: datetime | None = None
    note: str = ""


@dataclass
class _ContactState:
    contact: Contact
    campaign_index: int
    owner: User
    status: str = LeadStatus.NEW  # as known while generating calls (chats are merged in at the end)
    events: list[_Event] = field(default_factory=list)
    busy_until: datetime | None = None  # a conversation is going on until then (None = free)
    chat_open: bool = False


@dataclass
class _Agent:
    user: User
    team_index: int
    night: bool
    campaigns: list[int]
    weights: list[int]
    callable: list[_ContactState] = field(default_factory=list)  # voice contacts, by created_at
    next_new: int = 0
    pool: list[_ContactState] = field(default_factory=list)  # created, not converted/lost
    dialled: list[_ContactState] = field(default_factory=list)  # created (fallback pool)
    shifts: list[tuple[datetime, datetime]] = field(default_factory=list)  # (login, logout or now)
    offline: AgentStatusPeriod | None = None  # the open offline period after the last logout


@dataclass
class _CallPlan:
    direction: str
    status: str
    ring: int  # seconds from start to answer (answered calls) or to the end (unanswered)
    talk: int
    wrap: int

    @property
    def answered(self) -> bool:
        return self.status in (CallStatus.COMPLETED, CallStatus.DROPPED)

    @property
    def length(self) -> int:
        return self.ring + self.talk


class _DemoBuilder:
    def __init__(self, *, seed: int, days: int, agents: int, password: str, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.now = now.astimezone(UTC)
        today = self.now.astimezone(self.tz).date()
        self.days = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        self.window_start = self.local(self.days[0], time(0))
        self.n_agents = agents
        self.password = password

        self.users: list[User] = []
        self.supervisors: list[User] = []
        self.agents: list[_Agent] = []
        self.teams: list[Team] = []
        self.campaigns: list[Campaign] = []
        self.campaign_contacts: dict[int, list[_ContactState]] = {}
        self.contacts: list[_ContactState] = []
        self.periods: list[AgentStatusPeriod] = []
        self.sessions: list[AgentSession] = []
        self.calls: list[CallLog] = []
        self.conversations: list[Conversation] = []
        self.messages: list[Message] = []
        self.broadcasts: list[Broadcast] = []
        self.senders: dict[int, WhatsAppSender] = {}  # by campaign index
        self.rules: list[AutoReplyRule] = []
        self.lead_changes: list[LeadStatusChange] = []
        self._sids: set[str] = set()

    # -- time helpers --

    def local(self, day: date, at: time) -> datetime:
        """The UTC instant of a local wall-clock time on a local day."""
        return datetime.combine(day, at, tzinfo=self.tz).astimezone(UTC)

    def local_minutes(self, day: date, minutes: float) -> datetime:
        """Local `day` 00:00 plus a wall-clock offset (e.g. 8.5 h → 08:30 local), as UTC, whole seconds."""
        naive = datetime.combine(day, time(0)) + timedelta(seconds=round(minutes * 60))
        return naive.replace(tzinfo=self.tz).astimezone(UTC)

    def local_hour(self, at: datetime) -> int:
        return at.astimezone(self.tz).hour

    def secs(self, low: float, high: float) -> timedelta:
        return timedelta(seconds=round(self.rng.uniform(low, high)))

    def lognormal_secs(self, median: float, sigma: float, low: float, high: float) -> int:
        return round(min(high, max(low, self.rng.lognormvariate(math.log(median), sigma))))

    def sid(self, prefix: str) -> str:
        while True:
            value = f"{prefix}{self.rng.getrandbits(128):032x}"
            if value not in self._sids:
                self._sids.add(value)
                return value

    def person(self, culture: str | None = None) -> tuple[str, str]:
        culture = culture or self.rng.choices(_CULTURES, _CULTURE_WEIGHTS)[0]
        firsts, lasts = _NAMES[culture]
        return self.rng.choice(firsts), self.rng.choice(lasts)

    # -- build --

    def build(self, progress: Callable[[list[date]], Iterable[date]]) -> None:
        self.make_people()
        self.make_whatsapp_setup()
        self.make_contacts()
        for day in progress(self.days):
            for agent in self.working(day):
                self.make_shift(agent, day)
            self.make_conversations(day)
        for agent in self.agents:
            if not agent.shifts:  # has not logged in yet during the window: offline all along
                self.periods.append(
                    AgentStatusPeriod(
                        agent=agent.user,
                        status=AgentStatus.OFFLINE,
                        started_at=self.window_start,
                        source=RecordSource.DEMO,
                    )
                )
        self.make_broadcasts()
        self.finish_lead_histories()

    def working(self, day: date) -> list[_Agent]:
        if day.weekday() < 5:
            return self.agents
        # About half the agents work on a weekend day; which half is drawn per day.
        chosen = set(self.rng.sample(range(len(self.agents)), k=(len(self.agents) + 1) // 2))
        return [agent for n, agent in enumerate(self.agents) if n in chosen]

    # -- people, teams, campaigns --

    def make_people(self) -> None:
        hashed = make_password(self.password)  # once: PBKDF2 is slow on purpose
        joined = self.window_start - timedelta(days=120)

        def user(username: str, role: str, culture: str, **extra: object) -> User:
            first, last = self.person(culture)
            obj = User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                role=role,
                password=hashed,
                date_joined=joined,
                **extra,
            )
            self.users.append(obj)
            return obj

        user("admin", Role.ADMIN, "pl", is_staff=True, is_superuser=True)
        self.supervisors = [
            user("supervisor1", Role.SUPERVISOR, "pl", is_staff=True),
            user("supervisor2", Role.SUPERVISOR, "es", is_staff=True),
        ]
        n_teams = 3 if self.n_agents >= 6 else 2 if self.n_agents >= 2 else 1
        size, extra = divmod(self.n_agents, n_teams)
        team_of: list[int] = []
        for t in range(n_teams):
            team_of += [t] * (size + (1 if t < extra else 0))
        # The last agent works nights (mostly inbound calls and chats), so breaks cross midnight.
        night_agent = self.n_agents if self.n_agents >= 3 else 0
        # Per team: the campaigns its agents are members of, with the share of their contacts in each.
        membership: dict[int, list[tuple[int, int]]] = {
            1: {0: [(_VOICE, 45), (_MIXED, 25), (_WHATSAPP, 20), (_WINTER, 10)]},
            2: {0: [(_VOICE, 85), (_WINTER, 15)], 1: [(_MIXED, 65), (_WHATSAPP, 35)]},
            3: {
                0: [(_VOICE, 85), (_WINTER, 15)],
                1: [(_MIXED, 60), (_VOICE, 40)],
                2: [(_MIXED, 55), (_WHATSAPP, 45)],
            },
        }[n_teams]
        for n in range(1, self.n_agents + 1):
            culture = self.rng.choices(_CULTURES, _CULTURE_WEIGHTS)[0]
            obj = user(f"agent{n}", Role.AGENT, culture, phone_extension=str(100 + n), language=culture)
            team = team_of[n - 1]
            campaigns, weights = zip(*membership[team], strict=True)
            self.agents.append(_Agent(obj, team, n == night_agent, list(campaigns), list(weights)))

        created = self.window_start - timedelta(days=100)
        for t in range(n_teams):
            self.teams.append(Team(name=_TEAM_NAMES[t], description=f"{_TEAM_NAMES[t]} team.", created_at=created))
        campaign_team = {
            _VOICE: 0,
            _MIXED: min(1, n_teams - 1),
            _WHATSAPP: n_teams - 1,
            _WINTER: 0,
        }
        for index, (name, channel, active, description) in enumerate(_CAMPAIGNS):
            start = (self.window_start - timedelta(days=150 if index == _WINTER else 75)).astimezone(self.tz).date()
            end = (self.window_start - timedelta(days=40)).astimezone(self.tz).date() if index == _WINTER else None
            self.campaigns.append(
                Campaign(
                    name=name,
                    description=description,
                    channel=channel,
                    is_active=active,
                    start_date=start,
                    end_date=end,
                    created_at=self.local(start, time(9)) - timedelta(days=7),
                )
            )
            self.campaign_contacts[index] = []
        self._campaign_team = campaign_team
        self._n_teams = n_teams

    # -- contacts --

    def make_contacts(self) -> None:
        phones: set[str] = set()
        winter_end = self.local(self.campaigns[_WINTER].end_date or self.days[0], time(18))
        for agent in self.agents:
            for _ in range(CONTACTS_PER_AGENT):
                campaign_index = self.rng.choices(agent.campaigns, agent.weights)[0]
                phone = self.phone(phones)
                culture = self.rng.choices(_CULTURES, _CULTURE_WEIGHTS)[0]
                first, last = self.person(culture)
                if campaign_index == _WINTER:
                    created = self.window_start - self.secs(60 * 86400, 120 * 86400)
                elif self.rng.random() < 0.6:
                    created = self.window_start - self.secs(3600, 60 * 86400)
                else:
                    created = self.window_start + self.secs(0, (self.now - self.window_start).total_seconds())
                ascii_name = f"{_ascii(first)}.{_ascii(last)}".lower()
                contact = Contact(
                    name=f"{first} {last}",
                    phone=phone,
                    email=f"{ascii_name}@example.com" if self.rng.random() < 0.4 else "",
                    company=self.rng.choice(_COMPANIES) if self.rng.random() < 0.3 else "",
                    assigned_agent=agent.user,
                    campaign=self.campaigns[campaign_index],
                    created_at=created,
                    lead_status_changed_at=created,
                )
                state = _ContactState(contact, campaign_index, agent.user)
                channel = self.campaigns[campaign_index].channel
                if channel != Channel.VOICE and self.rng.random() < 0.02:
                    contact.whatsapp_opted_out_at = created + (self.now - created) * self.rng.random()
                history_end = min(self.window_start, winter_end) if campaign_index == _WINTER else self.window_start
                if created < history_end:
                    self.older_history(state, agent.user, created, history_end)
                self.contacts.append(state)
                self.campaign_contacts[campaign_index].append(state)
                if channel in (Channel.VOICE, Channel.MIXED) and campaign_index != _WINTER:
                    agent.callable.append(state)
        for agent in self.agents:
            agent.callable.sort(key=lambda s: s.contact.created_at)
        for states in self.campaign_contacts.values():
            states.sort(key=lambda s: s.contact.created_at)

    def phone(self, taken: set[str]) -> str:
        while True:
            number = f"+48{self.rng.choice(_MOBILE_PREFIXES)}{self.rng.randrange(1_000_000):06d}"
            if number not in taken:
                taken.add(number)
                return number

    def older_history(self, state: _ContactState, agent: User, start: datetime, end: datetime) -> None:
        """Lead status changes from before the demo window (their calls are older than the window)."""
        span = (end - start).total_seconds()
        steps: list[tuple[str, str]] = []
        if self.rng.random() < (0.9 if state.campaign_index == _WINTER else 0.55):
            steps.append((LeadStatus.CONTACTED, ""))
            roll = self.rng.random()
            if roll < 0.3:
                steps.append((LeadStatus.QUALIFIED, BusinessReason.INTERESTED))
                if self.rng.random() < 0.4:
                    steps.append((LeadStatus.CONVERTED, ""))
            elif roll < 0.55:
                lost_reason = self.rng.choice((BusinessReason.NOT_INTERESTED, BusinessReason.NO_BUDGET))
                steps.append((LeadStatus.LOST, lost_reason))
        offsets = sorted(self.rng.uniform(0.05, 0.95) * span for _ in steps)
        for (target, reason), offset in zip(steps, offsets, strict=True):
            at = start + timedelta(seconds=round(offset))
            state.events.append(_Event(at, target, agent, reason, note="Earlier campaign activity"))
            state.status = _next_lead_status(state.status, target)

    # -- one agent's shift: status timeline, session and calls --

    def emit(self, agent: _Agent, status: str, start: datetime, end: datetime, reason: str = "") -> bool:
        """Append a status period; False (and the period left open) when it reaches past now."""
        live = end > self.now
        self.periods.append(
            AgentStatusPeriod(
                agent=agent.user,
                status=status,
                reason=reason,
                started_at=start,
                ended_at=None if live else end,
                source=RecordSource.DEMO,
            )
        )
        return not live

    def make_shift(self, agent: _Agent, day: date) -> None:
        rng = self.rng
        if agent.night:
            login = self.local_minutes(day, 20 * 60 + rng.uniform(0, 30))
        else:
            login = self.local_minutes(day, 8 * 60 + rng.uniform(0, 90))
        planned_end = login + timedelta(hours=8) + self.secs(-15 * 60, 20 * 60)
        breaks: list[tuple[datetime, timedelta, str, str]] = [
            (
                login + self.secs(90 * 60, 135 * 60),
                self.secs(8 * 60, 15 * 60),
                AgentStatus.BREAK,
                BreakReason.SHORT,
            )
        ]
        if agent.night:  # lunch a little before local midnight, so it crosses into the next day
            lunch = self.local(day + timedelta(days=1), time(0)) - self.secs(10 * 60, 20 * 60)
        else:
            lunch = login + self.secs(210 * 60, 270 * 60)
        breaks.append((lunch, self.secs(27 * 60, 40 * 60), AgentStatus.BREAK, BreakReason.LUNCH))
        if rng.random() < 0.7:
            second = login + self.secs(360 * 60, 405 * 60)
            breaks.append((second, self.secs(5 * 60, 12 * 60), AgentStatus.BREAK, BreakReason.SHORT))
        if rng.random() < 0.3:
            breaks.append((login + self.secs(30 * 60, 420 * 60), self.secs(3 * 60, 12 * 60), AgentStatus.AWAY, ""))
        breaks.sort(key=lambda b: b[0])
        if login >= self.now:
            return

        if agent.offline is not None:
            agent.offline.ended_at = login
        elif not agent.shifts:
            # The timeline starts offline at the beginning of the window.
            self.emit(agent, AgentStatus.OFFLINE, self.window_start, login)
        session = AgentSession(agent=agent.user, started_at=login, source=RecordSource.DEMO)
        self.sessions.append(session)
        agent.offline = None

        t = login
        live = False
        next_break = 0
        while not live:
            if next_break < len(breaks) and t >= breaks[next_break][0]:
                _, length, status, reason = breaks[next_break]
                next_break += 1
                live = not self.emit(agent, status, t, t + length, reason)
                t += length
                continue
            if t >= planned_end:
                break
            idle = timedelta(seconds=round(rng.expovariate(1 / _IDLE_MEAN.get(self.local_hour(t), 120))) + 5)
            plan = self.plan_call(agent, t + idle)
            cycle_end = t + idle + timedelta(seconds=plan.length + plan.wrap)
            limit = breaks[next_break][0] if next_break < len(breaks) else planned_end
            if cycle_end > limit:
                # No time for another call before the break or the end of the shift: wait for it.
                live = not self.emit(agent, AgentStatus.AVAILABLE, t, limit)
                t = limit
                continue
            live = not self.emit(agent, AgentStatus.AVAILABLE, t, t + idle)
            if live:
                break
            t += idle
            live = not self.make_call(agent, plan, t)
            t += timedelta(seconds=plan.length + plan.wrap)

        agent.shifts.append((login, min(t, self.now)))
        if live:
            return  # the current state stays open and so does the session
        session.ended_at = t
        session.end_reason = SessionEndReason.LOGOUT
        self.periods.append(
            AgentStatusPeriod(agent=agent.user, status=AgentStatus.OFFLINE, started_at=t, source=RecordSource.DEMO)
        )
        agent.offline = self.periods[-1]

    def plan_call(self, agent: _Agent, start: datetime) -> _CallPlan:
        rng = self.rng
        inbound = rng.random() < (0.8 if agent.night else 0.08)
        hour = self.local_hour(start)
        answered = rng.random() < (0.9 if inbound else _ANSWER_RATE.get(hour, 0.3))
        if answered:
            ring = rng.randint(5, 30)
            if rng.random() < 0.06:
                status, talk = CallStatus.DROPPED, rng.randint(3, 40)
            else:
                status, talk = CallStatus.COMPLETED, self.lognormal_secs(110, 0.75, 30, 1200)
            wrap = self.lognormal_secs(35, 0.6, 8, 240)
        else:
            ring, talk, wrap = rng.randint(15, 40), 0, rng.randint(2, 15)
            status = (
                CallStatus.NO_ANSWER
                if inbound
                else rng.choices((CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED), (55, 25, 20))[0]
            )
        return _CallPlan(CallDirection.INBOUND if inbound else CallDirection.OUTBOUND, status, ring, talk, wrap)

    def pick_contact(self, agent: _Agent, at: datetime) -> _ContactState | None:
        while agent.next_new < len(agent.callable) and agent.callable[agent.next_new].contact.created_at <= at:
            state = agent.callable[agent.next_new]
            agent.next_new += 1
            agent.dialled.append(state)
            if state.status not in _TERMINAL:
                agent.pool.append(state)
        while agent.pool:
            index = self.rng.randrange(len(agent.pool))
            state = agent.pool[index]
            if state.status not in _TERMINAL:
                return state
            agent.pool[index] = agent.pool[-1]
            agent.pool.pop()
        # Everyone reachable has converted or been lost: follow up with an earlier contact.
        return self.rng.choice(agent.dialled) if agent.dialled else None

    def make_call(self, agent: _Agent, plan: _CallPlan, start: datetime) -> bool:
        """Create the call with its on_call and wrap_up periods; False when it is still going on."""
        end = start + timedelta(seconds=plan.length)
        state = self.pick_contact(agent, start)
        if state is None:  # nobody to call yet: the agent stays available
            return self.emit(agent, AgentStatus.AVAILABLE, start, end + timedelta(seconds=plan.wrap))
        contact = state.contact
        answered_at = start + timedelta(seconds=plan.ring) if plan.answered else None
        call = CallLog(
            agent=agent.user,
            contact=contact,
            campaign=contact.campaign,
            phone_number=contact.phone,
            direction=plan.direction,
            status=plan.status,
            started_at=start,
            answered_at=answered_at,
            ended_at=end,
            duration_seconds=plan.talk,
            twilio_call_sid=self.sid("CA"),
            source=RecordSource.DEMO,
        )
        self.calls.append(call)
        if not self.emit(agent, AgentStatus.ON_CALL, start, end):
            call.status, call.ended_at, call.duration_seconds = CallStatus.IN_PROGRESS, None, 0
            if answered_at is not None and answered_at > self.now:
                call.answered_at = None
            return False
        disposed = end + timedelta(seconds=plan.wrap)
        if not self.emit(agent, AgentStatus.WRAP_UP, end, disposed):
            return False  # the agent is still writing the disposition
        call.wrap_up_seconds = plan.wrap
        call.disposition_at = disposed
        self.dispose(call, state, agent.user, plan, disposed)
        return True

    def dispose(self, call: CallLog, state: _ContactState, agent: User, plan: _CallPlan, disposed: datetime) -> None:
        rng = self.rng
        if plan.status == CallStatus.COMPLETED:
            weights = (
                (14, 22, 16, 18, 2, 3, 10) if plan.direction == CallDirection.INBOUND else (9, 16, 22, 20, 2, 7, 14)
            )
            outcome: str = rng.choices(list(CallOutcome), weights)[0]
        elif plan.status == CallStatus.DROPPED:
            outcome = rng.choice((CallOutcome.CALLBACK, CallOutcome.OTHER))
        elif plan.status == CallStatus.NO_ANSWER:
            outcome = rng.choices(("", CallOutcome.VOICEMAIL, CallOutcome.OTHER), (65, 30, 5))[0]
        else:
            outcome = rng.choices(("", CallOutcome.OTHER), (85, 15))[0]
        call.outcome = outcome
        if not plan.answered:
            return
        # Most dispositions are not decisive (an agent reaches each contact many times a month), so
        # only some move the lead forward; with 250 contacts per agent the funnel would saturate otherwise.
        target: str | None = LeadStatus.CONTACTED
        reason = ""
        callback_at = None
        if outcome == CallOutcome.LEAD:
            target = LeadStatus.CONVERTED if rng.random() < 0.3 else LeadStatus.QUALIFIED
            reason = BusinessReason.INTERESTED
        elif outcome == CallOutcome.INTERESTED:
            reason = BusinessReason.INTERESTED
            target = LeadStatus.QUALIFIED if rng.random() < 0.35 else LeadStatus.CONTACTED
        elif outcome == CallOutcome.NOT_INTERESTED:
            reason = rng.choices(
                (
                    BusinessReason.NOT_INTERESTED,
                    BusinessReason.NO_BUDGET,
                    BusinessReason.COMPETITOR,
                    BusinessReason.DO_NOT_CALL,
                ),
                (55, 22, 15, 3),
            )[0]
            # Usually "not now" rather than "never": the lead stays open for a later campaign wave.
            lost = reason == BusinessReason.DO_NOT_CALL or rng.random() < 0.1
            target = LeadStatus.LOST if lost else LeadStatus.CONTACTED
        elif outcome == CallOutcome.WRONG_NUMBER:
            target, reason = LeadStatus.LOST, BusinessReason.WRONG_NUMBER
        elif outcome == CallOutcome.CALLBACK:
            reason = BusinessReason.RESCHEDULED
            local_day = disposed.astimezone(self.tz).date() + timedelta(days=rng.randint(1, 7))
            callback_at = self.local_minutes(local_day, rng.choice(range(9 * 60, 18 * 60, 15)))
        elif outcome == CallOutcome.OTHER:
            reason = BusinessReason.OTHER
        call.business_reason = reason
        call.callback_at = callback_at
        state.events.append(_Event(disposed, target, agent, reason, callback_at, note="Call disposition"))
        state.status = _next_lead_status(state.status, target)

    # -- WhatsApp conversations --

    def make_whatsapp_setup(self) -> None:
        """Our two WhatsApp numbers and the bot's rules (no random draws: the rest of the demo is unchanged)."""
        created = self.window_start - timedelta(days=60)
        care = WhatsAppSender(
            phone=OUR_WHATSAPP_NUMBER,
            name="Customer care",
            is_default=True,
            status=SenderStatus.ACTIVE,
            created_at=created,
        )
        renewals = WhatsAppSender(
            phone=RENEWALS_WHATSAPP_NUMBER, name="Renewals", status=SenderStatus.ACTIVE, created_at=created
        )
        self.senders = {_MIXED: renewals, _WHATSAPP: care}
        for intent, keywords, reply, hands_off, priority in _AUTO_REPLY_RULES:
            self.rules.append(
                AutoReplyRule(
                    intent=intent,
                    keywords=keywords,
                    reply=reply,
                    hands_off=hands_off,
                    priority=priority,
                    created_at=created,
                )
            )

    def on_duty(self, campaign_index: int, at: datetime) -> list[_Agent]:
        return [
            agent
            for agent in self.agents
            if campaign_index in agent.campaigns and any(login <= at < end for login, end in agent.shifts[-2:])
        ]

    def make_conversations(self, day: date) -> None:
        rng = self.rng
        chat_campaigns = [i for i in (_MIXED, _WHATSAPP) if any(i in a.campaigns for a in self.agents)]
        chat_agents = [a for a in self.agents if any(i in a.campaigns for i in chat_campaigns)]
        if not chat_campaigns:
            return
        today = day == self.days[-1]
        count = round(len(chat_agents) * rng.uniform(5, 8) * (0.5 if day.weekday() >= 5 else 1))
        starts = sorted(self.local_minutes(day, rng.uniform(8 * 60, 21 * 60)) for _ in range(count))
        chats = [(created, 0.25 if today else 0.0) for created in starts]
        opens, closes = self.local_minutes(day, 8 * 60), self.local_minutes(day, 21 * 60)
        if today and opens <= self.now < closes:
            # During chat hours there is always a small live queue of recent, unresolved chats.
            recent = sorted(self.now - self.secs(60, 45 * 60) for _ in range(max(2, len(chat_agents) // 2)))
            chats += [(created, 1.0) for created in recent]
        for created, open_chance in chats:
            campaign_index = rng.choices(chat_campaigns, (40, 60)[-len(chat_campaigns) :])[0]
            state = self.free_chat_contact(campaign_index, created)
            if state is None or created >= self.now:
                continue
            # The contact's own agent takes the chat when on duty, else a colleague of the campaign who is.
            duty = self.on_duty(campaign_index, created)
            agent = state.owner if any(a.user is state.owner for a in duty) or not duty else rng.choice(duty).user
            self.make_conversation(state, agent, created, open_chance)

    def free_chat_contact(self, campaign_index: int, at: datetime) -> _ContactState | None:
        states = self.campaign_contacts[campaign_index]
        existing = bisect_right(states, at, key=lambda s: s.contact.created_at)
        for _ in range(12 if existing else 0):
            state = states[self.rng.randrange(existing)]
            if (
                state.contact.whatsapp_opted_out_at is None
                and not state.chat_open
                and (state.busy_until is None or state.busy_until <= at)
            ):
                return state
        return None

    def make_conversation(self, state: _ContactState, agent: User, created: datetime, open_chance: float) -> None:
        """One chat; a human-handled one stays unresolved (open or pending) with `open_chance`."""
        rng = self.rng
        contact = state.contact
        kind = rng.choices(("bot", "escalated", "human"), (30 * (open_chance < 1), 30, 40))[0]
        # (time, author type, body, media_count)
        script: list[tuple[datetime, str, str, int]] = []

        def say(at: datetime, author: str, body: str, media: int = 0) -> datetime:
            script.append((at, author, body, media))
            return at

        media_first = rng.random() < 0.07
        t = say(
            created,
            AuthorType.CUSTOMER,
            "" if media_first else rng.choice(_CUSTOMER_OPENERS),
            int(media_first),
        )
        escalated_at = None
        resolutions: list[tuple[datetime, User | None]] = []
        reopen_at = None
        if kind != "human":
            t = say(t + self.secs(2, 6), AuthorType.BOT, rng.choice(_BOT_REPLIES))
        if kind == "bot":
            if rng.random() < 0.5:
                t = say(t + self.secs(30, 180), AuthorType.CUSTOMER, rng.choice(_CUSTOMER_FOLLOW_UPS))
                t = say(t + self.secs(2, 5), AuthorType.BOT, rng.choice(_BOT_REPLIES))
            resolutions.append((t + self.secs(60, 600), None))
        else:
            if kind == "escalated":
                t = say(t + self.secs(20, 120), AuthorType.CUSTOMER, rng.choice(_ASK_FOR_HUMAN))
                escalated_at = t + self.secs(1, 3)
                t = say(escalated_at, AuthorType.BOT, _BOT_HANDOFF)
            # Human first response: most within the 5-minute SLA, a tail well beyond it.
            frt = self.lognormal_secs(100, 1.0, 15, 5400)
            t = say(
                (escalated_at or created) + timedelta(seconds=frt),
                AuthorType.AGENT,
                self.agent_greeting(agent),
            )
            for _ in range(rng.randint(0, 3)):
                media = rng.random() < 0.07
                body = "" if media else rng.choice(_CUSTOMER_FOLLOW_UPS)
                t = say(t + self.secs(30, 600), AuthorType.CUSTOMER, body, int(media))
                t = say(t + self.secs(20, 300), AuthorType.AGENT, rng.choice(_AGENT_FOLLOW_UPS))
            if rng.random() < 0.6:
                t = say(t + self.secs(20, 300), AuthorType.CUSTOMER, rng.choice(_CUSTOMER_THANKS))
            if rng.random() < open_chance:
                pass  # left open / pending: the agent waits for the customer or is still on it
            else:
                resolutions.append((t + self.secs(60, 1800), agent))
                if rng.random() < 0.08:
                    reopen_at = resolutions[0][0] + self.secs(600, 6 * 3600)
                    t = say(reopen_at, AuthorType.CUSTOMER, rng.choice(_CUSTOMER_FOLLOW_UPS))
                    t = say(t + self.secs(30, 600), AuthorType.AGENT, rng.choice(_AGENT_FOLLOW_UPS))
                    resolutions.append((t + self.secs(60, 900), agent))
        final = resolutions[-1][0] if resolutions else None
        csat_score = None
        if final is not None and rng.random() < (0.5 if kind != "bot" else 0.2):
            say(final + self.secs(2, 5), AuthorType.SYSTEM, _CSAT_PROMPT)
            if rng.random() < 0.6:
                csat_score = rng.choices((1, 2, 3, 4, 5), (4, 6, 12, 30, 48))[0]
                say(final + self.secs(60, 3600), AuthorType.CUSTOMER, str(csat_score))

        # Cut everything at now: the demo shows conversations as they stand at this instant.
        kept = [line for line in script if line[0] <= self.now]
        conversation = Conversation(
            contact=contact,
            channel=ConversationChannel.WHATSAPP,
            campaign=contact.campaign,
            priority=rng.choices(list(Priority), (20, 55, 18, 7))[0],
            our_number=self.senders[state.campaign_index].phone,
            created_at=created,
            last_message_at=kept[-1][0],
            handled_by_bot_first=kind != "human",
        )
        if escalated_at is not None and escalated_at <= self.now:
            conversation.escalated_to_human = True
            conversation.escalated_at = escalated_at
        if kind == "human" or conversation.escalated_to_human:
            conversation.assigned_agent = agent
        resolved = [(at, by) for at, by in resolutions if at <= self.now]
        reopened = reopen_at is not None and reopen_at <= self.now
        if resolved and (len(resolved) == len(resolutions) or not reopened):
            conversation.status = ConversationStatus.RESOLVED
            conversation.resolved_at, conversation.resolved_by = resolved[-1]
            conversation.reopened_count = 1 if len(resolved) > 1 else 0
        else:
            last_author = kept[-1][1]
            waiting = last_author == AuthorType.AGENT
            conversation.status = ConversationStatus.PENDING if waiting else ConversationStatus.OPEN
            conversation.reopened_count = 1 if reopened else 0
            state.chat_open = True
        state.busy_until = max(final, script[-1][0]) if final is not None else None
        self.conversations.append(conversation)

        for at, author, body, media_count in kept:
            message = Message(
                conversation=conversation,
                contact=contact,
                sender=self.senders[state.campaign_index],
                direction=Direction.INBOUND if author == AuthorType.CUSTOMER else Direction.OUTBOUND,
                author_type=author,
                agent=agent if author == AuthorType.AGENT else None,
                body=body,
                media_count=media_count,
                twilio_sid=self.sid("SM"),
                created_at=at,
            )
            if author == AuthorType.CUSTOMER:
                message.status = MessageStatus.RECEIVED
            else:
                self.deliver(message)
            if author == AuthorType.AGENT and conversation.first_response_at is None:
                conversation.first_response_at, conversation.first_response_by = at, agent
            if author == AuthorType.SYSTEM and conversation.status == ConversationStatus.RESOLVED:
                conversation.csat_requested_at = at
            if (
                conversation.csat_requested_at is not None
                and author == AuthorType.CUSTOMER
                and at > conversation.csat_requested_at
                and csat_score is not None
            ):
                conversation.csat_score, conversation.csat_received_at = csat_score, at
            self.messages.append(message)

        if resolved and conversation.status == ConversationStatus.RESOLVED and kind != "bot":
            target = rng.choices(
                (LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.CONVERTED, LeadStatus.LOST),
                (60, 25, 10, 5),
            )[0]
            reason = {
                LeadStatus.QUALIFIED: BusinessReason.INTERESTED,
                LeadStatus.LOST: BusinessReason.NOT_INTERESTED,
            }
            state.events.append(
                _Event(resolved[-1][0], target, agent, reason.get(target, ""), note="WhatsApp conversation")
            )

    def agent_greeting(self, agent: User) -> str:
        return self.rng.choice(_AGENT_REPLIES).format(name=agent.first_name)

    def deliver(self, message: Message) -> None:
        """A delivery status for an outbound message with timestamps that agree with it (none after now)."""
        rng = self.rng
        status = rng.choices(
            (
                MessageStatus.READ,
                MessageStatus.DELIVERED,
                MessageStatus.SENT,
                MessageStatus.QUEUED,
                MessageStatus.FAILED,
                MessageStatus.UNDELIVERED,
            ),
            (62, 22, 5, 2, 4.5, 4.5),
        )[0]
        created = message.created_at
        sent = created + self.secs(1, 3)
        delivered = sent + self.secs(1, 8)
        read = delivered + timedelta(seconds=self.lognormal_secs(90, 1.5, 3, 8 * 3600))
        failed = (sent if status == MessageStatus.UNDELIVERED else created) + self.secs(2, 60)
        if status == MessageStatus.READ and read > self.now:
            status = MessageStatus.DELIVERED
        if status == MessageStatus.DELIVERED and delivered > self.now:
            status = MessageStatus.SENT
        if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED) and failed > self.now:
            status = MessageStatus.SENT
        if status == MessageStatus.SENT and sent > self.now:
            status = MessageStatus.QUEUED
        message.status = status
        if status in (
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
            MessageStatus.READ,
            MessageStatus.UNDELIVERED,
        ):
            message.sent_at = sent
        if status in (MessageStatus.DELIVERED, MessageStatus.READ):
            message.delivered_at = delivered
        if status == MessageStatus.READ:
            message.read_at = read
        if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
            message.failed_at = failed
            message.error_code, message.error_message = (
                _FAILED_WINDOW if status == MessageStatus.FAILED else _UNDELIVERED
            )

    # -- broadcasts --

    def make_broadcasts(self) -> None:
        campaign_index = _WHATSAPP
        campaign = self.campaigns[campaign_index]
        plans = [(max(0, len(self.days) - 8), time(10)), (len(self.days) - 2, time(17))]
        for (name, body), (day_index, at) in zip(_BROADCASTS, plans, strict=True):
            if day_index < 0:
                continue
            started = self.local(self.days[day_index], at)
            if started > self.now - timedelta(hours=1):
                continue
            recipients = [
                s
                for s in self.campaign_contacts[campaign_index]
                if s.contact.created_at < started and s.contact.whatsapp_opted_out_at is None
            ][:400]
            if not recipients:
                continue
            broadcast = Broadcast(
                name=name,
                campaign=campaign,
                body=body,
                status=BroadcastStatus.COMPLETED,
                sender=self.senders[campaign_index],
                created_by=self.supervisors[len(self.broadcasts) % len(self.supervisors)],
                created_at=started - timedelta(days=1),
                scheduled_at=started,
                started_at=started,
            )
            created = started
            for n, state in enumerate(recipients):
                created = started + timedelta(milliseconds=250 * n)
                message = Message(
                    broadcast=broadcast,
                    contact=state.contact,
                    sender=broadcast.sender,
                    direction=Direction.OUTBOUND,
                    author_type=AuthorType.SYSTEM,
                    body=body,
                    twilio_sid=self.sid("SM"),
                    created_at=created,
                )
                self.deliver(message)
                self.messages.append(message)
            broadcast.completed_at = created + timedelta(seconds=2)
            self.broadcasts.append(broadcast)

    # -- lead status histories --

    def finish_lead_histories(self) -> None:
        for state in self.contacts:
            contact = state.contact
            status: str = LeadStatus.NEW
            last = contact.created_at
            self.lead_changes.append(
                LeadStatusChange(
                    contact=contact, from_status="", to_status=LeadStatus.NEW, changed_at=last, note="Created"
                )
            )
            reason, callback_at = "", None
            for event in sorted(state.events, key=lambda e: e.at):
                new = _next_lead_status(status, event.target)
                if event.reason:
                    reason, callback_at = event.reason, event.callback_at
                if new != status and event.at > last:
                    self.lead_changes.append(
                        LeadStatusChange(
                            contact=contact,
                            from_status=status,
                            to_status=new,
                            changed_at=event.at,
                            changed_by=event.agent,
                            note=event.note,
                        )
                    )
                    status, last = new, event.at
            contact.lead_status = status
            contact.lead_status_changed_at = last
            contact.business_reason = reason
            contact.callback_at = callback_at if reason == BusinessReason.RESCHEDULED else None

    # -- save --

    def save(self) -> dict[str, int]:
        def bulk(model: type[models.Model], objs: list) -> int:
            model._default_manager.bulk_create(objs, batch_size=BATCH_SIZE)
            return len(objs)

        counts = {"users": bulk(User, self.users), "teams": bulk(Team, self.teams)}
        for index, team in enumerate(self.teams):
            team.members.add(*[a.user for a in self.agents if a.team_index == index])
            team.supervisors.add(self.supervisors[index % len(self.supervisors)])
        for index, campaign in enumerate(self.campaigns):
            campaign.team = self.teams[self._campaign_team[index]]
        counts["campaigns"] = bulk(Campaign, self.campaigns)
        for index, campaign in enumerate(self.campaigns):
            campaign.members.add(*[a.user for a in self.agents if index in a.campaigns])
        counts["contacts"] = bulk(Contact, [s.contact for s in self.contacts])
        counts["lead_status_changes"] = bulk(LeadStatusChange, self.lead_changes)
        counts["calls"] = bulk(CallLog, self.calls)
        counts["status_periods"] = bulk(AgentStatusPeriod, self.periods)
        counts["sessions"] = bulk(AgentSession, self.sessions)
        senders = list(self.senders.values())
        for sender in senders:
            # last_seen_at moves with every message and status update through the number.
            moments = [
                moment
                for m in self.messages
                if m.sender is sender
                for moment in (m.created_at, m.sent_at, m.delivered_at, m.read_at, m.failed_at)
                if moment is not None
            ]
            sender.last_seen_at = max(moments, default=None)
        counts["whatsapp_senders"] = bulk(WhatsAppSender, senders)
        counts["auto_reply_rules"] = bulk(AutoReplyRule, self.rules)
        earliest: dict[int, datetime] = {}
        for conversation in sorted(self.conversations, key=lambda c: c.created_at):
            first = earliest.setdefault(id(conversation.contact), conversation.created_at)
            conversation.is_returning = first < conversation.created_at
        counts["conversations"] = bulk(Conversation, self.conversations)
        counts["broadcasts"] = bulk(Broadcast, self.broadcasts)
        counts["messages"] = bulk(Message, self.messages)
        return counts


def _ascii(text: str) -> str:
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
