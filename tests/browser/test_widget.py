"""The web widget in Chromium against the real desk service and Rasa server.

Every test starts from a fresh browser profile on a phone-sized screen. Waits
use Playwright's polling expectations (they wait for a state, never assert how
long something took).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

HANGUL = re.compile(r"[가-힣]")
# Loading a model after a restart, and socket.io's reconnect back-off, take a while.
SLOW = 120_000


def open_widget(page, stack):
    page.goto(stack.desk_url + "/")
    expect(page.locator("#start")).to_be_visible()


def start_chat(page, stack):
    """Start, and wait for the greeting with its menu buttons."""
    open_widget(page, stack)
    page.click("#start")
    expect(page.locator("#log li.bot").first).to_contain_text("챗봇", timeout=SLOW)
    expect(page.locator("#log .quick button").first).to_be_visible()


def replies_to(page, act) -> list:
    """What the bot says to one student action (a click, Enter): every bot message
    that arrived until Rasa acknowledged the student's message."""
    before = page.locator("#log li.bot").count()
    users = page.locator("#log li.user").count()
    act()
    expect(page.locator("#log li.user")).to_have_count(users + 1)
    expect(page.locator("#typing")).to_be_hidden(timeout=SLOW)
    return page.locator("#log li.bot p").all_inner_texts()[before:]


def session_token(page) -> str:
    return page.evaluate("sessionStorage.getItem('jikimi.session')")


def session_id(page) -> str:
    """The conversation id: the token the server gave the widget, less its signature."""
    return session_token(page).rsplit(".", 1)[0]


def storage_report(page) -> dict:
    return page.evaluate(
        """async () => ({
            local: localStorage.length,
            session: Object.keys(sessionStorage),
            cookie: document.cookie,
            indexedDB: (await indexedDB.databases()).map((db) => db.name),
        })"""
    )


# --- first screen -------------------------------------------------------------------


def test_first_screen_says_what_jikimi_is_and_gives_emergency_numbers(page, widget_stack):
    open_widget(page, widget_stack)
    intro = page.locator("#intro")
    expect(intro.locator("h1")).to_have_text("지킴이")
    expect(intro).to_contain_text("사람이 아니라 챗봇이에요")
    expect(intro).to_contain_text("저장")
    expect(intro).to_contain_text("사진이나 영상 파일은 받지 않아요")
    for number in ("112", "119", "109", "1388"):
        expect(intro.locator(f'a[href="tel:{number}"]')).to_be_visible()
    expect(page.get_by_role("button", name="빠른 나가기")).to_be_visible()
    expect(page.get_by_role("button", name="시작하기")).to_be_visible()
    # Nothing is kept before the student starts.
    assert storage_report(page) == {"local": 0, "session": [], "cookie": "", "indexedDB": []}


def test_page_headers_keep_the_browser_from_keeping_or_running_more(widget_stack):
    import requests

    response = requests.get(widget_stack.desk_url + "/", timeout=10)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "require-trusted-types-for 'script'" in policy
    assert widget_stack.rasa_url in policy  # the socket.io channel is allowed, nothing else
    assert "Set-Cookie" not in response.headers
    for path in ("/embed.js", "/static/widget.js", "/static/vendor/socket.io.min.js"):
        assert requests.get(widget_stack.desk_url + path, timeout=10).status_code == 200
    # The static route serves its folder only.
    leak = requests.get(widget_stack.desk_url + "/static/..%2Fwidget.py", timeout=10)
    assert leak.status_code == 404


# --- conversation -------------------------------------------------------------------


def test_start_greet_tap_a_button_and_get_a_korean_reply(page, widget_stack):
    start_chat(page, widget_stack)
    page.fill("#input", "안녕하세요")
    greeting = replies_to(page, lambda: page.press("#input", "Enter"))
    expect(page.locator("#log li.user").last).to_have_text(re.compile("안녕하세요"))
    assert greeting and "지킴이" in greeting[0]

    button = page.locator("#log .quick button", has_text="딥페이크가 뭐예요?").last
    lesson = replies_to(page, button.click)
    expect(page.locator("#log li.user").last).to_have_text(re.compile("딥페이크가 뭐예요"))
    assert lesson and all(HANGUL.search(text) for text in lesson)
    assert "딥페이크" in " ".join(lesson)
    # Used buttons go away; the new ones belong to the new reply.
    expect(page.locator("#log .quick")).to_have_count(1)


