"""`GET /evidence/<token>`: the evidence log page behind its expiring link
(jikimi/evidence_log.py has the token and the page).

A link that does not open gets a kind Korean page and no detail: 404 for a
forged or damaged link, 410 for an expired one or a deleted case, 503 when the
database cannot be read. Every answer is kept out of caches, referrers and
search engines; the page runs no script but its print button (CSP hash) and
loads nothing from anywhere. Tokens and case codes are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Dict

from sanic import Blueprint, response
from sanic.request import Request

from jikimi import evidence_log
from jikimi.settings import Settings

logger = logging.getLogger(__name__)

ERROR_STATUS = {"invalid": 404, "expired": 410, "gone": 410, "unavailable": 503}


def headers() -> Dict[str, str]:
    policy = "; ".join(
        [
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            f"script-src {evidence_log.script_hash()}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex, nofollow",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": policy,
    }


def _error(kind: str) -> response.HTTPResponse:
    return response.html(
        evidence_log.render_error(kind), status=ERROR_STATUS[kind], headers=headers()
    )


def evidence_blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("evidence_log")

    @bp.get(evidence_log.PATH + "<token:str>")
    async def evidence_page(_: Request, token: str) -> response.HTTPResponse:
        try:
            target = evidence_log.verify(settings, token)
        except evidence_log.LinkExpired:
            return _error("expired")
        except evidence_log.LinkError:
            return _error("invalid")
        try:
            page = await asyncio.to_thread(
                evidence_log.render, settings, target.case_code, expires_at=target.expires_at
            )
        except evidence_log.CaseNotFound:
            return _error("gone")
        except Exception as error:  # noqa: BLE001 - the student gets a kind page
            # The type only: database errors quote their parameters (the case code).
            logger.error("The evidence log could not be rendered: %s", type(error).__name__)
            return _error("unavailable")
        return response.html(page, headers=headers())

    # A token with a slash in it is not ours either: the same kind 404, not Sanic's.
    @bp.get(evidence_log.PATH + "<rest:path>")
    async def evidence_other(_: Request, rest: str) -> response.HTTPResponse:
        return _error("invalid")

    return bp
