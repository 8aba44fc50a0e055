// Newsroom desk: the page of the newsroom web service.
//
// Model output is untrusted. Nothing here ever assigns model text to
// innerHTML: every node is built with createElement and textContent, and the
// small Markdown subset (headings, paragraphs, lists, bold, italic) is parsed
// into such nodes.
'use strict';

(function () {
  const KEY_STORAGE = 'newsroom.apiKey';
  const $ = (id) => document.getElementById(id);

  const AGENTS = {
    News_Reporter: { label: 'Reporter', cls: 'a-reporter' },
    News_Editor: { label: 'Editor', cls: 'a-editor' },
    PlanningAgent: { label: 'Planner', cls: 'a-planner' },
    Headline_Generator: { label: 'Headlines', cls: 'a-headline' },
    Editor_in_Chief: { label: 'Editor-in-chief', cls: 'a-chief' },
  };
  const TEAMS = { roundrobin: 'Reporter & Editor', selector: 'Planner-led desk' };

  const DONE = ['succeeded', 'failed', 'cancelled', 'rejected', 'expired'];
  // A phone-sized screen: one column, the new-story form folds while a run is open.
  const phone = window.matchMedia('(max-width: 820px)');

  const state = {
    key: '',
    session: false, // signed in with the identity provider (a cookie, no key)
    me: null, // GET /v1/me: who the caller is, whether they may decide
    emulator: false, // the service runs on the emulator (from /readyz)
    conversationByUser: false, // the reader opened or closed the conversation
    run: null, // the run shown (API view)
    follow: null, // AbortController of the event stream
    messages: 0,
    cursor: '',
    // Views of the run shown are numbered when asked for: several can be in
    // flight at once (a decision's answer, a refresh per event) and arrive in
    // any order, so only an answer newer than the last one applied is shown.
    viewAsked: 0,
    viewApplied: 0,
  };

  // ---------- API ----------

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, opts = {}) {
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (state.key) headers.Authorization = 'Bearer ' + state.key;
    else if (opts.method && opts.method !== 'GET') headers['X-CSRF-Token'] = csrfToken();
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method: opts.method || 'GET',
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      cache: 'no-store',
      signal: opts.signal,
    });
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      let msg = err.message || 'Request failed (' + res.status + ')';
      const retry = res.headers.get('Retry-After');
      if (res.status === 429 && retry) msg += ' — try again in ' + retry + ' s.';
      if (res.status === 401) {
        msg = state.session
          ? 'Your sign-in has expired. Sign in again at the top right.'
          : 'Your API key is missing or no longer valid. Set it at the top right.';
        if (!state.session) toggleKeyPanel(true);
      }
      throw new APIError(res.status, err.code || 'http_' + res.status, msg);
    }
    return data;
  }

  // ---------- Markdown (safe subset) ----------

  // Underscore emphasis must not touch a word character (snake_case and
  // __names__ inside words stay text), as in CommonMark.
  const INLINE = /(\*\*[^*\n]+?\*\*|(?<!\w)__[^_\n]+?__(?!\w)|\*[^*\s][^*\n]*?\*|(?<!\w)_[^_\s][^_\n]*?_(?!\w))/;

  function inline(parent, text) {
    const parts = text.split(INLINE);
    for (const part of parts) {
      if (!part) continue;
      let el = null;
      if ((part.startsWith('**') && part.endsWith('**') && part.length > 4) ||
          (part.startsWith('__') && part.endsWith('__') && part.length > 4)) {
        el = document.createElement('strong');
        el.textContent = part.slice(2, -2);
      } else if ((part.startsWith('*') && part.endsWith('*') && part.length > 2) ||
                 (part.startsWith('_') && part.endsWith('_') && part.length > 2)) {
        el = document.createElement('em');
        el.textContent = part.slice(1, -1);
      }
      parent.appendChild(el || document.createTextNode(part));
    }
  }

  // renderMarkdown returns a fragment for the subset: # headings, paragraphs,
  // - * • and 1. lists, **bold**, *italic*. Everything else is text.
  function renderMarkdown(src, headingBase) {
    const frag = document.createDocumentFragment();
    const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
    let para = [];
    let list = null;
    let listType = '';
    const flushPara = () => {
      if (para.length) {
        const p = document.createElement('p');
        para.forEach((line, i) => {
          if (i) p.appendChild(document.createElement('br'));
          inline(p, line);
        });
        frag.appendChild(p);
        para = [];
      }
    };
    const flushList = () => {
      if (list) frag.appendChild(list);
      list = null;
      listType = '';
    };
    for (const raw of lines) {
      const line = raw.trimEnd();
      let m;
      if (!line.trim()) {
        flushPara();
        flushList();
      } else if ((m = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
        flushPara();
        flushList();
        const level = Math.min(6, m[1].length + (headingBase || 0));
        const h = document.createElement('h' + level);
        inline(h, m[2]);
        frag.appendChild(h);
      } else if ((m = /^\s*(?:[-*•+])\s+(.*)$/.exec(line)) || (m = /^\s*(\d+)[.)]\s+(.*)$/.exec(line))) {
        flushPara();
        const ordered = m.length === 3;
        const type = ordered ? 'ol' : 'ul';
        if (!list || listType !== type) {
          flushList();
          list = document.createElement(type);
          listType = type;
        }
        const li = document.createElement('li');
        inline(li, ordered ? m[2] : m[1]);
        list.appendChild(li);
      } else {
        flushList();
        para.push(line.trim());
      }
    }
    flushPara();
    flushList();
    return frag;
  }

  // ---------- formatting ----------

  const fmtInt = new Intl.NumberFormat('en-GB');
  const fmtTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

  function tokensOf(u) {
    return u ? (u.prompt_tokens || 0) + (u.completion_tokens || 0) : 0;
  }
  // Newsroom runs often cost fractions of a cent: show enough digits to see them.
  function costOf(u) {
    var usd = u && u.cost_usd ? u.cost_usd : 0;
    return '$' + usd.toFixed(usd > 0 && usd < 0.01 ? 6 : 4);
  }
  function agentInfo(name) {
    return AGENTS[name] || { label: name || 'Agent', cls: 'a-other' };
  }
  function titleOf(task) {
    const first = String(task || '').trim().split('\n')[0];
    return first.length > 90 ? first.slice(0, 87) + '…' : first;
  }
  // splitHeadline returns an article's headline and the rest of its text: a
  // first-line Markdown heading, or a reporter's plain title line (short, no
  // final punctuation, followed by a blank line). headline is '' when there
  // is none.
  function splitHeadline(article) {
    const text = String(article || '').replace(/\r\n?/g, '\n').replace(/^\s*\n/, '');
    const nl = text.indexOf('\n');
    const first = (nl < 0 ? text : text.slice(0, nl)).trim();
    const rest = nl < 0 ? '' : text.slice(nl + 1);
    let m = /^#{1,6}\s+(.*?)\s*#*$/.exec(first);
    if (m && m[1]) return { headline: m[1].replace(/\*\*|__/g, ''), body: rest };
    m = /^\*\*(.+)\*\*$/.exec(first);
    const line = m ? m[1] : first;
    if (line && line.length <= 140 && !/[.!?:;,]$/.test(line) && (rest === '' || /^\s*\n/.test(rest))) {
      return { headline: line, body: rest };
    }
    return { headline: '', body: text };
  }
  // runTitle is what a run is called: its headline once there is one, else
  // the first line of its task.
  function runTitle(run) {
    if (run.headline) return run.headline;
    const h = run.article ? splitHeadline(run.article).headline : '';
    return h || titleOf(run.task);
  }
  function isEmulated(run) {
    return typeof run.emulated === 'boolean' ? run.emulated : state.emulator;
  }
  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }
  function setBadge(el, status) {
    el.textContent = status || '';
    el.className = 'badge s-' + (status || 'unknown');
  }

  // ---------- sign-in ----------

  // csrfToken is the CSRF cookie's value, echoed on every signed-in write.
  function csrfToken() {
    const m = /(?:^|;\s*)newsroom_csrf=([^;]+)/.exec(document.cookie);
    return m ? m[1] : '';
  }
  function authed() {
    return !!(state.key || state.session);
  }

  // loadMe asks who the caller is (an API key, or the session cookie) and
  // shows it; it offers sign-in when the service has it.
  async function loadMe() {
    try {
      const info = await (await fetch('/auth/info', { cache: 'no-store' })).json();
      $('sign-in').hidden = !info.sign_in || !!state.key;
    } catch (_) {
      $('sign-in').hidden = true;
    }
    state.me = null;
    state.session = false;
    try {
      const res = await fetch('/v1/me', {
        headers: state.key ? { Authorization: 'Bearer ' + state.key } : {},
        cache: 'no-store',
      });
      if (res.ok) {
        state.me = await res.json();
        state.session = !state.key;
      }
    } catch (_) {
      /* not signed in */
    }
    const who = $('who');
    if (state.session) {
      who.textContent = (state.me.name || state.me.id) + ' · ' + state.me.role;
      who.title = state.me.role_note || '';
      who.hidden = false;
      $('sign-out').hidden = false;
      $('sign-in').hidden = true;
      $('key-status').hidden = true;
      $('key-change').hidden = true;
    } else {
      who.hidden = true;
      $('sign-out').hidden = true;
      $('key-status').hidden = false;
      $('key-change').hidden = false;
    }
  }

  async function signOut() {
    try {
      await api('/auth/logout', { method: 'POST' });
    } catch (_) {
      /* the cookie may be gone already */
    }
    location.assign('/');
  }

  // ---------- key ----------

  function loadKey() {
    try {
      state.key = localStorage.getItem(KEY_STORAGE) || '';
    } catch (_) {
      state.key = '';
    }
    showKeyStatus();
  }
  function showKeyStatus() {
    $('key-status').textContent = state.key ? 'Key ' + state.key.slice(0, 7) + '…' : 'No API key';
    $('key-change').textContent = state.key ? 'Change key' : 'Set key';
  }
  function toggleKeyPanel(open) {
    const panel = $('key-panel');
    panel.hidden = !open;
    $('key-change').setAttribute('aria-expanded', String(open));
    if (open) $('key-input').focus();
  }

  // ---------- history ----------

  async function loadHistory(append) {
    if (!authed()) return;
    const list = $('history');
    let page;
    let waiting = { runs: [] };
    try {
      const q = new URLSearchParams({ limit: '15' });
      if (append && state.cursor) q.set('cursor', state.cursor);
      page = await api('/v1/runs?' + q.toString());
      // Runs waiting for a decision come first.
      if (!append) waiting = await api('/v1/runs?status=awaiting_approval&limit=50');
    } catch (e) {
      $('history-empty').textContent = e.message;
      $('history-empty').hidden = false;
      return;
    }
    if (!append) clear(list);
    const first = new Set(waiting.runs.map((r) => r.id));
    for (const run of waiting.runs) list.appendChild(historyItem(run));
    for (const run of page.runs) if (!first.has(run.id)) list.appendChild(historyItem(run));
    state.cursor = page.next_cursor || '';
    $('more').hidden = !state.cursor;
    $('history-empty').textContent = 'No runs yet.';
    $('history-empty').hidden = list.children.length > 0;
    markCurrent();
  }

  function historyItem(run) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'history-item';
    b.dataset.id = run.id;
    const title = document.createElement('span');
    title.className = 'h-title';
    title.textContent = runTitle(run);
    const meta = document.createElement('span');
    meta.className = 'h-meta';
    const badge = document.createElement('span');
    setBadge(badge, run.status);
    const when = document.createElement('span');
    when.textContent = (TEAMS[run.team] || run.team) + ' · ' + fmtTime.format(new Date(run.created_at));
    meta.append(badge, when);
    b.append(title, meta);
    b.addEventListener('click', () => openRun(run.id, true));
    li.appendChild(b);
    return li;
  }

  function markCurrent() {
    for (const b of document.querySelectorAll('.history-item')) {
      const cur = state.run && b.dataset.id === state.run.id;
      b.classList.toggle('current', !!cur);
      if (cur) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  // ---------- run view ----------

  function stopRule(run) {
    const max = run.max_messages;
    let rule = run.team === 'selector'
      ? "Planner's TERMINATE or " + max + ' messages'
      : "Editor's APPROVE or " + max + ' messages';
    if (run.budget_usd) rule += ' or $' + run.budget_usd.toFixed(2);
    return rule;
  }

  function showMeters(total) {
    const run = state.run;
    $('m-messages').textContent = state.messages + ' / ' + run.max_messages;
    if (total) {
      // A reasoning deployment's hidden reasoning is part of the tokens.
      const reasoning = total.reasoning_tokens || 0;
      $('m-tokens').textContent = fmtInt.format(tokensOf(total)) +
        (reasoning ? ' (' + fmtInt.format(reasoning) + ' reasoning)' : '');
      $('m-cost').textContent = costOf(total);
      showSaved(total);
    }
    const note = $('m-cost-note');
    note.hidden = !isEmulated(run);
    note.textContent = 'emulated';
    note.title = 'Emulator run: an estimate at list prices, nothing was billed';
    const done = DONE.includes(run.status);
    $('m-stop').textContent = done ? (run.stop_reason || run.status) : 'running until ' + stopRule(run);
    let pct = run.max_messages ? Math.min(100, (100 * state.messages) / run.max_messages) : 0;
    if (run.status === 'succeeded') pct = 100; // the stop rule was met: the work is complete
    const bar = $('progress-bar');
    bar.style.width = pct + '%';
    bar.className = 'progress-bar' + (done ? ' s-' + run.status : '');
  }

  // showSaved says what answers from the response cache saved, where the
  // service reports it (saved_tokens, saved_usd), else how many calls it answered.
  function showSaved(u) {
    const el = $('m-saved');
    const n = u.cached_responses || 0;
    if (!n) {
      el.hidden = true;
      return;
    }
    let text = 'Cached: ';
    if (u.saved_tokens || u.saved_usd) {
      text += fmtInt.format(u.saved_tokens || 0) + ' tokens, ' + costOf({ cost_usd: u.saved_usd || 0 }) + ' not spent';
    } else {
      text += n + ' of ' + (u.requests || n) + (u.requests === 1 ? ' model call' : ' model calls') + ' answered from the cache';
    }
    if (isEmulated(state.run) && u.saved_usd) text += ' (emulated prices)';
    el.textContent = text;
    el.hidden = false;
  }

  function showRunHead() {
    const run = state.run;
    const title = runTitle(run);
    const brief = titleOf(run.task);
    $('run-title').textContent = title;
    $('run-brief').textContent = 'Brief: ' + brief;
    $('run-brief').hidden = title === brief;
    $('run-team').textContent = TEAMS[run.team] || run.team;
    $('run-id').textContent = run.id;
    setBadge($('run-status'), run.status);
    $('cancel').hidden = !(run.status === 'queued' || run.status === 'running');
    showMeters(run.usage);
    showDecision(run);
    showToolDecision(run);
  }

  // showToolDecision shows the call to an acting tool a run waits for, with
  // allow and deny, to people who may decide (issue 19). Text only.
  function showToolDecision(run) {
    const a = run.tool_approval;
    const waiting = run.status === 'awaiting_tool_approval' && !!a;
    const mayDecide = !!(state.me && state.me.can_decide);
    $('tool-decision').hidden = !(waiting && mayDecide);
    if (!waiting) return;
    $('tool-call-name').textContent = (a.speaker ? a.speaker + ' calls ' : '') + a.tool;
    $('tool-call-args').textContent = a.arguments;
  }

  async function decideTool(decision) {
    if (!state.run) return;
    const status = $('tool-decision-status');
    const buttons = ['tool-allow', 'tool-deny'].map($);
    for (const b of buttons) b.disabled = true;
    try {
      const run = await api('/v1/runs/' + encodeURIComponent(state.run.id) + '/tool-decision', { method: 'POST', body: { decision } });
      status.textContent = decision === 'allow' ? 'Allowed; the run goes on.' : 'Denied; the run goes on without it.';
      state.run = Object.assign(state.run, { status: run.status, stop_reason: run.stop_reason, tool_approval: null });
      $('tool-decision').hidden = true;
      showRunHead();
      loadHistory(false);
    } catch (e) {
      status.textContent = e.message;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  // ---------- the editor-in-chief's decision ----------

  // showDecision shows the decision panel on a waiting run to people who
  // may decide; others see that the run waits.
  function showDecision(run) {
    const waiting = run.status === 'awaiting_approval';
    const mayDecide = !!(state.me && state.me.can_decide);
    const panel = $('decision');
    const wasHidden = panel.hidden;
    panel.hidden = !(waiting && mayDecide);
    $('waiting-note').hidden = !(waiting && !mayDecide);
    if (panel.hidden) return;
    // A run a cap ended (messages, tokens, budget, time, grounding) has
    // nothing left to revise with: approve or reject only.
    const capped = (run.approval && run.approval.capped) || '';
    $('decision-capped').hidden = !capped;
    $('decision-capped').textContent = capped ? 'The team stopped at a limit before its editor approved (' + capped +
      '). Nothing is left to revise with: approve the article as it stands, or reject it.' : '';
    $('decision-hint').hidden = !!capped;
    $('revise').hidden = !!capped;
    $('decision-note-hint').textContent = capped ? 'Kept with the decision.' : 'Required to send it back; kept with the decision otherwise.';
    const n = renderSources($('sources'), run.sources);
    $('decision-sources').hidden = n === 0;
    if (wasHidden) {
      $('decision-note').value = '';
      $('decision-status').textContent = '';
    }
  }

  async function decide(decision) {
    if (!state.run) return;
    const note = $('decision-note').value.trim();
    const status = $('decision-status');
    if (decision === 'revise' && !note) {
      status.textContent = 'Write a note for the reporter to send the article back.';
      $('decision-note').focus();
      return;
    }
    const buttons = ['approve', 'revise', 'reject'].map($);
    for (const b of buttons) b.disabled = true;
    try {
      const body = { decision };
      if (note) body.note = note;
      const id = state.run.id;
      const asked = ++state.viewAsked;
      const run = await api('/v1/runs/' + encodeURIComponent(id) + '/decision', { method: 'POST', body });
      status.textContent = { approve: 'Approved.', revise: 'Sent back to the reporter.', reject: 'Rejected.' }[decision];
      // A revised run may be running, or waiting again, by the time this
      // answer arrives: a newer view already shown wins over it.
      if (state.run && state.run.id === id && asked > state.viewApplied) {
        state.viewApplied = asked;
        state.run = Object.assign(state.run, { status: run.status, stop_reason: run.stop_reason });
        showRunHead();
      }
      loadHistory(false);
    } catch (e) {
      status.textContent = e.message;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  function addMessage(msg) {
    const info = agentInfo(msg.source);
    const li = document.createElement('li');
    li.className = 'msg ' + info.cls;
    const head = document.createElement('div');
    head.className = 'msg-head';
    const av = document.createElement('span');
    av.className = 'avatar';
    av.setAttribute('aria-hidden', 'true');
    av.textContent = info.label.charAt(0);
    const name = document.createElement('span');
    name.className = 'speaker';
    name.textContent = info.label;
    const raw = document.createElement('span');
    raw.className = 'raw-name';
    raw.textContent = msg.source;
    const tok = document.createElement('span');
    tok.className = 'msg-tokens';
    tok.textContent = fmtInt.format(tokensOf(msg.usage)) + ' tokens' + (msg.cached ? ' · cached' : '');
    head.append(av, name, raw, tok);
    const body = document.createElement('div');
    body.className = 'msg-body';
    body.appendChild(renderMarkdown(msg.content, 3));
    li.append(head, body);
    $('stream').appendChild(li);
    showCount();
  }

  function showCount() {
    const n = $('stream').querySelectorAll('li.msg').length;
    $('stream-count').textContent = n ? '(' + n + (n === 1 ? ' message)' : ' messages)') : '';
  }

  // setConversation opens or folds the desk conversation. byUser marks a
  // choice of the reader, which later automatic changes respect.
  function setConversation(open, byUser) {
    if (!byUser && state.conversationByUser) return;
    if (byUser) state.conversationByUser = true;
    $('conversation').hidden = !open;
    $('conversation-toggle').setAttribute('aria-expanded', String(open));
    $('conversation-toggle').textContent = open ? 'Hide conversation' : 'Show conversation';
  }

  // setNewStory opens or folds the new-story form.
  function setNewStory(open) {
    $('run-form').hidden = !open;
    $('new-story').classList.toggle('folded', !open);
    $('new-toggle').setAttribute('aria-expanded', String(open));
  }

  function addNote(text, cls) {
    const li = document.createElement('li');
    li.className = 'note ' + (cls || '');
    li.textContent = text;
    $('stream').appendChild(li);
  }

  function showLive(speaker, text, restart) {
    const live = $('live');
    const info = agentInfo(speaker);
    if (live.hidden || live.dataset.speaker !== speaker) {
      live.hidden = false;
      live.dataset.speaker = speaker;
      live.className = 'msg live ' + info.cls;
      $('live-avatar').textContent = info.label.charAt(0);
      $('live-name').textContent = info.label;
      $('live-text').textContent = '';
    }
    if (restart) $('live-text').textContent = '';
    $('live-text').textContent += text;
  }
  function hideLive() {
    $('live').hidden = true;
    $('live').dataset.speaker = '';
    $('live-text').textContent = '';
  }

  // ---------- sources and tool calls ----------

  // safeLink returns the URL parsed when it is http or https, else null:
  // only those become links; javascript:, data: and the rest stay text.
  function safeLink(raw) {
    if (typeof raw !== 'string' || !raw) return null;
    let u;
    try {
      u = new URL(raw);
    } catch (_) {
      return null;
    }
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  }

  // sourceItem renders one source as text: its number, its title (a link
  // only for an http/https URL) and its host. Nothing is built from markup.
  function sourceItem(s) {
    const li = document.createElement('li');
    li.className = 'source';
    if (typeof s === 'string') s = { url: s };
    if (!s || typeof s !== 'object') s = {};
    if (s.id) li.dataset.id = String(s.id);
    const num = document.createElement('span');
    num.className = 'source-num';
    num.textContent = s.id ? '[' + s.id + '] ' : '';
    const url = typeof s.url === 'string' ? s.url : '';
    const label = (typeof s.title === 'string' && s.title.trim()) || url || 'untitled source';
    const link = safeLink(url);
    let title;
    if (link) {
      title = document.createElement('a');
      title.href = link.href;
      title.rel = 'noopener noreferrer';
      title.target = '_blank';
    } else {
      title = document.createElement('span');
    }
    title.className = 'source-title';
    title.textContent = label;
    const host = document.createElement('span');
    host.className = 'source-host';
    // The host of a link; the raw URL (as text) of anything else, so the
    // reader sees what it was.
    host.textContent = link ? link.host : url && url !== label ? url : '';
    li.append(num, title);
    if (host.textContent) li.append(' ', host);
    return li;
  }

  // renderSources fills list with the sources and returns how many there are.
  // The same sources again leave the list as it is (a refreshed view must
  // not rebuild what the reader may be selecting or focusing).
  function renderSources(list, sources) {
    const srcs = Array.isArray(sources) ? sources : [];
    const key = JSON.stringify(srcs);
    if (list.dataset.key === key) return srcs.length;
    list.dataset.key = key;
    clear(list);
    for (const s of srcs) list.appendChild(sourceItem(s));
    return srcs.length;
  }

  // showSources lists the run's sources below its article.
  function showSources(sources) {
    const n = renderSources($('run-sources'), sources);
    $('sources-wrap').hidden = n === 0;
  }

  // addSource adds a source read while the run goes on, once.
  function addSource(s) {
    if (!s || !s.id || !state.run) return;
    const have = Array.isArray(state.run.sources) ? state.run.sources : [];
    if (have.some((x) => x && x.id === s.id)) return;
    state.run.sources = have.concat([s]);
    showSources(state.run.sources);
  }

  // showGrounding shows the run's grounding check below its sources: a
  // summary and the claims no source supports, each as text (they are cut
  // from the model's article). No check (or grounding off) hides it.
  function showGrounding(g) {
    const wrap = $('grounding-wrap');
    const list = $('grounding-claims');
    clear(list);
    const off = !!(state.run && state.run.options && state.run.options.grounding === false);
    if (!g || typeof g !== 'object') {
      $('grounding-summary').textContent = off ? 'Not checked: the grounding check is off for this run.' : '';
      wrap.classList.remove('grounding-held');
      wrap.hidden = !off;
      return;
    }
    const claims = Array.isArray(g.unsupported) ? g.unsupported : [];
    const checked = Number(g.checked) || 0;
    let summary;
    if (g.skipped) summary = 'Not checked: ' + String(g.skipped) + '.';
    else if (claims.length === 0) summary = checked + ' claims checked, all found in the task or the sources.';
    else summary = claims.length + ' of ' + checked + ' claims appear neither in the task nor in any source:';
    $('grounding-summary').textContent = summary;
    for (const c of claims) {
      const li = document.createElement('li');
      li.textContent = String(c);
      list.appendChild(li);
    }
    wrap.classList.toggle('grounding-held', claims.length > 0);
    wrap.hidden = false;
  }

  // short cuts text to n characters, on one line.
  function short(text, n) {
    const t = String(text == null ? '' : text).replace(/\s+/g, ' ').trim();
    return t.length > n ? t.slice(0, n - 1) + '…' : t;
  }

  // showTool shows a tool call, and later its result, as one compact line
  // of text in the conversation.
  function showTool(speaker, call, withResult) {
    if (!call) return;
    const key = String(call.id || '') + '/' + String(call.round || 0);
    let li = null;
    for (const el of $('stream').querySelectorAll('li.tool')) {
      if (el.dataset.call === key) li = el;
    }
    if (!li) {
      li = document.createElement('li');
      li.className = 'tool';
      li.dataset.call = key;
      const who = document.createElement('span');
      who.className = 'tool-who';
      who.textContent = agentInfo(speaker || '').label + ' called ';
      const name = document.createElement('code');
      name.className = 'tool-name';
      name.textContent = String(call.name || '?');
      const args = document.createElement('span');
      args.className = 'tool-args';
      args.textContent = ' ' + short(call.arguments, 160);
      const res = document.createElement('span');
      res.className = 'tool-result';
      li.append(who, name, args, res);
      $('stream').appendChild(li);
    }
    if (withResult) {
      const res = li.querySelector('.tool-result');
      res.textContent = ' → ' + (call.is_error ? 'error: ' : '') + short(call.result, 140);
      li.classList.toggle('tool-error', !!call.is_error);
    }
  }

  // showArticle shows a run's article above the conversation; its headline
  // is the run's title (in the run head), so the body here starts below it.
  function showArticle(run) {
    const wrap = $('article-wrap');
    if (!run.article) {
      wrap.hidden = true;
      return;
    }
    const art = $('article');
    clear(art);
    const { headline, body } = splitHeadline(run.article);
    art.appendChild(renderMarkdown(headline ? body : run.article, 3));
    wrap.hidden = false;
    if (DONE.includes(run.status)) setConversation(false, false);
  }

  function handleEvent(type, ev) {
    switch (type) {
      case 'run_started':
        if (ev.resumed) addNote('Resumed after a restart; earlier messages were kept.', 'n-info');
        if (state.run.status === 'queued') {
          state.run.status = 'running';
          showRunHead();
        }
        break;
      case 'speaker_selected':
        showLive(ev.speaker, '', true);
        break;
      case 'delta':
        showLive(ev.speaker, ev.delta || '', ev.restart);
        showMeters(ev.total);
        break;
      case 'message':
        hideLive();
        if (ev.message) {
          state.messages = ev.index + 1;
          addMessage(ev.message);
        }
        showMeters(ev.total);
        break;
      case 'tool_call':
        showTool(ev.speaker, ev.tool, false);
        break;
      case 'tool_result':
        showTool(ev.speaker, ev.tool, true);
        addSource(ev.source);
        break;
      case 'source':
        addSource(ev.source);
        break;
      case 'tool_approval_requested':
        if (ev.tool_approval) addNote('Waiting for the editor-in-chief: ' + ev.tool_approval.tool + ' ' + ev.tool_approval.arguments, 'n-info');
        refreshRun('awaiting_tool_approval');
        break;
      case 'tool_decision':
        if (ev.tool_approval) addNote('Editor-in-chief ' + (ev.tool_approval.decision === 'allow' ? 'allowed ' : 'denied ') + ev.tool_approval.tool + (ev.tool_approval.by ? ' (' + ev.tool_approval.by + ')' : '') + '.', 'n-info');
        break;
      case 'security':
        // What the run's guard refused or neutralised (issue 19): text, never HTML.
        if (ev.security) addNote('Security: ' + (ev.security.detail || ev.security.kind), 'n-security');
        break;
      case 'grounding':
        if (state.run) state.run.grounding = ev.grounding;
        showGrounding(ev.grounding);
        break;
      case 'approval_requested':
        hideLive();
        addNote(ev.capped ? 'The team stopped at a limit (' + ev.reason + '); the article waits for the editor-in-chief to approve or reject it.'
          : 'The team is done; the article waits for the editor-in-chief.', 'n-info');
        refreshRun('awaiting_approval');
        break;
      case 'approval_decided':
        if (ev.decision) {
          const d = ev.decision;
          const what = { approve: 'approved', revise: 'sent back', reject: 'rejected' }[d.decision] || d.decision;
          addNote('Editor-in-chief ' + what + (d.by ? ' (' + d.by + ')' : '') + (d.note ? ': ' + d.note : '') + '.', 'n-info');
        }
        refreshRun();
        break;
      case 'run_finished':
        hideLive();
        state.run.stop_reason = ev.stop_reason;
        if (ev.error) addNote('The run failed: ' + ev.error, 'n-error');
        addNote('Run ended — ' + (ev.stop_reason || 'finished') + '.', 'n-end');
        refreshRun();
        break;
    }
  }

  // follow reads the run's Server-Sent Events with fetch, so the
  // Authorization header can be sent, and reconnects with Last-Event-ID.
  async function follow(runID) {
    if (state.follow) state.follow.abort();
    const ac = new AbortController();
    state.follow = ac;
    let last = 0;
    let finished = false;
    let failures = 0;
    while (!ac.signal.aborted && !finished) {
      try {
        const headers = { Accept: 'text/event-stream' };
        if (state.key) headers.Authorization = 'Bearer ' + state.key;
        if (last > 0) headers['Last-Event-ID'] = String(last);
        const res = await fetch('/v1/runs/' + encodeURIComponent(runID) + '/events', { headers, signal: ac.signal, cache: 'no-store' });
        if (!res.ok) {
          if (res.status === 401 || res.status === 404 || res.status === 403) {
            addNote('Cannot follow this run (' + res.status + ').', 'n-error');
            return;
          }
          throw new Error('HTTP ' + res.status);
        }
        failures = 0;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let id = '';
            let type = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (!line || line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (field === 'id') id = val;
              else if (field === 'event') type = val;
              else if (field === 'data') data.push(val);
            }
            if (!data.length) continue;
            if (id) last = Number(id);
            let ev;
            try {
              ev = JSON.parse(data.join('\n'));
            } catch (_) {
              continue;
            }
            if (ac.signal.aborted) return;
            handleEvent(type, ev);
            if (type === 'run_finished') finished = true;
          }
        }
      } catch (e) {
        if (ac.signal.aborted) return;
        failures++;
      }
      if (!finished && !ac.signal.aborted) {
        try {
          const run = await api('/v1/runs/' + encodeURIComponent(runID), { signal: ac.signal });
          if (DONE.includes(run.status)) {
            hideLive();
            refreshRun();
            return;
          }
        } catch (_) {
          /* retry below */
        }
        await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** Math.min(failures, 5))));
      }
    }
  }

  // refreshRun shows the run as the service has it now. With expect, an
  // event said which status comes next (the run waits): a view read a moment
  // before the service saved that status is read again, a few times.
  async function refreshRun(expect, tries) {
    if (!state.run) return;
    const id = state.run.id;
    const asked = ++state.viewAsked;
    try {
      const run = await api('/v1/runs/' + encodeURIComponent(id));
      if (!state.run || state.run.id !== id || asked <= state.viewApplied) return;
      state.viewApplied = asked;
      const n = tries || 0;
      if (expect && run.status !== expect && !DONE.includes(run.status) && n < 5) {
        setTimeout(() => refreshRun(expect, n + 1), 100 * 2 ** n);
      }
      state.run = run;
      showRunHead();
      showArticle(run);
      showSources(run.sources);
      showGrounding(run.grounding);
      loadHistory(false);
    } catch (e) {
      addNote(e.message, 'n-error');
    }
  }

  async function openRun(id, focus) {
    let run;
    try {
      run = await api('/v1/runs/' + encodeURIComponent(id));
    } catch (e) {
      $('form-error').textContent = e.message;
      return;
    }
    if (state.follow) state.follow.abort();
    state.run = run;
    state.viewApplied = ++state.viewAsked; // views asked for before this one are stale
    state.messages = 0;
    state.conversationByUser = false;
    clear($('stream'));
    showCount();
    hideLive();
    setConversation(true, false);
    $('copy-status').textContent = '';
    $('empty').hidden = true;
    $('run').hidden = false;
    if (phone.matches) setNewStory(false);
    showRunHead();
    showArticle(run);
    showSources(run.sources);
    showGrounding(run.grounding);
    markCurrent();
    if (location.hash !== '#run=' + id) history.replaceState(null, '', '#run=' + id);
    // Opened from the list: bring the run's head into view once, and only
    // then; the messages replayed below it never move the page.
    if (focus) {
      $('main').focus({ preventScroll: true });
      $('run').scrollIntoView({ block: 'start' });
    }
    follow(id);
  }

  // ---------- actions ----------

  async function submitRun(e) {
    e.preventDefault();
    const err = $('form-error');
    err.textContent = '';
    if (!authed()) {
      err.textContent = 'Sign in or set your API key first (top right).';
      if ($('sign-in').hidden) toggleKeyPanel(true);
      return;
    }
    const task = $('task').value.trim();
    if (!task) {
      err.textContent = 'Write a topic or paste the facts first.';
      $('task').focus();
      return;
    }
    const body = { task, team: document.querySelector('input[name=team]:checked').value };
    const max = $('max-messages').value;
    if (max) body.max_messages = Number(max);
    const budget = $('budget').value;
    if (budget) body.budget_usd = Number(budget);
    const sources = $('sources-input').value.split('\n').map((s) => s.trim()).filter((s) => s);
    if (sources.length) body.sources = sources;
    if ($('no-tools').checked) body.tools = false;
    if ($('no-grounding').checked) body.grounding = false;
    const btn = $('submit');
    btn.disabled = true;
    btn.textContent = 'Assigning…';
    try {
      const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
      const run = await api('/v1/runs', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      await openRun(run.id, false);
      loadHistory(false);
    } catch (ex) {
      err.textContent = ex.message;
    } finally {
      btn.disabled = false;
      btn.textContent = 'Assign story';
    }
  }

  async function cancelRun() {
    if (!state.run) return;
    const btn = $('cancel');
    btn.disabled = true;
    try {
      await api('/v1/runs/' + encodeURIComponent(state.run.id) + '/cancel', { method: 'POST' });
      addNote('Cancelling…', 'n-info');
    } catch (e) {
      addNote(e.message, 'n-error');
    } finally {
      btn.disabled = false;
    }
  }

  async function copyArticle() {
    const text = state.run && state.run.article;
    if (!text) return;
    const status = $('copy-status');
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = 'Copied the article as Markdown.';
    } catch (_) {
      const ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.className = 'offscreen';
      document.body.appendChild(ta);
      ta.select();
      const ok = document.execCommand && document.execCommand('copy');
      document.body.removeChild(ta);
      status.textContent = ok ? 'Copied the article as Markdown.' : 'Copy failed: select the text and copy it by hand.';
    }
  }

  function downloadArticle() {
    const run = state.run;
    if (!run || !run.article) return;
    const slug = runTitle(run).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'article';
    const blob = new Blob([run.article], { type: 'text/markdown;charset=utf-8' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = slug + '.md';
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }

  async function checkReady() {
    try {
      const res = await fetch('/readyz', { cache: 'no-store' });
      const data = await res.json();
      state.emulator = !!data.emulator;
      $('emulator-banner').hidden = !data.emulator;
      if (state.run) showMeters(state.run.usage);
    } catch (_) {
      /* the banner stays hidden */
    }
  }

  // ---------- desks ----------

  // loadTeams adds the desks the service offers beyond the two in the page
  // (the investigations desk, those of serve --teams-dir) to the picker.
  async function loadTeams() {
    let data;
    try {
      data = await api('/v1/teams');
    } catch (_) {
      return; // the two built-in choices stay usable
    }
    const box = document.querySelector('fieldset.teams');
    for (const t of (data && data.teams) || []) {
      if (document.querySelector('input[name=team][value="' + CSS.escape(t.name) + '"]')) continue;
      const label = document.createElement('label');
      label.className = 'choice';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'team';
      input.value = t.name;
      const span = document.createElement('span');
      const strong = document.createElement('strong');
      strong.textContent = t.name;
      const small = document.createElement('small');
      small.textContent = t.description || (t.agents || []).join(', ');
      span.append(strong, small);
      label.append(input, span);
      box.append(label);
    }
  }

  // ---------- intake ----------

  // loadIntake lists the feeds, queues and webhooks that start runs by
  // themselves (serve --intake): runs started, items deferred by the caps,
  // errors and the last poll. Hidden without an intake file.
  async function loadIntake() {
    let data;
    try {
      data = await api('/v1/intake');
    } catch (_) {
      return;
    }
    const sources = (data && data.sources) || [];
    const list = $('intake-list');
    list.replaceChildren();
    for (const s of sources) {
      const li = document.createElement('li');
      li.className = 'intake-item';
      const name = document.createElement('strong');
      name.textContent = s.name;
      const info = document.createElement('small');
      let text = s.kind + ' → ' + s.desk + ' · ' + s.runs_created + ' runs';
      if (s.deferred) text += ', ' + s.deferred + ' deferred';
      if (s.errors) text += ', ' + s.errors + ' errors';
      if (s.last_poll) text += ' · polled ' + fmtTime.format(new Date(s.last_poll));
      info.textContent = text;
      li.append(name, ' ', info);
      if (s.last_error) li.title = s.last_error;
      list.append(li);
    }
    $('intake').hidden = sources.length === 0;
  }

  // ---------- start ----------

  // ---------- the published articles ----------

  function fmtDay(iso) {
    return iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '';
  }
  function textEl(tag, text, cls) {
    const e = document.createElement(tag);
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  // loadPublished lists the published articles, each with its versions,
  // corrections and (for admins) webhook deliveries; an editor-in-chief can
  // correct or retract each from there.
  async function loadPublished() {
    const list = $('pub-list');
    const status = $('pub-status');
    let data;
    try {
      data = await api('/v1/articles?limit=50');
    } catch (e) {
      $('published').hidden = true;
      return;
    }
    $('published').hidden = false;
    clear(list);
    const arts = data.articles || [];
    status.textContent = arts.length ? '' : 'Nothing published yet.';
    let deliveries = [];
    if (state.me && state.me.role === 'admin') {
      try {
        const hooks = (await api('/v1/webhooks')).webhooks || [];
        for (const h of hooks) {
          const ds = (await api('/v1/webhooks/' + encodeURIComponent(h.id) + '/deliveries')).deliveries || [];
          deliveries = deliveries.concat(ds);
        }
      } catch (_) {
        deliveries = [];
      }
    }
    for (const a of arts) list.appendChild(publishedItem(a, deliveries.filter((d) => d.article_id === a.id)));
  }

  function publishedItem(a, deliveries) {
    const li = document.createElement('li');
    li.className = 'pub-item';
    li.dataset.id = a.id;
    const art = document.createElement('article');
    art.setAttribute('aria-labelledby', 'pub-h-' + a.id);
    const h = textEl('h3', a.headline);
    h.id = 'pub-h-' + a.id;
    art.appendChild(h);
    const meta = document.createElement('p');
    meta.className = 'hint';
    meta.appendChild(document.createTextNode((TEAMS[a.desk] || a.desk) + ' · version ' + a.version + ' · published ' + fmtDay(a.published_at) + ' · '));
    const badge = document.createElement('span');
    setBadge(badge, a.status);
    meta.appendChild(badge);
    meta.appendChild(document.createTextNode(' · approved by ' + (a.approval && a.approval.by || '—') + ' · '));
    const link = textEl('a', 'public page');
    link.href = '/articles/' + encodeURIComponent(a.slug);
    meta.appendChild(link);
    art.appendChild(meta);

    const more = document.createElement('details');
    more.appendChild(textEl('summary', 'Versions, corrections and deliveries'));
    const versions = document.createElement('ol');
    versions.className = 'pub-versions';
    versions.setAttribute('aria-label', 'Versions of ' + a.headline);
    more.appendChild(versions);
    more.addEventListener('toggle', async () => {
      if (!more.open || versions.dataset.loaded) return;
      versions.dataset.loaded = '1';
      try {
        const vs = (await api('/v1/articles/' + encodeURIComponent(a.id) + '/versions')).versions || [];
        for (const v of vs) versions.appendChild(textEl('li', 'Version ' + v.version + ' · ' + v.status + ' · ' + fmtDay(v.updated_at)));
      } catch (e) {
        versions.appendChild(textEl('li', e.message));
      }
    });
    const corr = a.corrections || [];
    more.appendChild(textEl('h4', corr.length ? 'Corrections' : 'No corrections'));
    if (corr.length) {
      const ul = document.createElement('ul');
      for (const c of corr) ul.appendChild(textEl('li', fmtDay(c.at) + ' (version ' + c.version + ', ' + c.by + '): ' + c.note));
      more.appendChild(ul);
    }
    if (a.retraction) more.appendChild(textEl('p', 'Retracted ' + fmtDay(a.retraction.at) + ' by ' + a.retraction.by + ': ' + a.retraction.note));
    if (deliveries.length) {
      more.appendChild(textEl('h4', 'Webhook deliveries'));
      const ul = document.createElement('ul');
      for (const d of deliveries) ul.appendChild(textEl('li', d.event + ' · ' + d.status + ' · ' + (d.attempts || []).length + ' attempt(s)'));
      more.appendChild(ul);
    }
    art.appendChild(more);
    if (state.me && state.me.can_decide && a.status === 'published') art.appendChild(changeForm(a));
    li.appendChild(art);
    return li;
  }

  // changeForm corrects or retracts article a (editor-in-chief).
  function changeForm(a) {
    const form = document.createElement('form');
    form.className = 'pub-change';
    form.noValidate = true;
    const id = 'pub-note-' + a.id;
    const label = textEl('label', 'Correction or retraction note for readers');
    label.htmlFor = id;
    const note = document.createElement('textarea');
    note.id = id;
    note.rows = 2;
    const status = textEl('p', '', 'hint');
    status.setAttribute('role', 'status');
    const row = document.createElement('div');
    row.className = 'decision-actions';
    const correct = textEl('button', 'Publish correction', 'primary');
    correct.type = 'submit';
    const retract = textEl('button', 'Retract', 'danger');
    retract.type = 'button';
    row.append(correct, retract);
    form.append(label, note, row, status);
    const send = async (what) => {
      const text = note.value.trim();
      if (!text) {
        status.textContent = 'Write the note readers will see first.';
        note.focus();
        return;
      }
      correct.disabled = retract.disabled = true;
      try {
        await api('/v1/articles/' + encodeURIComponent(a.id) + '/' + what, { method: 'POST', body: { note: text } });
        status.textContent = what === 'retract' ? 'Retracted.' : 'Correction published.';
        await loadPublished();
        const again = document.querySelector('.pub-item[data-id="' + a.id + '"] h3');
        if (again) {
          again.tabIndex = -1;
          again.focus();
        }
      } catch (e) {
        status.textContent = e.message;
      } finally {
        correct.disabled = retract.disabled = false;
      }
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      send('corrections');
    });
    retract.addEventListener('click', () => send('retract'));
    return form;
  }

  function init() {
    $('pub-refresh').addEventListener('click', () => loadPublished());
    $('today').textContent = new Intl.DateTimeFormat('en-GB', { weekday: 'long', day: 'numeric', month: 'long' }).format(new Date());
    loadKey();
    checkReady();
    $('key-change').addEventListener('click', () => toggleKeyPanel($('key-panel').hidden));
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('key-input').value.trim();
      if (!v) return;
      state.key = v;
      try {
        localStorage.setItem(KEY_STORAGE, v);
      } catch (_) {
        /* private mode: kept for this page only */
      }
      $('key-input').value = '';
      showKeyStatus();
      toggleKeyPanel(false);
      loadMe().then(() => {
        loadHistory(false);
        loadTeams();
      loadIntake();
        loadIntake();
      });
      $('task').focus();
    });
    $('key-forget').addEventListener('click', () => {
      state.key = '';
      try {
        localStorage.removeItem(KEY_STORAGE);
      } catch (_) {
        /* nothing stored */
      }
      showKeyStatus();
      clear($('history'));
    });
    $('run-form').addEventListener('submit', submitRun);
    $('new-toggle').addEventListener('click', () => {
      const open = $('run-form').hidden;
      setNewStory(open);
      if (open) $('task').focus();
    });
    $('conversation-toggle').addEventListener('click', () => setConversation($('conversation').hidden, true));
    // A link to another run on this page (#run=ID) opens it.
    window.addEventListener('hashchange', () => {
      const h = /^#run=([\w-]+)$/.exec(location.hash);
      if (h && authed() && (!state.run || state.run.id !== h[1])) openRun(h[1], false);
    });
    // Back on a wide screen, the form is always open beside the run.
    phone.addEventListener('change', () => {
      if (!phone.matches) setNewStory(true);
    });
    $('task').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('run-form').requestSubmit();
    });
    $('refresh').addEventListener('click', () => loadHistory(false));
    $('more').addEventListener('click', () => loadHistory(true));
    $('cancel').addEventListener('click', cancelRun);
    $('copy').addEventListener('click', copyArticle);
    $('download').addEventListener('click', downloadArticle);
    $('approve').addEventListener('click', () => decide('approve'));
    $('tool-allow').addEventListener('click', () => decideTool('allow'));
    $('tool-deny').addEventListener('click', () => decideTool('deny'));
    $('revise').addEventListener('click', () => decide('revise'));
    $('reject').addEventListener('click', () => decide('reject'));
    $('sign-out').addEventListener('click', signOut);
    loadMe().then(() => {
      if (!authed()) {
        if ($('sign-in').hidden) toggleKeyPanel(true);
        return;
      }
      loadHistory(false);
      loadTeams();
      loadPublished();
      const m = /^#run=([\w-]+)$/.exec(location.hash);
      if (m) openRun(m[1], false);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