def test_typing_indicator_shows_while_the_bot_works(page, widget_stack):
    """The action server is paused (SIGSTOP), so the reply cannot come before we look."""
    start_chat(page, widget_stack)
    actions = widget_stack.processes["actions"]
    os.killpg(actions.pid, signal.SIGSTOP)
    try:
        page.locator("#log .quick button", has_text="법은 어떻게 돼요?").last.click()
        expect(page.locator("#typing")).to_be_visible()
        expect(page.locator("#typing")).to_contain_text("지킴이가 답을 쓰고 있어요")
    finally:
        os.killpg(actions.pid, signal.SIGCONT)
    expect(page.locator("#typing")).to_be_hidden(timeout=SLOW)
    expect(page.locator("#log")).to_contain_text("범죄예요")


def test_session_token_is_the_servers_and_only_in_session_storage(browser, widget_stack):
    ids = []
    for _ in range(2):
        context = browser.new_context()
        page = context.new_page()
        start_chat(page, widget_stack)
        report = storage_report(page)
        assert report == {
            "local": 0,
            "session": ["jikimi.session"],
            "cookie": "",
            "indexedDB": [],
        }
        assert context.cookies() == []
        ids.append(session_token(page))
        context.close()
    # Issued by the server and signed (jikimi/sessions.py), kept as it came.
    assert all(re.fullmatch(r"ws-[a-z2-7]{8}-[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{32}", i) for i in ids)
    assert ids[0] != ids[1]


def test_long_polling_fallback_reaches_the_rasa_server(page, widget_stack):
    """Where a network blocks WebSockets the client falls back to HTTP long-polling,
    which is cross-origin (desk page -> Rasa server) and so needs valid CORS headers."""
    open_widget(page, widget_stack)
    outcome = page.evaluate(
        """(url) => new Promise((resolve) => {
            const s = io(url, {transports: ["polling"], reconnection: false});
            s.on("connect", () => s.emit("session_request", {session_id: "polling-check"}));
            s.on("session_confirm", (id) => { s.disconnect(); resolve("confirmed " + id); });
            s.on("connect_error", (error) => resolve("connect_error: " + error.message));
        })""",
        widget_stack.rasa_url,
    )
    # A made-up id is not taken: the server names a conversation of its own.
    assert outcome.startswith("confirmed ws-") and "polling-check" not in outcome


# --- quick exit --------------------------------------------------------------------------


# Records every WebSocket.close() the page calls, before quick exit navigates away
# (a navigating page may drop the socket without Playwright seeing a close event).
RECORD_CLOSE = """
const close = WebSocket.prototype.close;
WebSocket.prototype.close = function (...args) {
  window.__socketClosed(this.url);
  return close.apply(this, args);
};
"""


@pytest.mark.parametrize("how", ["button", "escape twice"])
def test_quick_exit_leaves_nothing_and_back_does_not_return(
    page, context, widget_stack, exit_url, how
):
    closed = []
    page.expose_function("__socketClosed", lambda url: closed.append(url))
    page.add_init_script(RECORD_CLOSE)
    start_chat(page, widget_stack)

    if how == "button":
        page.get_by_role("button", name="빠른 나가기").click()
    else:
        page.locator("#input").focus()
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
    page.wait_for_url(exit_url)
    expect(page.locator("body")).to_have_text("neutral site")
    rasa_socket = widget_stack.rasa_url.replace("http://", "ws://") + "/socket.io/"
    assert any(url.startswith(rasa_socket) for url in closed), closed

    # Back does not return to the conversation (location.replace).
    page.go_back()
    assert not page.url.startswith(widget_stack.desk_url)
    assert "지킴이" not in page.content()

    # Nothing is left for this origin: cookies, localStorage, IndexedDB, sessionStorage.
    state = context.storage_state()
    assert state["cookies"] == []
    assert all(not origin.get("localStorage") for origin in state["origins"])
    page.goto(widget_stack.desk_url + "/")
    assert storage_report(page) == {"local": 0, "session": [], "cookie": "", "indexedDB": []}
    expect(page.locator("#log li")).to_have_count(0)


