/* Drug reference chat widget, one dependency-free script:
 *   <script src="https://qa.example.org/widget.js" defer></script>
 * Attributes: data-api (service URL; default: where the script came from), data-key (a public
 * `query` API key), data-title (heading), data-accent (colour). Answers stream over SSE with
 * numbered citations, the match level in words and "Did this answer your question?" (POST
 * /feedback). Text from documents and users is set with textContent, never parsed as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__drugQaWidget) { return; }
  window.__drugQaWidget = true;
  var api = (script.getAttribute("data-api") || script.src.replace(/widget\.js(\?.*)?$/, "")).replace(/\/$/, "");
  var key = script.getAttribute("data-key");  // a public key with the query role only
  var title = script.getAttribute("data-title") || "Drug information";
  var accent = script.getAttribute("data-accent");
  if (!accent || !(window.CSS && CSS.supports("color", accent))) { accent = "#0b5cad"; }
  var history = [];
  var MATCH_WORDS = {
    strong: "Good match: quoted from the documents.",
    weak: "Weak match: these passages may not answer your question.",
    none: "Not covered by the documents."
  };

  var css = [
    ":host{all:initial;--accent:" + accent + "}",
    "*{box-sizing:border-box;font-family:system-ui,sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:24px;",
    "padding:12px 18px;background:var(--accent);color:#fff;font-size:15px;cursor:pointer;box-shadow:0 2px 8px #0004}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:80px;z-index:2147483000;width:min(380px,calc(100vw - 40px));",
    "height:min(560px,calc(100vh - 120px));display:flex;flex-direction:column;background:#fff;color:#1b1b1b;",
    "border:1px solid #ccc;border-radius:10px;box-shadow:0 4px 24px #0003;font-size:14px}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 12px;border-bottom:1px solid #eee}",
    "h2{font-size:15px;margin:0}",
    ".close{border:0;background:none;font-size:20px;cursor:pointer;line-height:1}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}",
    ".msg{padding:8px 10px;border-radius:8px;max-width:92%;white-space:pre-wrap;line-height:1.45}",
    ".user{align-self:flex-end;background:#e8f0fb}",
    ".bot{align-self:flex-start;background:#f4f4f4}",
    ".note{font-style:italic;color:#555;margin-top:6px}",
    ".context{font-size:12px;color:#555;margin-bottom:4px}",
    "ol{margin:8px 0 0;padding-left:20px}",
    "li{margin:2px 0}",
    "a{color:var(--accent)}",
    ".match{font-size:12px;color:#444;margin:6px 0 0}",
    ".msg.bot[data-match=weak] .match{color:#8a4b00;font-weight:600}",
    ".feedback{font-size:12px;color:#444;margin-top:8px;display:flex;gap:6px;align-items:center;flex-wrap:wrap}",
    ".feedback button{border:1px solid #bbb;background:#fff;border-radius:12px;padding:2px 10px;cursor:pointer;font-size:12px}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #eee}",
    "textarea{flex:1;resize:none;height:42px;padding:8px;border:1px solid #bbb;border-radius:6px;font-size:14px}",
    ".send{border:0;border-radius:6px;background:var(--accent);color:#fff;padding:0 14px;cursor:pointer}",
    ".send:disabled{background:#8aa9c9;cursor:wait}",
    ".disclaimer{font-size:11px;color:#666;padding:0 10px 8px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "@media (max-width:480px){.panel{left:0;right:0;top:0;bottom:0;width:100vw;height:100vh;height:100dvh;",
    "border-radius:0;border:0}}"
  ].join("");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var host = el("div", {id: "drug-qa-widget"});
  var root = host.attachShadow({mode: "open"});
  root.appendChild(el("style", {}, css));
  var launcher = el("button", {"class": "launcher", type: "button", "aria-expanded": "false",
    "aria-controls": "qa-panel", "aria-label": "Open the drug information chat"}, "Ask about a drug");
  var panel = el("section", {"class": "panel", id: "qa-panel", role: "dialog",
    "aria-label": title + " chat", hidden: ""});
  var header = el("header");
  header.appendChild(el("h2", {}, title));
  var close = el("button", {"class": "close", type: "button", "aria-label": "Close the chat"}, "\u00d7");
  header.appendChild(close);
  var log = el("div", {"class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation"});
  var form = el("form", {"aria-label": "Ask a question"});
  var label = el("label", {"for": "qa-input", "class": "sr"}, "Your question");
  var input = el("textarea", {id: "qa-input", rows: "1", placeholder: "Ask about a drug\u2026", maxlength: "2000"});
  var send = el("button", {"class": "send", type: "submit"}, "Send");
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  var disclaimer = el("p", {"class": "disclaimer"},
    "Quotes from reference documents, not medical advice.");
  panel.appendChild(header); panel.appendChild(log); panel.appendChild(form); panel.appendChild(disclaimer);
  root.appendChild(launcher); root.appendChild(panel);

  function open(show) {
    panel.hidden = !show;
    launcher.setAttribute("aria-expanded", String(show));
    if (show) { input.focus(); } else { launcher.focus(); }
  }
  launcher.addEventListener("click", function () { open(panel.hidden); });
  close.addEventListener("click", function () { open(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); open(false); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  function citationList(citations) {
    var list = el("ol", {"class": "citations", "aria-label": "Sources"});
    citations.forEach(function (c) {
      var item = el("li", {value: String(c.number)});
      var href = api + c.link;
      var link = el("a", {href: href, target: "_blank", rel: "noopener"},
        [c.title].concat(c.heading_path.slice(1)).join(" \u203a "));
      item.appendChild(link);
      list.appendChild(item);
    });
    return list;
  }

  function jsonHeaders(extra) {
    var headers = {"Content-Type": "application/json"};
    if (key) { headers["X-API-Key"] = key; }
    Object.keys(extra || {}).forEach(function (name) { headers[name] = extra[name]; });
    return headers;
  }

  // "Did this answer your question? Yes / No", sent once per answer.
  function feedbackBar(question, answerId) {
    var bar = el("div", {"class": "feedback", role: "group", "aria-label": "Feedback on this answer"});
    bar.appendChild(el("span", {}, "Did this answer your question?"));
    [["Yes", true], ["No", false]].forEach(function (choice) {
      var button = el("button", {type: "button"}, choice[0]);
      button.addEventListener("click", function () {
        bar.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        fetch(api + "/feedback", {
          method: "POST",
          headers: jsonHeaders(),
          body: JSON.stringify({question: question, answer_id: answerId, helpful: choice[1]})
        }).then(function (response) {
          if (!response.ok) {
            return response.json().then(function (body) { throw new Error(body.message || response.statusText); });
          }
          bar.textContent = "Thank you for your feedback.";
        }).catch(function (error) {
          bar.textContent = "Your feedback could not be sent: " + error.message;
        });
      });
      bar.appendChild(button);
    });
    return bar;
  }

  // Parse a Server-Sent Events stream from fetch(); call onEvent(name, data) per event.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        buffer += decoder.decode(chunk.value || new Uint8Array(), {stream: !chunk.done});
        var frames = buffer.split("\n\n");
        buffer = frames.pop();
        frames.forEach(function (frame) {
          var name = "message", data = "";
          frame.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
            if (line.indexOf("data:") === 0) { data += line.slice(5).trim(); }
          });
          if (data) { onEvent(name, JSON.parse(data)); }
        });
        return chunk.done ? null : pump();
      });
    }
    return pump();
  }

  function ask(question) {
    history.push({role: "user", content: question});
    log.appendChild(el("div", {"class": "msg user"}, question));
    var bubble = el("div", {"class": "msg bot", "aria-busy": "true"});
    var answer = el("p", {"class": "answer", style: "margin:0"});
    bubble.appendChild(answer);
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
    send.disabled = true;
    var text = [];
    var asked = question;
    var headers = jsonHeaders({"Accept": "text/event-stream"});
    return fetch(api + "/chat", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({messages: history.slice(-20), k: 5})
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (body) { throw new Error(body.message || response.statusText); });
      }
      return readEvents(response, function (name, data) {
        if (name === "meta") {
          asked = data.question;
          bubble.setAttribute("data-match", data.match);
          if (data.context && data.context.carried_over.length) {
            bubble.insertBefore(el("div", {"class": "context"},
              "About " + data.context.carried_over.join(", ") + " (from your earlier question)"), answer);
          }
        } else if (name === "answer") {
          text.push(data.text);
          answer.textContent = text.join(" ");
        } else if (name === "citations") {
          bubble.appendChild(el("p", {"class": "match"}, MATCH_WORDS[bubble.getAttribute("data-match")] || ""));
          if (data.note) { bubble.appendChild(el("p", {"class": "note"}, data.note)); }
          if (data.citations.length) { bubble.appendChild(citationList(data.citations)); }
          if (data.disclaimer) { disclaimer.textContent = data.disclaimer; }
          if (data.answer_id && bubble.getAttribute("data-match") !== "none") {
            bubble.appendChild(feedbackBar(asked, data.answer_id));
          }
        }
        log.scrollTop = log.scrollHeight;
      });
    }).then(function () {
      history.push({role: "assistant", content: text.join(" ")});
    }).catch(function (error) {
      answer.textContent = "Sorry, the service could not answer: " + error.message;
      history.pop();
    }).then(function () {
      bubble.setAttribute("aria-busy", "false");
      send.disabled = false;
      input.focus();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || send.disabled) { return; }
    input.value = "";
    ask(question);
  });

  (document.body ? Promise.resolve() : new Promise(function (resolve) {
    document.addEventListener("DOMContentLoaded", resolve);
  })).then(function () { document.body.appendChild(host); });
})();
