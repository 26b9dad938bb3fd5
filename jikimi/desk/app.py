"""Desk service HTTP app (port 8000).

For now it serves the health check and a plain page that tells a visitor where
the assistant is reached; the SMS gateway and the web widget build on this app.
"""

from __future__ import annotations

from sanic import Sanic, response
from sanic.request import Request

from jikimi.settings import Settings

PAGE = """<!doctype html>
<html lang="ko">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>지킴이</title></head>
<body>
<h1>지킴이</h1>
<p>지킴이는 딥페이크 성범죄에 대해 알려 주고, 피해를 입었을 때 도움을 찾도록 안내하는 챗봇이에요.
사람이 아니라 챗봇이에요.</p>
<p>지금 위험하다면 112(경찰)나 119에 바로 전화하세요.
죽고 싶은 마음이 들 때는 109(24시간), 청소년상담은 1388(24시간)에 연락할 수 있어요.</p>
</body>
</html>
"""


def create_app(settings: Settings) -> Sanic:
    """Builds the desk app; nothing is opened until the server starts."""
    app = Sanic("jikimi_desk")
    app.config.settings = settings

    @app.get("/healthz")
    async def healthz(_: Request) -> response.HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/")
    async def index(_: Request) -> response.HTTPResponse:
        return response.html(PAGE)

    return app