# --- rendering ---------------------------------------------------------------------------

HOSTILE = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    " <b>굵게</b> 1388.go.kr 에서 상담해요. http://evil.example.com/login"
)


def send_as_bot(stack, sender: str, event: dict) -> None:
    """What Rasa sends when it utters `event` to this conversation (HTTP API)."""
    stack.rasa_api(
        "POST",
        f"/conversations/{sender}/tracker/events",
        params={"output_channel": "socketio", "execute_side_effects": "true"},
        json=event,
    )


def test_bot_text_is_shown_as_text_with_only_allowed_links(page, widget_stack):
    start_chat(page, widget_stack)
    send_as_bot(widget_stack, session_id(page), {"event": "bot", "text": HOSTILE})
    last = page.locator("#log li.bot").last
    expect(last).to_contain_text("<script>window.__pwned = 1</script>")
    expect(last).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    expect(last).to_contain_text("<b>굵게</b>")
    assert page.locator("#log script, #log img, #log b").count() == 0
    assert page.evaluate("window.__pwned") is None
    # The service from content/resources.yml is a link; any other domain stays text.
    expect(last.locator("a")).to_have_count(1)
    expect(last.locator("a")).to_have_attribute("href", "https://1388.go.kr/")
    expect(last.locator("a")).to_have_attribute("rel", "noopener noreferrer")
    expect(last).to_contain_text("http://evil.example.com/login")


def test_the_evidence_log_link_is_tappable_and_nothing_else_on_the_desk(page, widget_stack):
    """The bot's link to the printable evidence log (messages.yml evidence_log_link)
    opens with a tap; other paths on the desk's host stay text."""
    start_chat(page, widget_stack)
    base = page.evaluate(
        "JSON.parse(document.getElementById('jikimi-config').textContent).evidenceBase"
    )
    assert base.endswith("/evidence/")
    link = base + "gAAAAABn_Token-123"
    other = base.removesuffix("evidence/") + "admin/x"
    text = f"증거 기록 페이지예요. 24시간 동안 열려요: {link}\n다른 주소: {other}"
    send_as_bot(widget_stack, session_id(page), {"event": "bot", "text": text})
    last = page.locator("#log li.bot").last
    expect(last.locator("a")).to_have_count(1)
    expect(last.locator("a")).to_have_attribute("href", link)
    expect(last.locator("a")).to_have_text(link)
    expect(last.locator("a")).to_have_attribute("rel", "noopener noreferrer")
    expect(last).to_contain_text(other)


def test_counsellor_message_is_marked_as_from_a_person(page, widget_stack):
    start_chat(page, widget_stack)
    words = "안녕하세요, 상담 선생님이에요. <img src=x onerror=window.__pwned=3>"
    send_as_bot(
        widget_stack,
        session_id(page),
        {"event": "bot", "data": {"custom": {"from_counsellor": True, "text": words}}},
    )
    message = page.locator("#log li.counsellor")
    expect(message).to_have_count(1)
    expect(message.locator(".who")).to_be_visible()
    expect(message.locator(".who")).to_have_text("상담 선생님 (사람)")
    expect(message.locator("p")).to_have_text(words)
    assert page.evaluate("window.__pwned") is None
    # A bot message is not marked as a person.
    assert page.locator("#log li.bot .who").count() == 0


# --- evidence ------------------------------------------------------------------------------


