{#
  The script a school site embeds: <script src="https://DESK/embed.js" defer></script>.
  It adds a button that opens the widget (GET / of the desk) in a frame. The frame
  keeps the conversation away from the school page's own scripts; its quick exit
  asks this page to replace itself with the neutral site too, and Esc twice here
  does the same while the widget is open.
#}
/* 지킴이 web widget loader. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__jikimiEmbedded) return;
  window.__jikimiEmbedded = true;
  var origin = new URL(script.src).origin;
  var EXIT_URL = {{ exit_url | tojson }};
  var TEXT = {{ {
    "open": "지킴이와 이야기하기",
    "close": "지킴이 닫기",
    "frame": "지킴이 채팅 (딥페이크 성범죄 도움 챗봇)"
  } | tojson }};

  var button = document.createElement("button");
  button.type = "button";
  button.textContent = TEXT.open;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText =
    "position:fixed;right:16px;bottom:16px;z-index:2147483000;min-height:48px;" +
    "padding:10px 18px;border:2px solid #fff;border-radius:999px;background:#0b5563;" +
    "color:#fff;font:700 17px/1.4 system-ui,sans-serif;cursor:pointer;" +
    "box-shadow:0 2px 8px rgba(0,0,0,.3)";

  var panel = null;
  var lastEscape = 0;

  function quickExit() {
    if (panel) panel.remove();
    panel = null;
    window.location.replace(EXIT_URL);
  }

  function close() {
    if (panel) panel.remove();
    panel = null;
    button.setAttribute("aria-expanded", "false");
    button.textContent = TEXT.open;
    button.focus();
  }

  function open() {
    panel = document.createElement("div");
    panel.style.cssText =
      "position:fixed;z-index:2147483001;inset:0;background:#fff;" +
      "display:flex;flex-direction:column";
    if (window.matchMedia("(min-width: 640px)").matches) {
      panel.style.cssText +=
        ";inset:auto 16px 80px auto;width:400px;height:min(680px,80vh);" +
        "border:1px solid #4a5560;border-radius:12px;overflow:hidden;" +
        "box-shadow:0 4px 24px rgba(0,0,0,.3)";
    }
    var closer = document.createElement("button");
    closer.type = "button";
    closer.textContent = TEXT.close;
    closer.style.cssText =
      "min-height:44px;border:0;border-bottom:1px solid #4a5560;background:#eef2f5;" +
      "color:#1b1f23;font:16px system-ui,sans-serif;cursor:pointer";
    closer.addEventListener("click", close);
    var frame = document.createElement("iframe");
    frame.src = origin + "/";
    frame.title = TEXT.frame;
    frame.referrerPolicy = "no-referrer";
    frame.style.cssText = "flex:1;width:100%;border:0";
    panel.append(closer, frame);
    document.body.append(panel);
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }

  button.addEventListener("click", function () { if (panel) close(); else open(); });

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || event.data.type !== "jikimi:quick-exit") return;
    quickExit();
  });

  document.addEventListener("keydown", function (event) {
    if (!panel || event.key !== "Escape") { lastEscape = 0; return; }
    var now = Date.now();
    if (now - lastEscape < 2000) quickExit();
    lastEscape = now;
  });

  function mount() { document.body.append(button); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
