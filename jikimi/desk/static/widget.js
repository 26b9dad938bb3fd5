/*
 * Jikimi web widget: the chat page's behaviour.
 *
 * Talks to the Rasa server's socket.io channel (bot/channels.py) with the
 * official socket.io client:
 *   connect -> emit "session_request" {session_id: token or null}
 *           -> "session_confirm" token: the server names the conversation and
 *              signs a token for it (jikimi/sessions.py); kept and sent back
 *              on every reconnect, so the same conversation goes on
 *   emit "user_uttered" {message, session_id}, acknowledged once Rasa has
 *   handled it: {ok: true}, or {ok: false, retry_in: seconds} when it could not
 *   be handled (storage or Redis down, a rate limit), after which it is sent
 *   again; the student is told meanwhile by the bot's own message
 *   on "bot_uttered": {text, quick_replies?: [{title, payload}]} or
 *                     {custom: {from_counsellor: true, text}} (bot/channels.py)
 *
 * Safety rules this file keeps:
 *   - bot text only ever reaches the page as text nodes (the page's CSP enforces
 *     Trusted Types, so an innerHTML assignment would throw); links are made only
 *     for the allow-listed domains of content/resources.yml and for the desk's
 *     own evidence-log links (config.evidenceBase + token);
 *   - nothing is written to localStorage, IndexedDB or cookies; the
 *     conversation token lives in sessionStorage and is wiped on quick exit;
 *   - a message the student typed is kept in memory until Rasa acknowledges it
 *     as handled, and sent (again) after a reconnect or when Rasa says it could
 *     not handle it: at least once, never silently lost.
 * Every Korean word comes from the page (templates/widget.html).
 */