def test_evidence_hash_is_correct_and_the_file_never_leaves(page, widget_stack):
    data = os.urandom(300_000) + "지킴이-증거-표식".encode() + os.urandom(1000)
    name = '학교 "단톡방" 캡처\\1.png'
    sent_frames: list[bytes] = []
    bodies: list[bytes] = []

    def on_socket(ws):
        ws.on(
            "framesent",
            lambda payload: sent_frames.append(
                payload if isinstance(payload, bytes) else payload.encode()
            ),
        )

    page.on("websocket", on_socket)
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))

    start_chat(page, widget_stack)
    page.get_by_role("button", name="증거 파일 지문 만들기").click()
    panel = page.locator("#evidence")
    expect(panel).to_contain_text("이 기기 밖으로 나가지 않아요")
    page.set_input_files(
        "#evidence-files", files=[{"name": name, "mimeType": "image/png", "buffer": data}]
    )
    digest = hashlib.sha256(data).hexdigest()
    expect(panel.locator("code")).to_have_text(digest)
    page.get_by_role("button", name="지문 보내기").click()
    expect(page.locator("#log li.user").last).to_contain_text("증거 지문 보냄")
    expect(page.locator("#log li.user .state")).to_have_count(0)
    expect(page.locator("#typing")).to_be_hidden(timeout=SLOW)  # acknowledged by Rasa

    payloads = []
    for frame in sent_frames:
        text = frame.decode("utf-8", errors="replace")
        match = re.match(r"^42\d*(\[.*\])$", text, re.S)
        if match:
            event, body = json.loads(match.group(1))[:2]
            if event == "user_uttered" and body["message"].startswith("/add_evidence"):
                payloads.append(body["message"])
    assert len(payloads) == 1, payloads
    entities = json.loads(payloads[0].removeprefix("/add_evidence"))
    assert set(entities) == {"sha256", "name", "size", "captured_at"}
    assert entities["sha256"] == digest
    assert entities["name"] == name
    assert entities["size"] == len(data)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entities["captured_at"])

    # No request body or websocket frame carries the file, raw or encoded.
    everything = sent_frames + bodies
    assert sum(len(b) for b in everything) < len(data)
    probes = [
        data[1000:1064],
        "지킴이-증거-표식".encode(),
        base64.b64encode(data[3000:3048]),
        data[5000:5032].hex().encode(),
    ]
    for blob in everything:
        for probe in probes:
            assert probe not in blob


# --- keyboard and accessibility -------------------------------------------------------------


