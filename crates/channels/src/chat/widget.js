// Switchboard web chat. Embed with one tag:
//   <script src="https://support.example.com/chat/widget.js" data-site="SITE-TOKEN" async></script>
// The visitor and their conversation are remembered in localStorage; the socket reconnects
// (1 s, doubling to 15 s) and resumes the conversation, showing what was missed. Page API:
// window.switchboardChat.open(), .send(text), .pause() (disconnect), .resume() (reconnect).
// A signed-in customer: add data-user="CUSTOMER-ID" data-user-hash="HEX HMAC-SHA256 of the id
// under the site's identity secret" (computed by the company's server, never in the page's code);
// the bot then tells that customer their orders and account.
// Its own strings follow data-lang (else the page's lang), then the language the customer writes in.
(function () {
  'use strict';
  var script = document.currentScript || document.querySelector('script[data-site]');
  if (!script || window.switchboardChat) return;
  var site = script.getAttribute('data-site') || '';
  var user = script.getAttribute('data-user') || '';
  var userHash = script.getAttribute('data-user-hash') || '';
  // The widget's strings by language, filled in by the server; tags as the bot's replies use them.
  var PHRASES = /*PHRASES*/{};
  // A BCP 47 tag's served language: Chinese by script, others by their primary language.
  var served = function (tag) {
    var parts = String(tag || '').toLowerCase().split(/[-_]/);
    var wanted = parts[0] === 'zh'
      ? (parts.some(function (p) { return ['hant', 'tw', 'hk', 'mo'].indexOf(p) >= 0; }) ? 'zh-Hant' : 'zh-Hans')
      : parts[0];
    return PHRASES[wanted] ? wanted : '';
  };
  var language = served(script.getAttribute('data-lang')) || served(document.documentElement.lang) || 'en';
  var t = function (key) { return (PHRASES[language] || {})[key] || (PHRASES.en || {})[key] || key; };
  var base = new URL(script.src, location.href);
  var wsUrl = (base.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + base.host + '/chat/ws';
  var storeKey = 'switchboard-chat:' + site + (user ? ':' + user : '');
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(storeKey) || '{}'); } catch (e) { saved = {}; }
  // Random ids from the browser's CSPRNG (randomUUID needs a secure context; getRandomValues
  // does not): the visitor id is the chat's only credential.
  var id = function () {
    if (crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  };
  var state = { visitor: saved.visitor || id(), conversation: saved.conversation || '' };
  var save = function () { localStorage.setItem(storeKey, JSON.stringify(state)); };
  save();

  var css = '.sb-chat{position:fixed;right:1rem;bottom:1rem;width:22rem;max-width:calc(100vw - 2rem);font:14px system-ui,sans-serif;' +
    'background:#fff;border:1px solid #ccd;border-radius:.75rem;box-shadow:0 4px 24px #0002;display:flex;flex-direction:column;z-index:2147483000}' +
    '.sb-head{padding:.6rem .8rem;background:#234;color:#fff;border-radius:.75rem .75rem 0 0;display:flex;justify-content:space-between}' +
    '.sb-log{height:20rem;overflow-y:auto;padding:.6rem;display:flex;flex-direction:column;gap:.4rem}' +
    '.sb-message{padding:.45rem .6rem;border-radius:.6rem;max-width:85%;white-space:pre-wrap;word-wrap:break-word}' +
    '.sb-message[data-author=customer]{align-self:flex-end;background:#d8e8ff}' +
    '.sb-message[data-author=bot]{background:#f1f1f4}.sb-message[data-author=agent]{background:#e3f6e3}' +
    '.sb-system{font-size:12px;color:#555;text-align:center}.sb-typing{font-size:12px;color:#777;padding:0 .6rem;min-height:1.2em}' +
    '.sb-options{display:flex;flex-wrap:wrap;gap:.3rem;align-self:flex-start}' +
    '.sb-option{border:1px solid #235;background:#fff;color:#235;border-radius:1rem;padding:.25rem .7rem;font:inherit;cursor:pointer}' +
    '.sb-suggestions{padding:0 .6rem}.sb-suggestion{display:block;font-size:12px;color:#235;margin:.2rem 0}' +
    '.sb-form{display:flex;border-top:1px solid #dde}.sb-input{flex:1;border:0;padding:.6rem;font:inherit}' +
    '.sb-send{border:0;background:#234;color:#fff;padding:0 1rem;border-radius:0 0 .75rem 0}';
  var style = document.createElement('style');
  style.textContent = css;
  document.head.appendChild(style);

  var root = document.createElement('div');
  root.className = 'sb-chat';
  root.setAttribute('role', 'complementary');
  root.innerHTML = '<div class="sb-head"><span class="sb-title"></span><span class="sb-status" aria-live="polite"></span></div>' +
    '<div class="sb-log" aria-live="polite"></div><div class="sb-typing"></div><div class="sb-suggestions"></div>' +
    '<form class="sb-form"><input class="sb-input" autocomplete="off">' +
    '<button class="sb-send" type="submit"></button></form>';
  var log = root.querySelector('.sb-log');
  var typingLine = root.querySelector('.sb-typing');
  var suggestions = root.querySelector('.sb-suggestions');
  var input = root.querySelector('.sb-input');
  var status = root.querySelector('.sb-status');
  var statusKey = 'connecting';
  // Words every string in the current language (again when the customer's language is known).
  function label() {
    root.setAttribute('lang', language);
    root.setAttribute('dir', t('direction'));
    root.querySelector('.sb-title').textContent = t('title');
    input.setAttribute('aria-label', t('input_label'));
    input.placeholder = t('placeholder');
    root.querySelector('.sb-send').textContent = t('send');
    status.textContent = t(statusKey);
  }
  function setStatus(key) { statusKey = key; status.textContent = t(key); }
  function follow(tag) {
    var next = served(tag);
    if (next && next !== language) { language = next; label(); }
  }
  label();
  var shown = {};
  var pending = [];
  var socket = null, paused = false, delay = 1000, typingTimer = null, suggestTimer = null, lastTyping = 0;

  function add(kind, author, text, key) {
    if (key && shown[key]) return;
    if (key) shown[key] = true;
    var line = document.createElement('div');
    line.className = kind;
    if (author) line.setAttribute('data-author', author);
    line.textContent = text;
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
  }
  function showTyping(author) {
    typingLine.setAttribute('data-author', author);
    typingLine.textContent = t(author === 'agent' ? 'agent_typing' : 'bot_typing');
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typingLine.textContent = ''; typingLine.removeAttribute('data-author'); }, 8000);
  }
  // Quick replies: each sends its text as the customer's message; any message clears them.
  function showOptions(options) {
    clearOptions();
    var row = document.createElement('div');
    row.className = 'sb-options';
    options.forEach(function (option) {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'sb-option';
      button.textContent = option;
      button.addEventListener('click', function () { sendText(option); });
      row.appendChild(button);
    });
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }
  function clearOptions() {
    Array.prototype.forEach.call(log.querySelectorAll('.sb-options'), function (row) { row.remove(); });
  }
  function send(frame) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function onFrame(frame) {
    if (frame.type === 'welcome') { state.conversation = frame.conversation_id; save(); }
    else if (frame.type === 'message') {
      if (frame.language) follow(frame.language);
      if (frame.author !== 'customer') { typingLine.textContent = ''; typingLine.removeAttribute('data-author'); }
      var fresh = !shown[frame.id];
      add('sb-message', frame.author, frame.text, frame.id);
      if (fresh && frame.options && frame.options.length) showOptions(frame.options);
    }
    else if (frame.type === 'typing') showTyping(frame.author);
    else if (frame.type === 'handoff') {
      if (frame.language) follow(frame.language);
      add('sb-system', '', frame.text, 'handoff:' + frame.queue);
    }
    else if (frame.type === 'suggestions') {
      suggestions.innerHTML = '';
      frame.articles.forEach(function (article) {
        var item = document.createElement('span');
        item.className = 'sb-suggestion';
        item.textContent = '📄 ' + article.title;
        suggestions.appendChild(item);
      });
    }
    else if (frame.type === 'error') add('sb-system', '', frame.code ? t(frame.code) : frame.message);
  }
  function connect() {
    if (paused) return;
    var url = wsUrl + '?site=' + encodeURIComponent(site) + '&visitor=' + encodeURIComponent(state.visitor);
    if (user) url += '&user=' + encodeURIComponent(user) + '&user_hash=' + encodeURIComponent(userHash);
    socket = new WebSocket(url);
    socket.onopen = function () {
      delay = 1000;
      setStatus('online');
      root.setAttribute('data-connected', 'true');
      send({ type: 'hello', conversation_id: state.conversation });
      while (pending.length) send(pending.shift());
    };
    socket.onmessage = function (event) { try { onFrame(JSON.parse(event.data)); } catch (e) { /* not ours */ } };
    socket.onclose = function () {
      root.setAttribute('data-connected', 'false');
      setStatus(paused ? 'offline' : 'reconnecting');
      if (!paused) setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  function sendText(text) {
    text = (text || '').trim();
    if (!text) return;
    var frame = { type: 'message', id: id(), text: text };
    if (!send(frame)) pending.push(frame);
    suggestions.innerHTML = '';
    clearOptions();
  }
  root.querySelector('.sb-form').addEventListener('submit', function (event) {
    event.preventDefault();
    sendText(input.value);
    input.value = '';
  });
  input.addEventListener('input', function () {
    var now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; send({ type: 'typing' }); }
    clearTimeout(suggestTimer);
    var text = input.value;
    suggestTimer = setTimeout(function () { send({ type: 'suggest', text: text }); }, 250);
  });
  window.switchboardChat = {
    open: function () { input.focus(); },
    send: sendText,
    pause: function () { paused = true; if (socket) socket.close(); },
    resume: function () { if (!paused) return; paused = false; delay = 1000; connect(); }
  };
  var start = function () { document.body.appendChild(root); connect(); };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
