"""Desk service HTTP app (port 8000).

It serves the health check and the web widget (jikimi/desk/widget.py: the chat
page at `/` and the script school sites embed); the SMS gateway builds on this app.
"""

from __future__ import annotations

from sanic import Sanic, response
from sanic.request import Request

from jikimi.desk.evidence import evidence_blueprint
from jikimi.desk.kakao import kakao_blueprint
from jikimi.desk.sms import sms_blueprint
from jikimi.desk.widget import widget_blueprint
from jikimi.settings import Settings


def create_app(settings: Settings) -> Sanic:
    """Builds the desk app; nothing is opened until the server starts."""
    app = Sanic("jikimi_desk")
    app.config.settings = settings

    @app.get("/healthz")
    async def healthz(_: Request) -> response.HTTPResponse:
        return response.json({"status": "ok"})

    # The web widget: GET / (the chat page), GET /embed.js, /static/.
    app.blueprint(widget_blueprint(settings))
    # The SMS gateway: POST /sms/inbound, the outbox dispatcher, escalation.
    app.blueprint(sms_blueprint(settings))
    # KakaoTalk: the event API dispatcher (jikimi/desk/kakao.py).
    app.blueprint(kakao_blueprint(settings))
    # The evidence log: GET /evidence/<token> (jikimi/desk/evidence.py).
    app.blueprint(evidence_blueprint(settings))

    return app