def tab_to(page, selector: str, text: str = "", backwards: bool = False, limit: int = 40):
    """Presses Tab (or Shift+Tab) until the focused element matches, as a person would."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if page.evaluate(
            "([s, t]) => document.activeElement.matches(s)"
            " && document.activeElement.textContent.includes(t)",
            [selector, text],
        ):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} {text!r} cannot be reached with {key}")


def test_keyboard_only_from_start_to_quick_exit(browser, widget_stack, exit_url):
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="ko-KR")
    context.route(exit_url + "**", lambda route: route.fulfill(body="neutral site"))
    page = context.new_page()
    try:
        open_widget(page, widget_stack)
        tab_to(page, "#start")
        page.keyboard.press("Enter")
        # Focus goes to the message box; the greeting is announced by the live region.
        assert page.evaluate("document.activeElement.id") == "input"
        log = page.locator("#log")
        expect(log).to_have_attribute("role", "log")
        expect(log).to_have_attribute("aria-live", "polite")
        expect(log.locator("li.bot").first).to_contain_text("챗봇", timeout=SLOW)

        page.keyboard.type("안녕")
        assert replies_to(page, lambda: page.keyboard.press("Enter"))
        expect(log.locator("li.user").last).to_contain_text("안녕")

        # The quick replies are reached backwards from the message box; after one is
        # chosen, focus comes back to the message box.
        tab_to(page, "#log .quick button", "법은 어떻게 돼요?", backwards=True)
        law = replies_to(page, lambda: page.keyboard.press("Enter"))
        assert "범죄예요" in " ".join(law)
        assert page.evaluate("document.activeElement.id") == "input"

        # The evidence panel opens with focus on it, Esc closes it and focus returns.
        tab_to(page, "#evidence-open")
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "evidence-title"
        tab_to(page, "#evidence-files")
        page.keyboard.press("Escape")
        expect(page.locator("#evidence")).to_be_hidden()
        assert page.evaluate("document.activeElement.id") == "evidence-open"

        page.keyboard.press("Tab")  # any other key resets the Esc count
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        page.wait_for_url(exit_url)
    finally:
        context.close()


def axe_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}},
    )
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]


def test_wcag_aa_on_every_screen(page, widget_stack):
    """axe-core (WCAG 2.1 A/AA, colour contrast included) on the first screen, the
    chat with bot, student and counsellor messages, and the evidence panel."""
    open_widget(page, widget_stack)
    assert axe_violations(page) == []
    page.click("#start")
    expect(page.locator("#log .quick button").first).to_be_visible(timeout=SLOW)
    page.fill("#input", "안녕")
    assert replies_to(page, lambda: page.press("#input", "Enter"))
    send_as_bot(
        widget_stack,
        session_id(page),
        {"event": "bot", "data": {"custom": {"from_counsellor": True, "text": "괜찮아요."}}},
    )
    expect(page.locator("#log li.counsellor")).to_have_count(1)
    assert axe_violations(page) == []
    page.get_by_role("button", name="증거 파일 지문 만들기").click()
    assert axe_violations(page) == []


def test_phone_layout_fits_the_screen(page, widget_stack):
    """No sideways scrolling on a phone; quick exit and the message box are on screen.
    With JIKIMI_SCREENSHOT=path the chat is saved there (the README's picture)."""
    start_chat(page, widget_stack)
    button = page.locator("#log .quick button", has_text="딥페이크가 뭐예요?").last
    assert replies_to(page, button.click)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]
    for selector in ("#exit", "#input", "#send"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width[1]
        assert 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"]
    if os.environ.get("JIKIMI_SCREENSHOT"):
        page.screenshot(path=Path(os.environ["JIKIMI_SCREENSHOT"]))


# --- embedding and reconnecting -------------------------------------------------------------


@pytest.fixture
def school_site(widget_stack):
    """A school's page on its own origin (a local server on another port) that embeds
    the widget with the one line the README gives."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    page = (
        '<!doctype html><html lang="ko"><title>우리 학교</title><h1>우리 학교</h1>'
        f'<script src="{widget_stack.desk_url}/embed.js" defer></script>'
    ).encode()

    class School(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), School)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_embedded_on_a_school_site_quick_exit_replaces_the_school_page(
    page, widget_stack, school_site, exit_url
):
    page.goto(school_site)
    page.get_by_role("button", name="지킴이와 이야기하기").click()
    frame = page.frame_locator('iframe[title^="지킴이"]')
    expect(frame.locator("#start")).to_be_visible()
    frame.locator("#start").click()
    expect(frame.locator("#log li.bot").first).to_contain_text("챗봇", timeout=SLOW)
    frame.get_by_role("button", name="빠른 나가기").click()
    page.wait_for_url(exit_url)
    page.go_back()
    assert page.url != school_site


def test_reconnects_after_the_rasa_server_restarts_and_sends_what_was_typed(page, widget_stack):
    start_chat(page, widget_stack)
    widget_stack.stop("rasa")
    try:
        notice = page.locator("#offline")
        expect(notice).to_be_visible(timeout=SLOW)
        expect(notice).to_have_attribute("role", "alert")
        for number in ("112", "109", "1388"):
            expect(notice.locator(f'a[href="tel:{number}"]')).to_be_visible()

        page.fill("#input", "안녕하세요")
        page.press("#input", "Enter")
        typed = page.locator("#log li.user").last
        expect(typed).to_contain_text("안녕하세요")
        expect(typed.locator(".state")).to_have_text("연결되면 보낼게요")
    finally:
        widget_stack.start("rasa")

    expect(notice).to_be_hidden(timeout=SLOW)
    expect(page.locator("#online-status")).to_have_text("다시 연결됐어요.")
    expect(typed.locator(".state")).to_have_count(0, timeout=SLOW)
    answer = typed.locator("xpath=following-sibling::li[contains(@class, 'bot')]")
    expect(answer.first).to_contain_text("지킴이", timeout=SLOW)  # the greeting
    expect(page.locator("#typing")).to_be_hidden(timeout=SLOW)
    assert page.locator("#log li.user").all_inner_texts().count(typed.inner_text()) == 1