(function () {
  "use strict";

  var SESSION_KEY = "jikimi.session";
  var config = JSON.parse(document.getElementById("jikimi-config").textContent);
  var text = document.getElementById("strings").dataset;
  var $ = function (id) { return document.getElementById(id); };

  var socket = null;
  var ready = false;        // connected and session confirmed: safe to emit
  var started = false;
  var greeted = false;
  var pending = [];         // {message, li, sent} typed but not yet acknowledged
  var lastEscape = 0;

  // --- quick exit ----------------------------------------------------------

  function quickExit() {
    try { if (socket) { socket.io.reconnection(false); socket.disconnect(); } } catch (e) { /* leaving anyway */ }
    socket = null;
    pending = [];
    try { sessionStorage.clear(); } catch (e) { /* storage may be blocked */ }
    document.title = "";
    document.body.replaceChildren();
    if (window.parent !== window) {
      // Inside a school site (embed.js): that page replaces itself too.
      try { window.parent.postMessage({ type: "jikimi:quick-exit" }, "*"); } catch (e) { /* ignore */ }
    }
    window.location.replace(config.exitUrl);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { lastEscape = 0; return; }
    var now = Date.now();
    if (now - lastEscape < 2000) { quickExit(); return; }
    lastEscape = now;
    if (!$("evidence").hidden) { closeEvidence(); }
  });

  // --- conversation token (issued by the server) --------------------------

  function sessionId() {
    try { return sessionStorage.getItem(SESSION_KEY); } catch (e) { return null; }
  }

  function keepSessionId(token) {
    if (typeof token !== "string" || !token) return;
    try { sessionStorage.setItem(SESSION_KEY, token); } catch (e) { /* storage may be blocked */ }
  }

  // --- rendering (text only) -----------------------------------------------

  // The desk's own evidence-log links (jikimi/evidence_log.py) are links too:
  // exactly config.evidenceBase followed by a token, matched first because a
  // local desk's address (http://127.0.0.1:8000/...) has no domain to allow.
  var TOKEN = /^[A-Za-z0-9_-]+$/;
  var DOMAIN_LINK = "(?:https?:\\/\\/)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}(?:\\/[!#-;=?-~]*)?";
  var LINK = new RegExp(
    (config.evidenceBase
      ? config.evidenceBase.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&") + "[A-Za-z0-9_-]+|"
      : "") + DOMAIN_LINK,
    "gi"
  );

  function isEvidenceLink(href) {
    var base = config.evidenceBase;
    return !!base && href.indexOf(base) === 0 && TOKEN.test(href.slice(base.length));
  }

  function allowedHost(host) {
    host = host.toLowerCase();
    return config.linkDomains.some(function (domain) {
      return host === domain || host.endsWith("." + domain);
    });
  }

  function linkFor(candidate) {
    var href = /^https?:\/\//i.test(candidate) ? candidate : "https://" + candidate;
    var url;
    try { url = new URL(href); } catch (e) { return null; }
    var allowed = isEvidenceLink(candidate) || allowedHost(url.hostname);
    if ((url.protocol !== "https:" && url.protocol !== "http:") || !allowed) {
      return null;
    }
    var a = document.createElement("a");
    a.href = url.href;
    a.textContent = candidate;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  /** A paragraph with the text as text nodes and allow-listed links as <a>. */
  function paragraph(body) {
    var p = document.createElement("p");
    var at = 0;
    body.replace(LINK, function (match, offset) {
      var trimmed = match.replace(/[.,!?:;)\]]+$/, "");
      var a = linkFor(trimmed);
      if (a) {
        p.append(document.createTextNode(body.slice(at, offset)), a);
        at = offset + trimmed.length;
      }
      return match;
    });
    p.append(document.createTextNode(body.slice(at)));
    return p;
  }

  function scrollDown() {
    var log = $("log");
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(kind, label, body, visibleLabel) {
    var li = document.createElement("li");
    li.className = "msg " + kind;
    var who = document.createElement("span");
    who.className = visibleLabel ? "who" : "sr-only";
    who.textContent = label;
    li.append(who, paragraph(body));
    $("messages").append(li);
    scrollDown();
    return li;
  }

  function removeQuickReplies() {
    document.querySelectorAll("#log .quick").forEach(function (group) { group.remove(); });
  }

  function addQuickReplies(li, replies) {
    var group = document.createElement("div");
    group.className = "quick";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", text.choices);
    replies.forEach(function (reply) {
      if (!reply || typeof reply.title !== "string" || typeof reply.payload !== "string") return;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = reply.title;
      button.addEventListener("click", function () {
        send(reply.payload, reply.title);
        $("input").focus();
      });
      group.append(button);
    });
    li.append(group);
    scrollDown();
  }

  function onBotMessage(message) {
    if (!message || typeof message !== "object") return;
    var custom = message.custom;
    if (custom && typeof custom === "object") {
      if (custom.from_counsellor === true && typeof custom.text === "string") {
        addMessage("counsellor", text.counsellor, custom.text, true);
      }
      return; // other custom payloads are not for people
    }
    if (typeof message.text !== "string" || message.text === "") return;
    var li = addMessage("bot", text.bot, message.text, false);
    if (Array.isArray(message.quick_replies) && message.quick_replies.length) {
      addQuickReplies(li, message.quick_replies);
    }
  }

  // --- sending: kept until acknowledged -------------------------------------

  function setWaiting(item, waiting) {
    if (!item.li) return;
    var mark = item.li.querySelector(".state");
    if (waiting && !mark) {
      mark = document.createElement("span");
      mark.className = "state";
      mark.textContent = text.waiting;
      item.li.append(mark);
    } else if (!waiting && mark) {
      mark.remove();
    }
  }

  function updateTyping() {
    $("typing").hidden = !pending.some(function (item) { return item.sent; });
    scrollDown();
  }

  function transmit(item) {
    item.sent = true;
    item.retryAt = 0;
    setWaiting(item, false);
    var current = socket;
    current.emit(
      "user_uttered",
      { message: item.message, session_id: sessionId() },
      function (answer) {
        // Rasa acknowledges after it has handled the message (and sent replies).
        if (current !== socket) return;
        if (answer && answer.ok === false) {
          // Not handled (the bot has said so): kept, and sent again later.
          var seconds = Math.min(Math.max(Number(answer.retry_in) || 15, 1), 300);
          item.sent = false;
          item.retryAt = Date.now() + seconds * 1000;
          setWaiting(item, true);
          setTimeout(flush, seconds * 1000 + Math.random() * 1000);
          updateTyping();
          return;
        }
        pending = pending.filter(function (other) { return other !== item; });
        updateTyping();
      }
    );
    updateTyping();
  }

  function flush() {
    if (!ready) return;
    var now = Date.now();
    // In order: a message waiting to be sent again holds back those after it.
    for (var i = 0; i < pending.length; i++) {
      var item = pending[i];
      if (item.sent) continue;
      if (item.retryAt && item.retryAt > now) break;
      transmit(item);
    }
  }

  /** Sends `message`; shows `shown` as the student's bubble (none when null). */
  function send(message, shown) {
    removeQuickReplies();
    var item = { message: message, li: null, sent: false };
    if (shown !== null) item.li = addMessage("user", text.me, shown, false);
    pending.push(item);
    if (ready) transmit(item); else setWaiting(item, true);
  }

  // --- connection ------------------------------------------------------------

  function showOffline(offline) {
    var notice = $("offline");
    if (notice.hidden === !offline) return;
    notice.hidden = !offline;
    $("online-status").textContent = offline ? "" : text.reconnected;
  }

  function connect() {
    // WebSocket first (one connection, no CORS); long-polling if it cannot open.
    socket = io(config.rasaUrl, {
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelayMax: 5000,
    });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: sessionId() });
    });
    socket.on("session_confirm", function (token) {
      keepSessionId(token);
      ready = true;
      showOffline(false);
      if (!greeted) {
        greeted = true;
        send("/greet", null);
      }
      flush();
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function () {
      ready = false;
      // Whatever Rasa did not acknowledge goes again once we are back.
      pending.forEach(function (item) {
        item.sent = false;
        setWaiting(item, true);
      });
      updateTyping();
      showOffline(true);
    });
    socket.on("connect_error", function () { showOffline(true); });
  }

  // --- screens and controls --------------------------------------------------

  function start() {
    if (started) return;
    started = true;
    $("intro").hidden = true;
    $("chat").hidden = false;
    $("input").focus();
    connect();
  }

  $("start").addEventListener("click", start);
  $("exit").addEventListener("click", quickExit);

  $("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = $("input");
    var message = input.value.trim();
    if (!message) return;
    input.value = "";
    send(message, message);
    input.focus();
  });

  $("input").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });

  // --- evidence: hashed here, only the hash leaves ---------------------------

  var hashed = [];

  function openEvidence() {
    $("evidence").hidden = false;
    $("evidence-open").setAttribute("aria-expanded", "true");
    $("evidence-title").focus();
  }

  function closeEvidence() {
    $("evidence").hidden = true;
    $("evidence-open").setAttribute("aria-expanded", "false");
    $("evidence-files").value = "";
    $("evidence-list").replaceChildren();
    $("evidence-status").textContent = "";
    $("evidence-send").hidden = true;
    hashed = [];
    $("evidence-open").focus();
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function listItem(entry) {
    var li = document.createElement("li");
    var name = document.createElement("strong");
    name.textContent = entry.name;
    var meta = document.createElement("span");
    meta.textContent = text.size + " " + sizeText(entry.size) + " · " + text.time + " " +
      new Date(entry.captured_at).toLocaleString("ko-KR");
    var digest = document.createElement("code");
    digest.textContent = entry.sha256;
    li.append(name, meta, digest);
    return li;
  }

  async function hashFiles(files) {
    var status = $("evidence-status");
    hashed = [];
    $("evidence-list").replaceChildren();
    $("evidence-send").hidden = true;
    if (!window.crypto || !crypto.subtle) { status.textContent = text.noCrypto; return; }
    status.textContent = text.hashing;
    var problems = [];
    for (var i = 0; i < files.length; i++) {
      var file = files[i];
      if (file.size > config.maxHashBytes) { problems.push(file.name + ": " + text.tooBig); continue; }
      try {
        var digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
        var entry = {
          sha256: hex(digest),
          name: file.name.slice(0, 200),
          size: file.size,
          captured_at: new Date(file.lastModified || Date.now()).toISOString(),
        };
        hashed.push(entry);
        $("evidence-list").append(listItem(entry));
      } catch (e) {
        problems.push(file.name + ": " + text.hashFailed);
      }
    }
    status.textContent = (hashed.length ? text.hashed : "") +
      (problems.length ? " " + problems.join(" ") : "");
    $("evidence-send").hidden = hashed.length === 0;
  }

  $("evidence-open").addEventListener("click", function () {
    if ($("evidence").hidden) openEvidence(); else closeEvidence();
  });
  $("evidence-close").addEventListener("click", closeEvidence);
  $("evidence-files").addEventListener("change", function (event) {
    hashFiles(Array.from(event.target.files || []));
  });
  $("evidence-send").addEventListener("click", function () {
    hashed.forEach(function (entry) {
      // JSON.stringify escapes the name; Rasa reads /intent{json} as entities.
      send("/add_evidence" + JSON.stringify(entry),
        text.evidenceSent + ": " + entry.name + " (SHA-256 " + entry.sha256.slice(0, 12) + "…)");
    });
    var sent = text.hashSent;
    closeEvidence();
    $("online-status").textContent = sent;
    $("input").focus();
  });
})();
