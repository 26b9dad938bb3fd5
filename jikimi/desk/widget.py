"""The web widget: the chat page (`GET /`), the script school sites embed
(`GET /embed.js`) and their static files (`/static/`).

The page talks to the Rasa server's socket.io channel straight from the browser
(settings.rasa_public_url); the desk only serves files. Every Korean word of the
widget is in templates/ (page and embed script); hotline numbers come from
content/resources.yml, and so does the allow-list of link domains, so neither is
written twice; the desk's own evidence-log links are the one other kind of link.

The page keeps nothing on the device but a random session id in sessionStorage
(see static/widget.js), and its headers keep the browser from keeping more:
no caching, no referrer to the neutral site on quick exit, and a Content
Security Policy that only lets the page's own scripts run and only lets bot text
reach the DOM as text (Trusted Types: any innerHTML assignment throws).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List
from urllib.parse import urlsplit

from sanic import Blueprint, response
from sanic.request import Request

from jikimi import content, evidence_log
from jikimi.settings import Settings

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

# Shown on the first screen and in the lost-connection notice, in this order.
EMERGENCY = ("112", "119", "109", "1388")
OFFLINE = ("112", "119", "109", "1388", "1366")
# WebCrypto hashes a whole file in memory; past this a phone may run out of it.
MAX_HASH_BYTES = 512 * 1024 * 1024


def link_domains() -> List[str]:
    """Hosts of the services in content/resources.yml, the only links made clickable."""
    hosts = set()
    for entry in content.resources():
        url = entry.get("url")
        if not url:
            continue
        host = urlsplit(url if "://" in url else f"https://{url}").hostname
        if host:
            hosts.add(host.removeprefix("www."))
    return sorted(hosts)


def _hotlines(ids) -> List[Dict[str, str]]:
    return [
        {"number": entry["number"], "label": entry["short"], "hours": entry.get("hours")}
        for entry in content.resources(list(ids))
    ]


def _origins(url: str) -> List[str]:
    """The http(s) and ws(s) origins of a URL, for the CSP's connect-src."""
    parts = urlsplit(url)
    ws = "wss" if parts.scheme == "https" else "ws"
    return [f"{parts.scheme}://{parts.netloc}", f"{ws}://{parts.netloc}"]


def page_headers(settings: Settings) -> Dict[str, str]:
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self' " + " ".join(_origins(settings.rasa_public_url)),
            "base-uri 'none'",
            "form-action 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def widget_config(settings: Settings) -> Dict:
    """What widget.js reads from the page (a JSON block, never executed)."""
    return {
        "rasaUrl": settings.rasa_public_url,
        "exitUrl": settings.quick_exit_url,
        "linkDomains": link_domains(),
        # The bot's links to a case's printable evidence log (jikimi/evidence_log.py)
        # are tappable too: this prefix and a token, nothing else on this host.
        "evidenceBase": settings.public_url + evidence_log.PATH,
        "maxHashBytes": MAX_HASH_BYTES,
    }


def render_page(settings: Settings) -> str:
    return (
        content.environment("widget")
        .get_template("widget.html")
        .render(
            config=widget_config(settings),
            emergency=_hotlines(EMERGENCY),
            offline=_hotlines(OFFLINE),
            max_hash_mb=MAX_HASH_BYTES // (1024 * 1024),
        )
    )


def render_embed(settings: Settings) -> str:
    template = content.environment("widget").get_template("embed.js")
    return template.render(exit_url=settings.quick_exit_url)


def widget_blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("widget")
    bp.static("/static", str(STATIC), name="static")

    @bp.get("/")
    async def index(_: Request) -> response.HTTPResponse:
        return response.html(render_page(settings), headers=page_headers(settings))

    @bp.get("/embed.js")
    async def embed(_: Request) -> response.HTTPResponse:
        return response.text(
            render_embed(settings),
            content_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return bp
