"""The WhatsApp bot's decisions (no writes): which auto-reply rule answers a message, whether the bot may
still answer, who gets a conversation a human must handle, and the CSAT prompt. crm/actions.py applies
them; the rules are described in docs/api.md "WhatsApp"."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db.models import Count, Q

from crm.models import (
    OPEN_CONVERSATION_STATUSES,
    AutoReplyRule,
    Conversation,
    Role,
    User,
)

CSAT_PROMPT = (
    "Thank you for contacting us. Please rate the help you received from 1 to 5 "
    "(1 = poor, 5 = excellent) by replying with a single digit."
)

_CSAT_REPLY = re.compile(r"\s*([1-5])\s*")


def csat_score(body: str) -> int | None:
    """The rating in a reply that is exactly one digit 1–5 (whitespace around it allowed), else None."""
    match = _CSAT_REPLY.fullmatch(body)
    return int(match.group(1)) if match else None


def awaits_csat(conversation: Conversation) -> bool:
    """A rating was asked for at the last resolution and has not been given since."""
    return conversation.csat_requested_at is not None and (
        conversation.csat_received_at is None or conversation.csat_received_at < conversation.csat_requested_at
    )


def _words(text: str) -> str:
    # Lower-case words separated by single spaces, padded so " keyword " matches whole words/phrases only.
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def rule_matches(rule: AutoReplyRule, body: str) -> bool:
    text = _words(body)
    return any(_words(keyword) in text for keyword in rule.keyword_list() if _words(keyword).strip())


def match_rule(body: str, *, campaign_id: int | None) -> AutoReplyRule | None:
    """The first active rule (by priority, then id) of the conversation's campaign or global whose keyword
    or phrase occurs in the message as whole words, case-insensitively."""
    rules = AutoReplyRule.objects.filter(is_active=True).filter(
        Q(campaign__isnull=True) | Q(campaign_id=campaign_id) if campaign_id else Q(campaign__isnull=True)
    )
    return next((rule for rule in rules.order_by("priority", "pk") if rule_matches(rule, body)), None)


def bot_may_answer(conversation: Conversation, *, new_conversation: bool) -> bool:
    """The bot owns a conversation from its first message until it hands off or a human replies; a
    conversation whose first message the bot could not answer belongs to people from the start."""
    if conversation.escalated_to_human or conversation.first_response_at is not None:
        return False
    return new_conversation or conversation.handled_by_bot_first


def candidate_agents(conversation: Conversation):
    """Who may get the conversation: active agents of the campaign's team, else of the campaign's
    members, else (no campaign, or nobody there) every active agent."""
    agents = User.objects.filter(role=Role.AGENT, is_active=True)
    campaign = conversation.campaign
    if campaign is not None and campaign.team_id is not None:
        team_agents = agents.filter(teams=campaign.team_id)
        if team_agents.exists():
            return team_agents
    if campaign is not None:
        members = agents.filter(campaigns=campaign)
        if members.exists():
            return members
    return agents


# Agent presence lives in calls/ (status periods), which crm/ must not import. calls/ registers a
# function here at start-up that tells which of the given agents are in which state right now.
PresenceProvider = Callable[[list[int]], dict[int, str]]
presence_providers: list[PresenceProvider] = []

# Presence ranks for assignment: available first, then busy but logged in, then everyone else.
_PRESENCE_RANK = {"available": 0, "on_call": 1, "wrap_up": 1}


def _presence(agent_ids: list[int]) -> dict[int, str]:
    presence: dict[int, str] = {}
    for provider in presence_providers:
        presence.update(provider(agent_ids))
    return presence


def pick_agent(conversation: Conversation) -> User | None:
    """The contact's own agent when they are a candidate and available; else the least busy AVAILABLE
    candidate (fewest open or pending conversations assigned), ties by username. When nobody is
    available: logged-in (on a call, in wrap-up) before offline, by the same load order; the contact's
    own agent wins ties of presence. None when there is no agent at all."""
    candidates = list(
        candidate_agents(conversation)
        .annotate(
            load=Count("conversations", filter=Q(conversations__status__in=OPEN_CONVERSATION_STATUSES), distinct=True)
        )
        .order_by("load", "username")
    )
    if not candidates:
        return None
    presence = _presence([agent.pk for agent in candidates])
    own = conversation.contact.assigned_agent_id

    def rank(agent: User) -> tuple[int, int, int, str]:
        return (
            _PRESENCE_RANK.get(presence.get(agent.pk, ""), 2),
            0 if agent.pk == own else 1,
            agent.load,  # type: ignore[attr-defined]
            agent.username,
        )

    return min(candidates, key=rank)
