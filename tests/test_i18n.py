"""The interface in English, Polish and Spanish (docs/operations.md "Languages").

The catalogs under locale/ are checked in pure Python (no gettext tools needed): every entry is
translated and none is fuzzy, placeholders survive, and each committed .mo says what its .po says, so
a .po edited without `compilemessages` fails here even on a machine without GNU gettext. Then the
pages: the language switcher changes the templates, the page-config choice labels and the JavaScript
catalog, and in a browser the console's numbers and dates follow the language (Intl).
"""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from calls.models import CallStatus
from crm.periods import local_midnight
from tests.factories import CallLogFactory
from tests.live import new_page

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ("pl", "es")
DOMAINS = ("django", "djangojs")
CATALOGS = [(lang, domain) for lang in LANGUAGES for domain in DOMAINS]
PLURAL_FORMS = {
    "pl": "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "es": "nplurals=2; plural=(n != 1);",
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|%\d|\{\w*\}")


# --- a small .po reader -----------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def read_po(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """(header fields, entries) of a .po file; obsolete (#~) entries are left out. Entries need not be
    separated by blank lines (a new one starts at its first comment or keyword after a msgstr)."""
    entries: list[Entry] = []
    current: Entry | None = None
    flags: set[str] = set()
    key: str | None = None
    seen_msgstr = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+"(.*)"$', line)
        if match:
            keyword, index, value = match.groups()
            if keyword == "msgctxt" or (keyword == "msgid" and (current is None or seen_msgstr)):
                if current is not None:
                    entries.append(current)
                current, seen_msgstr, flags = Entry(msgid="", flags=flags, line=number), False, set()
            assert current is not None, f"{path}:{number}: {keyword} before msgid"
            if keyword.startswith("msgstr"):
                seen_msgstr = True
                key = f"msgstr{int(index or 0)}"
                current.msgstr[int(index or 0)] = _unescape(value)
            else:
                key = keyword
                setattr(current, keyword, _unescape(value))
            continue
        match = re.match(r'^"(.*)"$', line)
        assert match and current is not None and key, f"{path}:{number}: cannot read {raw!r}"
        if key.startswith("msgstr"):
            current.msgstr[int(key[6:])] += _unescape(match.group(1))
        else:
            setattr(current, key, (getattr(current, key) or "") + _unescape(match.group(1)))
    if current is not None:
        entries.append(current)
    header_entries = [e for e in entries if e.msgid == "" and e.msgctxt is None]
    assert len(header_entries) == 1, f"{path}: one header expected"
    header: dict[str, str] = {}
    for line in header_entries[0].msgstr[0].splitlines():
        name, _, value = line.partition(":")
        header[name.strip()] = value.strip()
    return header, [e for e in entries if e not in header_entries]


def po(lang: str, domain: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"


def plural_examples(plural_forms: str) -> dict[int, int]:
    """A number n for each plural index the formula gives (n ≤ 1000)."""
    expression = plural_forms.split("plural=", 1)[1].rstrip(";").strip()
    formula = gettext.c2py(expression)
    examples: dict[int, int] = {}
    for n in range(1001):
        examples.setdefault(formula(n), n)
    return examples


# --- the catalogs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "domain"), CATALOGS)
def test_every_entry_is_translated_and_none_is_fuzzy(lang: str, domain: str) -> None:
    header, entries = read_po(po(lang, domain))
    assert header["Language"] == lang
    assert header["Plural-Forms"] == PLURAL_FORMS[lang]
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    nplurals = int(re.search(r"nplurals=(\d+)", PLURAL_FORMS[lang]).group(1))  # type: ignore[union-attr]
    assert len(entries) > 100
    problems = []
    for entry in entries:
        where = f"{entry.line}: {entry.msgid!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{where} is fuzzy")
        forms = [entry.msgstr.get(i, "") for i in range(nplurals)] if entry.msgid_plural else [entry.msgstr.get(0, "")]
        if entry.msgid_plural and sorted(entry.msgstr) != list(range(nplurals)):
            problems.append(f"{where} has plural forms {sorted(entry.msgstr)}, not {nplurals}")
        if not all(form.strip() for form in forms):
            problems.append(f"{where} is not translated")
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        for form in forms:
            if form and sorted(PLACEHOLDER.findall(form)) != wanted:
                problems.append(f"{where}: placeholders {wanted} became {sorted(PLACEHOLDER.findall(form))}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("lang", "domain"), CATALOGS)
def test_every_compiled_catalog_says_what_its_po_says(lang: str, domain: str) -> None:
    header, entries = read_po(po(lang, domain))
    mo = po(lang, domain).with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run manage.py compilemessages (docs/operations.md)"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    examples = plural_examples(header["Plural-Forms"])
    keys: set[Any] = {""}
    for entry in entries:
        if entry.msgid_plural is None:
            key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
            keys.add(key)
            got = (
                compiled.gettext(entry.msgid)
                if entry.msgctxt is None
                else compiled.pgettext(entry.msgctxt, entry.msgid)
            )
            if got != entry.msgstr[0]:
                stale.append(f"{entry.msgid!r}: .mo has {got!r}, .po {entry.msgstr[0]!r}")
            continue
        for index, n in examples.items():
            key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
            keys.add((key, index))
            if entry.msgctxt is None:
                got = compiled.ngettext(entry.msgid, entry.msgid_plural, n)
            else:
                got = compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
            if got != entry.msgstr[index]:
                stale.append(f"{entry.msgid!r} (n={n}): .mo has {got!r}, .po {entry.msgstr[index]!r}")
    # nothing the .po no longer has (GNUTranslations keeps its catalog in _catalog)
    extra = set(compiled._catalog) - keys  # type: ignore[attr-defined]
    stale += [f"{key!r} is in the .mo only" for key in sorted(extra, key=str)]
    assert compiled.info().get("plural-forms") == header["Plural-Forms"]
    assert not stale, "run manage.py compilemessages -l pl -l es (docs/operations.md):\n" + "\n".join(stale)


# The sources say which strings exist; GNU gettext is needed to read them the way makemessages does.
needs_xgettext = pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")


def _sources(base: Path, suffixes: set[str], skipped: set[str]) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(base):
        relative = Path(root).relative_to(base)
        dirs[:] = [d for d in dirs if not d.startswith(".") and (relative / d).as_posix() not in skipped]
        found += [Path(root) / name for name in names if Path(name).suffix in suffixes]
    return found


def _extracted(domain: str, tmp_path: Path) -> set[tuple[str | None, str]]:
    from django.core.management.commands.makemessages import Command as Django
    from django.utils.translation.template import templatize

    from config.management.commands.makemessages import ALWAYS_IGNORED, JS_KEYWORDS

    base = Path(settings.BASE_DIR)
    options = [*Django.xgettext_options, "--output=-"]  # with its header: UTF-8 survives
    common = ["--keyword=gettext_noop", "--keyword=gettext_lazy", "--keyword=ngettext_lazy:1,2"]
    common += ["--keyword=pgettext:1c,2", "--keyword=npgettext:1c,2,3"]
    if domain == "djangojs":
        files = sorted(base.glob("static/js/*.js"))
        args = ["--language=JavaScript", *common, *JS_KEYWORDS]
    else:
        files = []
        for path in sorted(_sources(base, {".py", ".html", ".txt"}, {*ALWAYS_IGNORED, "locale"})):
            if path.suffix != ".py":  # templates: as Django's makemessages reads them
                copy = tmp_path / path.relative_to(base).with_suffix(path.suffix + ".py")
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(templatize(path.read_text(encoding="utf-8"), origin=str(path)), encoding="utf-8")
                path = copy
            files.append(path)
        args = ["--language=Python", *common, "--keyword=pgettext_lazy:1c,2", "--keyword=npgettext_lazy:1c,2,3"]
    listing = tmp_path / f"{domain}-files.txt"
    listing.write_text("\n".join(str(f) for f in files))
    out = subprocess.run(
        [str(shutil.which("xgettext")), "-d", domain, *args, *options, "--files-from", str(listing)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pot = tmp_path / f"{domain}.pot"
    pot.write_text(out, encoding="utf-8")
    return {(e.msgctxt, e.msgid) for e in read_po(pot)[1]}


@needs_xgettext
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalogs_hold_exactly_the_strings_of_the_sources(domain: str, tmp_path: Path) -> None:
    in_sources = _extracted(domain, tmp_path)
    for lang in LANGUAGES:
        in_catalog = {(e.msgctxt, e.msgid) for e in read_po(po(lang, domain))[1]}
        assert in_sources - in_catalog == set(), f"{lang}: new strings; run makemessages and translate them"
        assert in_catalog - in_sources == set(), f"{lang}: strings no longer in the sources; run makemessages"


# --- the pages ------------------------------------------------------------------------------------------


def switch(client: Client, lang: str, to: str) -> str:
    response = client.post("/i18n/setlang/", {"language": lang, "next": to})
    assert response.status_code == 302 and response["Location"] == to
    return client.get(to).content.decode()


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def labels(config: dict[str, Any], kind: str) -> dict[str, str]:
    return {choice["value"]: choice["label"] for choice in config["choices"][kind]}


CONSOLE = {
    "en": ["My console", "Start call", "Take a break", "Talk time", "My KPIs", "· Agent<", ">Language<"],
    "pl": ["Moja konsola", "Zadzwoń", "Rozpocznij przerwę", "Czas rozmów", "Moje KPI", "· Agent<", ">Język<"],
    "es": [
        "Mi consola",
        "Iniciar llamada",
        "Iniciar pausa",
        "Tiempo de conversación",
        "Mis KPI",
        "· Agente<",
        ">Idioma<",
    ],
}
CONSOLE_CHOICES = {
    "en": {
        "agent_status": ("on_call", "On call"),
        "break_reason": ("lunch", "Lunch"),
        "call_status": ("no_answer", "No answer"),
    },
    "pl": {
        "agent_status": ("on_call", "W rozmowie"),
        "break_reason": ("short", "Krótka przerwa"),
        "call_status": ("no_answer", "Nieodebrane"),
    },
    "es": {
        "agent_status": ("on_call", "En llamada"),
        "break_reason": ("short", "Pausa corta"),
        "call_status": ("no_answer", "No contesta"),
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["pl", "es", "en"])
def test_the_agent_console_speaks_the_chosen_language(client: Client, agent_a1: Any, lang: str) -> None:
    client.force_login(agent_a1)
    html = switch(client, lang, "/agent/")
    assert f'<html lang="{lang}">' in html
    for text in CONSOLE[lang]:
        assert text in html, text
    config = page_config(html)
    for kind, (value, label) in CONSOLE_CHOICES[lang].items():
        assert labels(config, kind)[value] == label, kind
    assert labels(config, "agent_status")["break"] == {"en": "Break", "pl": "Przerwa", "es": "Pausa"}[lang]
    assert (
        labels(config, "call_direction")["outbound"] == {"en": "Outbound", "pl": "Wychodzące", "es": "Saliente"}[lang]
    )
    # the language sticks (a cookie), and the choice values never change
    assert f'<html lang="{lang}">' in client.get("/agent/").content.decode()
    assert [c["value"] for c in config["choices"]["final_call_status"]] == [
        s.value for s in CallStatus if s != CallStatus.IN_PROGRESS
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "texts", "completed"),
    [
        (
            "pl",
            ["Agenci teraz", "Historia połączeń", "Ekran ścienny", "Zespół: połączenia na agenta", "· Supervisor<"],
            "Zakończone",
        ),
        (
            "es",
            [
                "Agentes ahora",
                "Historial de llamadas",
                "Pantalla mural",
                "Equipo: llamadas por agente",
                "· Supervisor<",
            ],
            "Completada",
        ),
    ],
)
def test_the_supervisor_dashboard_speaks_the_chosen_language(
    client: Client, supervisor_a: Any, team_a: Any, lang: str, texts: list[str], completed: str
) -> None:
    client.force_login(supervisor_a)
    html = switch(client, lang, "/dashboard/")
    assert f'<html lang="{lang}">' in html
    for text in texts:
        assert text in html, text
    assert "Agents now" not in html and "Call history" not in html
    config = page_config(html)
    assert labels(config, "call_status")["completed"] == completed
    assert labels(config, "agent_status")["wrap_up"] == {"pl": "Po rozmowie", "es": "Post-llamada"}[lang]


@pytest.mark.django_db
def test_the_login_page_and_roles_are_translated(client: Client, admin: Any) -> None:
    assert "Zaloguj się do Callboard" in switch(client, "pl", "/accounts/login/")
    client.force_login(admin)
    assert "· Administrator<" in client.get("/dashboard/").content.decode()
    assert ">Administracja<" in client.get("/dashboard/").content.decode()  # the admin site's link, not the role
    assert "· Administrador<" in switch(client, "es", "/dashboard/")


def js_catalog(client: Client) -> tuple[dict[str, Any], str]:
    body = client.get("/jsi18n/").content.decode()
    match = re.search(r"const newcatalog = (\{.*?\});\n", body, re.S)
    assert match, body[:500]
    plural = re.search(r"const v = (.*?);\n", body)
    assert plural
    return json.loads(match.group(1)), plural.group(1)


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_javascript_catalog_holds_every_string_of_the_scripts(client: Client, lang: str) -> None:
    switch(client, lang, "/accounts/login/")
    catalog, plural = js_catalog(client)
    header, entries = read_po(po(lang, "djangojs"))
    assert plural == header["Plural-Forms"].split("plural=", 1)[1].rstrip(";")
    for entry in entries:
        wanted: Any = entry.msgstr[0] if entry.msgid_plural is None else [entry.msgstr[i] for i in sorted(entry.msgstr)]
        assert catalog.get(entry.msgid) == wanted, entry.msgid
    expected = {"pl": ("Rozmowa", "Na żywo", 3), "es": ("En conversación", "En directo", 2)}[lang]
    assert (catalog["Talking"], catalog["Live"], len(catalog["%s call, newest first."])) == expected


# --- in a real browser ------------------------------------------------------------------------------------


@pytest.mark.browser
def test_an_agent_switches_the_console_to_polish_then_spanish(asgi_server: Any, browser: Any, agent_a1: Any) -> None:
    from playwright.sync_api import expect

    # three ended calls today, one of them successful: the success rate is 33.3 %, a decimal to format
    at = max(timezone.now() - timedelta(minutes=20), local_midnight(timezone.localdate()) + timedelta(seconds=1))
    CallLogFactory.create(agent=agent_a1, started_at=at)
    for status in (CallStatus.NO_ANSWER, CallStatus.BUSY):
        CallLogFactory.create(agent=agent_a1, status=status, started_at=at, answered_at=None, duration_seconds=0)

    page = new_page(browser, asgi_server, "agent_a1", locale="en-US")
    page.goto("/agent/")
    rate = page.locator('[data-kpi="today.success_rate"]')
    expect(rate).to_have_text("33.3%")
    expect(page.locator("#state-label")).to_have_text("Available")  # logging in starts the working day

    for lang, label, heading, live, state, percent, completed in (
        ("pl", "Language", "Moja konsola", "Na żywo", "Dostępny", r"^33,3\s?%$", "Zakończone"),
        ("es", "Język", "Mi consola", "En directo", "Disponible", r"^33,3\s?%$", "Completada"),
    ):
        with page.expect_navigation():
            page.get_by_label(label).select_option(lang)  # the top bar's selector submits on change
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        # strings of the scripts (the JavaScript catalog) and choice labels (the page config)
        expect(page.locator("[data-live-status]")).to_have_text(live)
        expect(page.locator("#timer-phase")).to_have_text({"pl": "Brak połączenia", "es": "Sin llamada"}[lang])
        expect(page.locator("#state-label")).to_have_text(state)
        expect(page.locator("#calls-body")).to_contain_text(completed)
        # numbers and dates: Intl in the page's language
        expect(rate).to_have_text(re.compile(percent))
        day = page.locator("#stats-date")
        expect(day).not_to_have_text("")
        noon = f"{timezone.localdate().isoformat()}T12:00:00"
        in_words = "([lang, day]) => new Intl.DateTimeFormat(lang, { dateStyle: 'medium' }).format(new Date(day))"
        assert day.text_content() == page.evaluate(in_words, [lang, noon])
        assert day.text_content() != page.evaluate(in_words, ["en", noon])


# --- a person's own language ------------------------------------------------------------------------------


def test_switching_saves_the_persons_language_which_follows_them_to_another_browser(agent_a1) -> None:
    laptop = Client()
    laptop.force_login(agent_a1)
    assert "Mi consola" in switch(laptop, "es", "/agent/")
    agent_a1.refresh_from_db()
    assert agent_a1.language == "es"
    phone = Client(headers={"accept-language": "en"})  # another browser: no language cookie
    phone.force_login(agent_a1)
    response = phone.get("/agent/")
    assert "Mi consola" in response.content.decode() and response["Content-Language"] == "es"
    # this browser's own choice wins over the saved one
    assert "Moja konsola" in switch(phone, "pl", "/agent/")
    assert "Mi consola" in laptop.get("/agent/").content.decode()  # the laptop keeps its own choice
    agent_a1.refresh_from_db()
    assert agent_a1.language == "pl"


def test_without_a_saved_language_the_browsers_is_used_and_an_anonymous_switch_saves_nothing(agent_a1) -> None:
    client = Client(headers={"accept-language": "pl"})
    client.force_login(agent_a1)
    assert "Moja konsola" in client.get("/agent/").content.decode()
    anonymous = Client()
    response = anonymous.post("/i18n/setlang/", {"language": "es", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert "es" in anonymous.get("/accounts/login/")["Content-Language"]
    agent_a1.refresh_from_db()
    assert agent_a1.language == ""
