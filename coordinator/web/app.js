// shardcounter dashboard: polls the coordinator's JSON API once a second and
// draws what it gets. Plain JavaScript, no dependencies, no build step.
'use strict';

(() => {
  const POLL_MS = 1000;
  const WINDOW_MS = 5 * 60 * 1000; // the chart's time span
  const TOKEN_KEY = 'shardcounter.token';
  const PALETTE = ['#4c6ef5', '#e8590c', '#2b8a3e', '#c2255c', '#1098ad', '#f59f00', '#7048e8', '#5c940d', '#d6336c', '#495057'];

  const $ = (sel) => document.querySelector(sel);
  let shardIds = [];
  let lookupKey = '';
  let lastCluster = null;

  const colorOf = (id) => PALETTE[Math.max(0, shardIds.indexOf(id)) % PALETTE.length];

  // el builds an element: el('td', {className: 'num'}, 'text', child, ...).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const c of children) {
      if (c !== null && c !== undefined) e.append(c);
    }
    return e;
  }

  const intFmt = new Intl.NumberFormat('en-US');
  function fmtInt(n) {
    return n === null || n === undefined ? '–' : intFmt.format(n);
  }
  function fmtRate(r) {
    if (r === null || r === undefined) return '–';
    if (r === 0) return '0';
    if (r < 10) return r.toFixed(1);
    return intFmt.format(Math.round(r));
  }
  // fmtSI is for axis labels: 1500 -> 1.5k.
  function fmtSI(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
    if (a >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
    return String(+v.toFixed(1));
  }
  function fmtAgo(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }

  // ---- API ----

  class AuthError extends Error {}

  async function api(path) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(path, { headers, cache: 'no-store' });
    if (res.status === 401) throw new AuthError(token ? 'wrong token' : 'token required');
    let body;
    try {
      body = await res.json();
    } catch (e) {
      throw new Error(path + ': HTTP ' + res.status);
    }
    return { status: res.status, body };
  }

  function setBanner(text) {
    const b = $('#banner');
    b.textContent = text;
    b.hidden = !text;
  }

  function showTokenForm(show) {
    $('#token-form').hidden = !show;
    if (show) $('#token').focus();
  }

  // ---- shards ----

  function renderCluster(c) {
    lastCluster = c;
    shardIds = c.shards.map((s) => s.id);
    const total = c.shards.length;
    const health = $('#health');
    health.textContent = c.shardsUp + ' of ' + total + ' shards up';
    health.className = 'pill ' + (c.shardsUp === total ? 'ok' : 'bad');
    $('#now-writes').textContent = fmtRate(c.writesPerSec);
    $('#now-reads').textContent = fmtRate(c.readsPerSec);
    $('#meta').textContent = 'coordinator ' + c.version + ' · up ' + fmtAgo(c.uptimeSeconds * 1000) +
      ' · spread ' + c.spread + ' · ' + c.clients + ' client' + (c.clients === 1 ? '' : 's');
    $('#shards-sub').textContent = c.shardsUp === total ? '' : (total - c.shardsUp) + ' down: writes for their keys go to the next shard, reads fail';

    const tbody = $('#shards tbody');
    const rows = c.shards.map((s) => {
      let counters = s.counters === null ? '…' : fmtInt(s.counters);
      if (s.countersCapped) counters = '≥ ' + counters;
      const since = fmtAgo(c.nowMs - s.sinceMs);
      const state = el('td', { className: 'state' },
        el('span', { className: 'badge ' + (s.up ? 'up' : 'down'), textContent: s.up ? 'up' : 'down' }));
      state.title = (s.up ? 'up for ' : 'down for ') + since;
      if (!s.up && s.error) {
        // "dial tcp 10.0.0.5:7001: connect: connection refused" -> "connection refused"
        const short = s.error.split(': ').pop();
        state.append(el('span', { className: 'why', textContent: short, title: s.error }));
      }
      const tr = el('tr', { className: s.up ? 'up' : 'down' },
        el('td', { className: 'id' }, el('span', { className: 'dot', style: 'background:' + colorOf(s.id) }), s.id),
        el('td', { className: 'addr', textContent: s.addr }),
        state,
        el('td', { className: 'num counters', textContent: s.up ? counters : '–',
          title: (s.up ? '' : 'last known: ' + counters + '; ') + 'RocksDB records (estimate): ' + fmtInt(s.keys) }),
        el('td', { className: 'num writes', textContent: s.up ? fmtRate(s.writesPerSec) : '–' }),
        el('td', { className: 'num latency', textContent: s.up ? s.latencyMs.toFixed(2) + ' ms' : '–' }));
      tr.dataset.shard = s.id;
      return tr;
    });
    tbody.replaceChildren(...rows);
    drawChart(c.ops, c.nowMs);
  }

  // ---- chart ----

  // niceStep returns a round step (1, 2 or 5 times a power of ten) that
  // splits max into about n parts.
  function niceStep(max, n) {
    const raw = max / n;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) {
      if (m * p >= raw) return m * p;
    }
    return 10 * p;
  }

  function drawChart(ops, nowMs) {
    const canvas = $('#ops-chart');
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (w === 0 || h === 0) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const css = getComputedStyle(document.documentElement);
    const colWrites = css.getPropertyValue('--writes').trim() || '#e8590c';
    const colReads = css.getPropertyValue('--reads').trim() || '#1c7ed6';
    const pad = { l: 48, r: 10, t: 8, b: 22 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const t0 = nowMs - WINDOW_MS;

    let max = 0;
    for (let i = 0; i < ops.t.length; i++) {
      if (ops.t[i] >= t0) max = Math.max(max, ops.reads[i], ops.writes[i]);
    }
    const step = niceStep(Math.max(max, 5), 4);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const x = (t) => pad.l + ((t - t0) / WINDOW_MS) * pw;
    const y = (v) => pad.t + ph - (v / top) * ph;

    // Grid and axis labels.
    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.fillStyle = '#6b7280';
    ctx.strokeStyle = '#e3e6ea';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= top + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      ctx.fillText(fmtSI(v), pad.l - 6, yy);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let m = 5; m >= 0; m--) {
      const xx = x(nowMs - m * 60000);
      ctx.fillText(m === 0 ? 'now' : '−' + m + ' min', Math.min(Math.max(xx, pad.l + 14), w - pad.r - 12), pad.t + ph + 6);
    }

    const series = (vals, color, fill) => {
      const pts = [];
      for (let i = 0; i < ops.t.length; i++) {
        if (ops.t[i] >= t0) pts.push([x(ops.t[i]), y(vals[i])]);
      }
      if (pts.length === 0) return;
      if (fill) {
        ctx.beginPath();
        ctx.moveTo(pts[0][0], y(0));
        for (const [px, py] of pts) ctx.lineTo(px, py);
        ctx.lineTo(pts[pts.length - 1][0], y(0));
        ctx.closePath();
        ctx.globalAlpha = 0.12;
        ctx.fillStyle = color;
        ctx.fill();
        ctx.globalAlpha = 1;
      }
      ctx.beginPath();
      pts.forEach(([px, py], i) => (i === 0 ? ctx.moveTo(px, py) : ctx.lineTo(px, py)));
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.lineJoin = 'round';
      ctx.stroke();
    };
    series(ops.reads, colReads, false);
    series(ops.writes, colWrites, true);

    if (ops.t.length < 2) {
      ctx.fillStyle = '#6b7280';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('collecting samples…', pad.l + pw / 2, pad.t + ph / 2);
    }
  }

  // ---- split bars ----

  // splitBar draws a counter's partials as one bar, a segment per shard in
  // that shard's colour, sized by the partial's share of the sum of their
  // absolute values. A shard that did not answer is a grey hatched segment.
  function splitBar(view, tall) {
    const bar = el('div', { className: 'bar' + (tall ? ' tall' : '') });
    const known = view.partials.filter((p) => p.value !== null);
    const sumAbs = known.reduce((a, p) => a + Math.abs(p.value), 0);
    const unknown = view.partials.filter((p) => p.value === null);
    const unknownShare = unknown.length ? 0.08 * unknown.length : 0;
    for (const p of view.partials) {
      let share;
      const seg = el('div', { className: 'seg' });
      seg.dataset.shard = p.shard;
      if (p.value === null) {
        share = unknownShare / unknown.length;
        seg.classList.add('unknown');
        seg.title = p.shard + ': did not answer';
        if (tall) seg.textContent = p.shard + ' ?';
      } else {
        if (p.value === 0) continue;
        share = (sumAbs ? Math.abs(p.value) / sumAbs : 0) * (1 - unknownShare);
        seg.style.background = colorOf(p.shard);
        if (p.value < 0) seg.classList.add('neg');
        const pct = sumAbs ? Math.round((Math.abs(p.value) / sumAbs) * 100) : 0;
        seg.title = p.shard + ': ' + fmtInt(p.value) + ' (' + pct + '%)';
        if (tall && share > 0.09) seg.textContent = p.shard + ' ' + pct + '%';
      }
      seg.style.width = (share * 100).toFixed(2) + '%';
      bar.append(seg);
    }
    return bar;
  }

  // ---- hot counters ----

  function renderHot(hot) {
    $('#hot-sub').textContent = 'by write rate, last ' + hot.windowSeconds + ' s';
    const rows = hot.counters.map((c) => {
      const btn = el('button', { type: 'button', textContent: c.counter, title: 'look up ' + c.counter });
      btn.addEventListener('click', () => lookup(c.counter));
      const missing = c.partials.filter((p) => p.value === null).map((p) => p.shard);
      const split = el('td', { className: 'split' }, splitBar(c, false));
      const total = el('td', { className: 'num total', textContent: c.total === null ? '?' : fmtInt(c.total) });
      if (c.error) total.title = c.error;
      if (missing.length) split.title = 'no answer from ' + missing.join(', ');
      const tr = el('tr', {},
        el('td', { className: 'key' }, btn),
        el('td', { className: 'num rate', textContent: fmtRate(c.writesPerSec) }),
        split, total);
      tr.dataset.key = c.counter;
      return tr;
    });
    $('#hot tbody').replaceChildren(...rows);
    $('#hot-empty').hidden = rows.length > 0;
  }

  // ---- lookup ----

  function lookup(key) {
    lookupKey = key;
    $('#lookup-key').value = key;
    history.replaceState(null, '', key ? '#counter=' + encodeURIComponent(key) : '#');
    if (key) refreshLookup();
    else $('#lookup').hidden = true;
  }

  async function refreshLookup() {
    const key = lookupKey;
    if (!key) return;
    const { status, body } = await api('/api/counters/' + encodeURIComponent(key));
    if (key !== lookupKey) return; // another lookup started meanwhile
    if (!body.partials) {
      renderLookupError(key, body.error || 'HTTP ' + status);
      return;
    }
    renderLookup(body);
  }

  function renderLookupError(key, msg) {
    $('#lookup').hidden = false;
    $('#lookup-name').textContent = key;
    $('#lookup-total').textContent = '';
    $('#lookup-bar').replaceChildren();
    $('#lookup-parts tbody').replaceChildren();
    const e = $('#lookup-error');
    e.textContent = msg;
    e.hidden = false;
  }

  function renderLookup(v) {
    $('#lookup').hidden = false;
    $('#lookup-name').textContent = v.counter;
    const total = $('#lookup-total');
    if (v.total !== null) {
      total.textContent = fmtInt(v.total);
      total.className = 'big';
    } else {
      total.textContent = 'total unknown';
      total.className = 'big unknown';
    }
    const err = $('#lookup-error');
    err.textContent = v.error || (v.exists ? '' : 'No shard holds this counter (its value is 0; GET returns nil).');
    err.hidden = !err.textContent;
    $('#lookup-bar').replaceWith(Object.assign(splitBar(v, true), { id: 'lookup-bar' }));
    const sumAbs = v.partials.reduce((a, p) => a + (p.value === null ? 0 : Math.abs(p.value)), 0);
    const rows = v.partials.map((p) => {
      const ok = p.value !== null;
      const pct = ok && sumAbs ? ((Math.abs(p.value) / sumAbs) * 100).toFixed(1) + '%' : '';
      const tr = el('tr', { className: ok ? 'up' : 'down' },
        el('td', {}, el('span', { className: 'dot', style: 'background:' + colorOf(p.shard) }), p.shard),
        el('td', { className: 'num value', textContent: ok ? fmtInt(p.value) : 'unavailable', title: p.error || '' }),
        el('td', { className: 'num pct', textContent: pct }));
      tr.dataset.shard = p.shard;
      return tr;
    });
    $('#lookup-parts tbody').replaceChildren(...rows);
  }

  // ---- polling ----

  async function tick() {
    try {
      const [cluster, hot] = await Promise.all([api('/api/cluster'), api('/api/hot?n=10')]);
      renderCluster(cluster.body);
      renderHot(hot.body);
      await refreshLookup();
      setBanner('');
      if (!$('#token-form').hidden && sessionStorage.getItem(TOKEN_KEY)) showTokenForm(false);
    } catch (e) {
      if (e instanceof AuthError) {
        setBanner('The coordinator needs a bearer token (' + e.message + ').');
        if ($('#token-form').hidden) showTokenForm(true);
      } else {
        setBanner('Cannot reach the coordinator: ' + e.message);
        const health = $('#health');
        health.textContent = 'no answer';
        health.className = 'pill bad';
      }
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }

  function init() {
    $('#lookup-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      lookup($('#lookup-key').value.trim());
    });
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('#token').value;
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      $('#token').value = '';
      showTokenForm(false);
    });
    $('#token-clear').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $('#token').value = '';
    });
    $('#token-toggle').addEventListener('click', () => showTokenForm($('#token-form').hidden));
    window.addEventListener('resize', () => {
      if (lastCluster) drawChart(lastCluster.ops, lastCluster.nowMs);
    });
    const m = /^#counter=(.*)$/.exec(location.hash);
    if (m) {
      lookupKey = decodeURIComponent(m[1]);
      $('#lookup-key').value = lookupKey;
    }
    tick();
  }

  init();
})();
