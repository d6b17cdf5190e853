// report.html: renders the run data embedded in #report-data (the same data as report.json,
// one entry per run or shard) into a summary, a canvas timeline, a virtualized spec table, a
// detail panel and the failures. No network, no libraries. `#selftest` checks the rendered page
// and writes the outcome into #selftest; `#spec-N` opens spec N.
(function () {
  'use strict';
  var started = performance.now();
  var SELFTEST = location.hash === '#selftest';
  var COLORS = {
    passed: '#2e9d57', failed: '#d64545', flaky: '#e0a21b', skipped: '#9aa3ad', hook: '#6b7fd7'
  };
  var ROW_H = 22, AXIS_H = 22, LANE_GAP = 6, TABLE_ROW = 26;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function fmtDur(s) {
    if (s == null || !isFinite(s)) return '–';
    if (s === 0) return '0';
    if (s < 0.001) return (s * 1000).toFixed(3) + ' ms';
    if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 2 : 0) + ' ms';
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + Math.round(s - m * 60) + ' s';
    var h = Math.floor(m / 60);
    return h + ' h ' + (m - h * 60) + ' min';
  }
  function fmtAt(s) { return s == null ? '–' : '+' + fmtDur(s); }
  function shellQuote(s) {
    return /^[A-Za-z0-9_\/.:=@%+-]+$/.test(s) ? s : "'" + String(s).replace(/'/g, "'\\''") + "'";
  }
  function regexEscape(s) { return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&'); }
  function firstLine(s) { s = String(s || ''); var i = s.indexOf('\n'); return i < 0 ? s : s.slice(0, i); }

  // ---------------------------------------------------------------- data
  // Raw DEFLATE (RFC 1951) decoder for large reports, whose data is embedded compressed
  // ({"encoding": "deflate-base64", "size": n, "data": "..."}). Table-driven Huffman decoding,
  // synchronous, so the page renders in one pass.
  var LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  var LEXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  var DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
  var DEXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
  var CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  function inflate(src, sizeHint) {
    var out = new Uint8Array(Math.max(1024, sizeHint || src.length * 4)), pos = 0;
    var inPos = 0, buf = 0, cnt = 0;
    function fill(n) {
      // past the end, zero bits come in; `done` checks that none was used
      while (cnt < n) { buf |= (inPos < src.length ? src[inPos] : 0) << cnt; inPos++; cnt += 8; }
    }
    function bits(n) {
      if (!n) return 0;
      fill(n);
      var v = buf & ((1 << n) - 1);
      buf >>>= n; cnt -= n;
      return v;
    }
    function room(n) {
      if (pos + n <= out.length) return;
      var bigger = new Uint8Array(Math.max(out.length * 2, pos + n));
      bigger.set(out.subarray(0, pos));
      out = bigger;
    }
    // A decoding table indexed by the next `max` input bits: (symbol << 4) | code length.
    function huffman(lengths) {
      var max = 0, i, count = new Uint16Array(16), next = new Uint16Array(16);
      for (i = 0; i < lengths.length; i++) { count[lengths[i]]++; if (lengths[i] > max) max = lengths[i]; }
      count[0] = 0;
      for (var b = 1, code = 0; b < 16; b++) { code = (code + count[b - 1]) << 1; next[b] = code; }
      var table = new Int32Array(1 << max);
      for (i = 0; i < lengths.length; i++) {
        var len = lengths[i];
        if (!len) continue;
        var c = next[len]++, r = 0;
        for (var k = 0; k < len; k++) { r = (r << 1) | (c & 1); c >>= 1; }
        for (var j = r; j < table.length; j += 1 << len) table[j] = (i << 4) | len;
      }
      return { table: table, max: max };
    }
    function symbol(h) {
      fill(h.max);
      var v = h.table[buf & ((1 << h.max) - 1)], len = v & 15;
      if (!len) throw new Error('report data: invalid Huffman code');
      buf >>>= len; cnt -= len;
      return v >> 4;
    }
    var fixedLit = null, fixedDist = null;
    for (var last = 0; !last;) {
      last = bits(1);
      var type = bits(2), lit, dist, i;
      if (type === 0) {
        buf >>>= cnt & 7; cnt -= cnt & 7;
        var n = bits(16), nn = bits(16);
        if ((n ^ 0xffff) !== nn) throw new Error('report data: bad stored block');
        room(n);
        for (i = 0; i < n; i++) out[pos++] = bits(8);
        continue;
      } else if (type === 1) {
        if (!fixedLit) {
          var l = new Uint8Array(288);
          for (i = 0; i < 288; i++) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
          var d = new Uint8Array(30);
          d.fill(5);
          fixedLit = huffman(l); fixedDist = huffman(d);
        }
        lit = fixedLit; dist = fixedDist;
      } else if (type === 2) {
        var hlit = bits(5) + 257, hdist = bits(5) + 1, hclen = bits(4) + 4;
        var cl = new Uint8Array(19);
        for (i = 0; i < hclen; i++) cl[CL_ORDER[i]] = bits(3);
        var clh = huffman(cl), lens = new Uint8Array(hlit + hdist);
        for (i = 0; i < hlit + hdist;) {
          var sym = symbol(clh), rep = 0, val = 0;
          if (sym < 16) { lens[i++] = sym; continue; }
          if (sym === 16) { if (!i) throw new Error('report data: repeat with no length'); val = lens[i - 1]; rep = 3 + bits(2); }
          else if (sym === 17) rep = 3 + bits(3);
          else rep = 11 + bits(7);
          if (i + rep > lens.length) throw new Error('report data: too many code lengths');
          while (rep--) lens[i++] = val;
        }
        lit = huffman(lens.subarray(0, hlit)); dist = huffman(lens.subarray(hlit));
      } else {
        throw new Error('report data: invalid block type');
      }
      for (;;) {
        var s = symbol(lit);
        if (s < 256) { room(1); out[pos++] = s; continue; }
        if (s === 256) break;
        s -= 257;
        if (s >= 29) throw new Error('report data: invalid length');
        var length = LBASE[s] + bits(LEXTRA[s]);
        var ds = symbol(dist);
        if (ds >= 30) throw new Error('report data: invalid distance');
        var back = DBASE[ds] + bits(DEXTRA[ds]);
        if (back > pos) throw new Error('report data: distance before the start');
        room(length);
        for (var from = pos - back, end = pos + length; pos < end;) out[pos++] = out[from++];
      }
    }
    if (inPos - (cnt >> 3) > src.length) throw new Error('report data: truncated');
    return out.subarray(0, pos);
  }
  function readData() {
    var raw = JSON.parse($('report-data').textContent);
    if (raw && raw.encoding === 'deflate-base64') {
      var bin = atob(raw.data), bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      raw = JSON.parse(new TextDecoder().decode(inflate(bytes, raw.size)));
    }
    return raw;
  }
  var DATA;
  try {
    DATA = readData();
  } catch (e) {
    window.__reportErrors.push('report data does not parse: ' + e);
    DATA = { runs: [] };
  }
  var decodedMs = performance.now() - started;
  var runs = Array.isArray(DATA.runs) ? DATA.runs : [];
  // 'workers': one run, a lane per worker; 'runs': a lane per run (shard), a row per worker;
  // 'processes': the processes of a process-per-spec run, packed into lanes
  var layout = DATA.layout === 'processes' ? 'processes' : runs.length > 1 ? 'runs' : 'workers';
  var merged = layout !== 'workers';
  var base = Infinity;
  runs.forEach(function (r) {
    var at = r.report && r.report.started_at;
    if (typeof at === 'number' && at > 0) base = Math.min(base, at);
  });

  var specs = [];   // every spec of every run, with its outcome and absolute times
  var hooks = [];   // suite- and container-level hooks
  runs.forEach(function (run, ri) {
    var rep = run.report || {};
    var at = rep.started_at;
    run.offset = isFinite(base) && typeof at === 'number' && at > 0 ? at - base : 0;
    var attachments = run.attachments || {};
    (rep.specs || []).forEach(function (s, si) {
      var outcome = s.state === 'passed' ? (s.flaky ? 'flaky' : 'passed') : (s.state || 'skipped');
      var labels = Array.isArray(s.labels) ? s.labels : [];
      specs.push({
        id: specs.length, run: ri, s: s, name: String(s.name || ''), outcome: outcome,
        labels: labels, labelKey: '\u0001' + labels.join('\u0001') + '\u0001',
        dur: typeof s.duration === 'number' ? s.duration : 0,
        start: typeof s.start === 'number' ? s.start + run.offset : null,
        lane: typeof s.lane === 'number' ? s.lane : null,
        attachments: attachments[si] || attachments[String(si)] || [],
        bar: null
      });
    });
    (rep.hooks || []).forEach(function (h) {
      hooks.push({
        id: hooks.length, run: ri, h: h, kind: String(h.kind || 'hook'), name: String(h.name || ''),
        start: (h.start || 0) + run.offset, dur: h.duration || 0,
        lane: typeof h.lane === 'number' ? h.lane : null, bar: null
      });
    });
  });
  var byOutcome = { passed: 0, failed: 0, flaky: 0, skipped: 0 };
  specs.forEach(function (x) { byOutcome[x.outcome] = (byOutcome[x.outcome] || 0) + 1; });

  // ---------------------------------------------------------------- lanes and rows
  // A lane is a labelled group of rows: a worker (one run), or a shard with one row per
  // worker (merged runs). Suite-level hooks get a row of their own.
  var lanes = [], rows = [], rowKey = {}, runRow = {};
  function rowOf(ri, key) { return runRow[ri] || rowKey[ri + ':' + key]; }
  function workersOf(ri) {
    var n = 0;
    specs.forEach(function (x) { if (x.run === ri && x.lane != null) n = Math.max(n, x.lane + 1); });
    hooks.forEach(function (h) { if (h.run === ri && h.lane != null) n = Math.max(n, h.lane + 1); });
    return n;
  }
  function suiteHooksOf(ri) { return hooks.some(function (h) { return h.run === ri && h.lane == null; }); }
  function addRow(lane, key, label) {
    var r = { id: rows.length, lane: lane, label: label, bars: [], y: 0 };
    rows.push(r);
    lane.rows.push(r);
    rowKey[key] = r;
  }
  if (layout === 'processes') {
    // each process goes into the first lane free at its start (greedy interval packing)
    var spans = runs.map(function (run, ri) {
      var t0 = Infinity, t1 = -Infinity;
      specs.forEach(function (x) { if (x.run === ri && x.start != null) { t0 = Math.min(t0, x.start); t1 = Math.max(t1, x.start + x.dur); } });
      hooks.forEach(function (h) { if (h.run === ri) { t0 = Math.min(t0, h.start); t1 = Math.max(t1, h.start + h.dur); } });
      return { ri: ri, t0: t0, t1: t1 };
    }).filter(function (s) { return s.t0 <= s.t1; });
    spans.sort(function (a, b) { return a.t0 - b.t0 || a.ri - b.ri; });
    var slots = [];
    spans.forEach(function (sp) {
      var slot = null;
      for (var i = 0; i < slots.length; i++) if (slots[i].end <= sp.t0 + 1e-6) { slot = slots[i]; break; }
      if (!slot) {
        var lane = { label: 'process slot ' + (slots.length + 1), sub: '', rows: [], count: 0 };
        lanes.push(lane);
        addRow(lane, 'slot' + slots.length, '');
        slot = { end: -Infinity, lane: lane };
        slots.push(slot);
      }
      slot.end = sp.t1;
      slot.lane.count++;
      slot.lane.sub = slot.lane.count + ' process' + (slot.lane.count === 1 ? '' : 'es');
      runRow[sp.ri] = slot.lane.rows[0];
    });
  } else if (!merged) {
    if (runs.length && suiteHooksOf(0)) {
      var sl = { label: 'suite', sub: 'set-up and tear-down', rows: [] };
      lanes.push(sl);
      addRow(sl, '0:s', '');
    }
    var wn = runs.length ? workersOf(0) : 0;
    for (var w = 0; w < wn; w++) {
      var wl = { label: 'worker ' + w, sub: '', rows: [] };
      lanes.push(wl);
      addRow(wl, '0:' + w, '');
    }
  } else {
    runs.forEach(function (run, ri) {
      var rep = run.report || {};
      var n = workersOf(ri);
      var lane = {
        label: run.label || 'run ' + (ri + 1),
        sub: n + ' worker' + (n === 1 ? '' : 's') + (rep.process ? ', pid ' + rep.process : ''),
        rows: []
      };
      lanes.push(lane);
      if (suiteHooksOf(ri)) addRow(lane, ri + ':s', 'suite');
      for (var k = 0; k < n; k++) addRow(lane, ri + ':' + k, 'w' + k);
      if (!lane.rows.length) addRow(lane, ri + ':0', '');
    });
  }
  var y = AXIS_H;
  lanes.forEach(function (lane) {
    lane.y = y;
    lane.rows.forEach(function (r) { r.y = y; y += ROW_H; });
    lane.h = y - lane.y;
    y += LANE_GAP;
  });
  var HEIGHT = y + 4;

  // ---------------------------------------------------------------- bars
  var bars = [];
  var tMin = 0, tMax = 0;
  specs.forEach(function (x) {
    if (x.start == null) return;
    var row = rowOf(x.run, x.lane == null ? 0 : x.lane);
    if (!row) return;
    var t0 = x.start, t1 = x.start + x.dur;
    var steps = Array.isArray(x.s.steps) ? x.s.steps : [];
    var a0 = t0 + (x.s.attempt_start || 0);
    var segs = [];
    for (var i = 0; i < steps.length; i++) {
      var s0 = a0 + (steps[i].at || 0);
      var s1 = i + 1 < steps.length ? a0 + (steps[i + 1].at || 0) : t1;
      segs.push({ t0: Math.min(s0, t1), t1: Math.min(Math.max(s1, s0), t1), text: String(steps[i].text || '') });
    }
    var b = { kind: 'spec', ref: x, row: row, t0: t0, t1: t1, color: COLORS[x.outcome] || COLORS.skipped, segs: segs, label: x.name };
    x.bar = b;
    bars.push(b);
  });
  hooks.forEach(function (h) {
    var row = rowOf(h.run, h.lane == null ? 's' : h.lane);
    if (!row) return;
    var b = {
      kind: 'hook', ref: h, row: row, t0: h.start, t1: h.start + h.dur,
      color: h.h.error ? COLORS.failed : COLORS.hook, segs: [], label: h.kind + ' ' + h.name
    };
    h.bar = b;
    bars.push(b);
  });
  bars.forEach(function (b) {
    b.row.bars.push(b);
    tMin = Math.min(tMin, b.t0);
    tMax = Math.max(tMax, b.t1);
  });
  runs.forEach(function (run) {
    var rep = run.report || {};
    if (typeof rep.duration === 'number') {
      tMax = Math.max(tMax, run.offset + (rep.specs_start || 0) + rep.duration);
    }
  });
  if (!(tMax > tMin)) tMax = tMin + 1;
  rows.forEach(function (r) { r.bars.sort(function (a, b) { return a.t0 - b.t0; }); });

  // ---------------------------------------------------------------- summary
  function card(title) {
    var c = el('div', 'card');
    add(c, el('h3', null, title));
    add($('summary'), c);
    return c;
  }
  function kv(parent, k, v) {
    add(parent, el('span', 'k', k));
    var val = add(parent, el('span', 'v'));
    if (v instanceof Node) val.appendChild(v); else val.textContent = v == null ? '–' : String(v);
    return val;
  }
  function specLink(x, text) {
    var a = el('span', 'link', text == null ? x.name : text);
    a.title = x.name;
    a.addEventListener('click', function () { select(x.bar || x, { scroll: true }); });
    return a;
  }
  function unionLength(intervals) {
    intervals.sort(function (a, b) { return a[0] - b[0]; });
    var total = 0, cs = null, ce = null;
    intervals.forEach(function (iv) {
      if (cs === null || iv[0] > ce) {
        if (cs !== null) total += ce - cs;
        cs = iv[0]; ce = iv[1];
      } else if (iv[1] > ce) ce = iv[1];
    });
    if (cs !== null) total += ce - cs;
    return total;
  }
  var wall = tMax - tMin;
  var inSpecs = unionLength(specs.filter(function (x) { return x.start != null; })
    .map(function (x) { return [x.start, x.start + x.dur]; }));
  var outside = Math.max(0, wall - inSpecs);
  var failedCount = byOutcome.failed || 0;

  function buildSummary() {
    var first = runs.length ? runs[0].report || {} : {};
    var interrupted = runs.map(function (r) { return r.report && r.report.interrupted; }).filter(Boolean);
    var ok = failedCount === 0 && interrupted.length === 0 && specs.length > 0;
    var pill = $('status');
    pill.textContent = interrupted.length ? 'interrupted' : failedCount ? failedCount + ' failed' : specs.length ? 'passed' : 'no specs';
    pill.className = 'pill ' + (ok ? 'ok' : 'bad');
    var sub = [];
    if (isFinite(base)) sub.push('started ' + new Date(base * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
    sub.push(layout === 'processes' ? runs.length + ' processes' : merged ? runs.length + ' shards' :
      (first.workers || 1) + ' worker' + ((first.workers || 1) === 1 ? '' : 's'));
    if (DATA.generator) sub.push(String(DATA.generator));
    $('subtitle').textContent = sub.join(' · ');

    var c = card('Specs');
    var counts = add(c, el('div', 'counts'));
    [['total', specs.length, ''], ['passed', byOutcome.passed || 0, 'passed'], ['failed', failedCount, 'failed'],
     ['flaky', byOutcome.flaky || 0, 'flaky'], ['skipped', byOutcome.skipped || 0, 'skipped']].forEach(function (p) {
      var s = add(counts, el('span'));
      var b = add(s, el('b', null, p[1]));
      if (p[2] && p[1]) b.style.color = COLORS[p[2]];
      s.appendChild(document.createTextNode(' ' + p[0]));
    });
    if (interrupted.length) add(c, el('p', null, 'Interrupted: ' + interrupted.join('; ')));

    c = card('Time');
    var t = add(c, el('div', 'kv'));
    kv(t, 'wall time', fmtDur(wall));
    var specTime = specs.reduce(function (a, x) { return a + x.dur; }, 0);
    kv(t, 'spec time (sum)', fmtDur(specTime));
    kv(t, 'outside specs', fmtDur(outside) + (wall > 0 ? ' (' + Math.round(100 * outside / wall) + '%)' : ''));
    var hookTime = hooks.reduce(function (a, h) { return a + h.dur; }, 0);
    kv(t, 'set-up / tear-down', fmtDur(hookTime) + ' in ' + hooks.length + ' hook' + (hooks.length === 1 ? '' : 's'));

    c = card('Slowest specs');
    var ol = add(c, el('ol'));
    ol.id = 'slowest';
    specs.filter(function (x) { return x.start != null; })
      .sort(function (a, b) { return b.dur - a.dur; }).slice(0, 10)
      .forEach(function (x) {
        var li = add(ol, el('li'));
        add(li, el('span', 'mono', fmtDur(x.dur) + ' '));
        add(li, specLink(x));
      });

    c = card('Flaky specs');
    var flaky = specs.filter(function (x) { return x.outcome === 'flaky'; });
    if (!flaky.length) add(c, el('p', 'muted', 'none'));
    var ul = add(c, el('ul'));
    ul.id = 'flaky';
    flaky.slice(0, 10).forEach(function (x) {
      var li = add(ul, el('li'));
      add(li, specLink(x));
      li.appendChild(document.createTextNode(' — passed on attempt ' + (x.s.attempts || '?')));
      li.title = (x.s.earlier_failures || []).map(function (f) { return firstLine(f.message); }).join('\n');
    });
    if (flaky.length > 10) {
      var all = add(c, el('span', 'link', 'all ' + flaky.length + ' flaky specs in the table'));
      all.addEventListener('click', function () {
        var fo = $('filter-outcome');
        fo.value = 'flaky';
        fo.dispatchEvent(new Event('change'));
        $('specs-section').scrollIntoView();
      });
    }

    c = card('Rerun');
    var shown = {};
    runs.forEach(function (run) {
      var rep = run.report || {};
      var f = rep.filter || {};
      var args = [];
      if (f.label_filter) args.push('--label-filter', f.label_filter);
      (f.focus || []).forEach(function (x) { args.push('--focus', x); });
      (f.skip_regex || []).forEach(function (x) { args.push('--skip-regex', x); });
      if (f.mode) args.push('--mode', f.mode);
      if (f.shard && !merged) args.push('--shard', f.shard);
      if (rep.seed != null) args.push('--seed', String(rep.seed));
      // a process of a process-per-spec run was handed its one spec by name: not a selection
      if (f.exact && layout !== 'processes') args.push('--exact');
      if (f.name && layout !== 'processes') args.push(f.name);
      var line = args.map(shellQuote).join(' ');
      if (shown[line]) return;
      shown[line] = true;
      var k = add(c, el('div', 'kv'));
      kv(k, 'label filter', f.label_filter || '(none)');
      kv(k, 'seed', rep.seed != null ? rep.seed : '(run order, not shuffled)');
      if ((f.focus || []).length) kv(k, 'focus', f.focus.join(', '));
      add(c, el('code', 'cmd', args.length ? line : '(no selection flags)')).id = 'rerun';
    });
    var failedNames = specs.filter(function (x) { return x.outcome === 'failed'; }).map(function (x) { return x.name; });
    if (failedNames.length && failedNames.length <= 50) {
      add(c, el('p', 'muted', 'Only the failed specs:'));
      add(c, el('code', 'cmd', '--focus ' + shellQuote('^(' + failedNames.map(regexEscape).join('|') + ')$')));
    }
  }

  // ---------------------------------------------------------------- timeline
  var canvas = $('canvas'), wrap = $('canvas-wrap');
  // the self-test reads pixels back
  var ctx = canvas.getContext('2d', { willReadFrequently: SELFTEST });
  var view = { t0: tMin, t1: tMax };
  var selected = null, hovered = null, drawn = 0;
  function width() { return Math.max(100, wrap.clientWidth || 800); }
  function X(t, W) { return (t - view.t0) / (view.t1 - view.t0) * W; }
  function T(x, W) { return view.t0 + x / W * (view.t1 - view.t0); }

  function buildLanes() {
    var box = $('lanes');
    box.style.height = HEIGHT + 'px';
    lanes.forEach(function (lane, i) {
      var d = add(box, el('div', lane.rows.length > 1 ? 'lane multi' : 'lane'));
      d.dataset.lane = String(i);
      d.style.top = lane.y + 'px';
      d.style.height = lane.h + 'px';
      add(d, el('b', null, lane.label)).title = lane.label;
      if (lane.sub) add(d, el('span', null, lane.sub));
    });
    var legend = $('legend');
    [['passed', 'passed'], ['failed', 'failed'], ['flaky', 'flaky'], ['skipped', 'skipped'], ['hook', 'set-up / tear-down']].forEach(function (p) {
      var s = add(legend, el('span'));
      add(s, el('i')).style.background = COLORS[p[0]];
      s.appendChild(document.createTextNode(p[1]));
    });
  }

  var CLOCK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  function niceStep(span, px) {
    var raw = span / Math.max(1, px / 90);
    if (raw >= 1) {
      // whole seconds, minutes and hours on the clock
      for (var i = 0; i < CLOCK_STEPS.length; i++) if (CLOCK_STEPS[i] >= raw) return CLOCK_STEPS[i];
      return Math.ceil(raw / 86400) * 86400;
    }
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function draw() {
    var W = width(), dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(HEIGHT * dpr)) {
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(HEIGHT * dpr);
      canvas.style.height = HEIGHT + 'px';
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, HEIGHT);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    lanes.forEach(function (lane, i) {
      ctx.fillStyle = i % 2 ? '#fafbfc' : '#ffffff';
      ctx.fillRect(0, lane.y, W, lane.h);
    });
    // axis and grid
    var span = view.t1 - view.t0, step = niceStep(span, W);
    ctx.fillStyle = '#66707c';
    ctx.strokeStyle = '#eceef1';
    ctx.lineWidth = 1;
    for (var g = Math.ceil(view.t0 / step) * step; g <= view.t1; g += step) {
      var gx = Math.round(X(g, W)) + 0.5;
      ctx.beginPath(); ctx.moveTo(gx, AXIS_H - 4); ctx.lineTo(gx, HEIGHT); ctx.stroke();
      ctx.fillText(fmtDur(Math.abs(g) < step / 1e6 ? 0 : g), gx + 3, AXIS_H / 2);
    }
    drawn = 0;
    for (var ri = 0; ri < rows.length; ri++) {
      var row = rows[ri], lastX = -1, lastColor = null;
      for (var bi = 0; bi < row.bars.length; bi++) {
        var b = row.bars[bi];
        if (b.t1 < view.t0 || b.t0 > view.t1) continue;
        var x0 = X(b.t0, W), x1 = X(b.t1, W), w = Math.max(1, x1 - x0);
        // sub-pixel bars in the same pixel column and colour add nothing
        if (w <= 1 && Math.floor(x0) === lastX && b.color === lastColor) continue;
        lastX = Math.floor(x0); lastColor = b.color;
        drawBar(b, x0, w, W);
        drawn++;
      }
    }
    if (selected && selected.bar) outline(selected.bar, '#1d232b', 2, W);
    if (hovered && hovered !== (selected && selected.bar)) outline(hovered, '#1d232b', 1, W);
  }

  function drawBar(b, x0, w, W) {
    var top = b.row.y + 2, h = ROW_H - 4;
    ctx.fillStyle = b.color;
    ctx.fillRect(x0, top, w, h);
    if (w > 8 && b.segs.length) {
      // steps: alternate a darker strip along the bottom, with a light tick at each step start
      for (var i = 0; i < b.segs.length; i++) {
        var s = b.segs[i];
        var sx0 = Math.max(x0, X(s.t0, W)), sx1 = Math.min(x0 + w, X(s.t1, W));
        if (sx1 - sx0 < 0.5) continue;
        ctx.fillStyle = i % 2 ? 'rgba(0,0,0,0.28)' : 'rgba(0,0,0,0.12)';
        ctx.fillRect(sx0, top + h - 5, sx1 - sx0, 5);
        ctx.fillStyle = 'rgba(255,255,255,0.85)';
        ctx.fillRect(Math.round(sx0), top + h - 7, 1, 7);
      }
    }
    if (w > 60) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0 + 3, top, w - 6, h);
      ctx.clip();
      ctx.fillStyle = '#ffffff';
      ctx.fillText(b.label, x0 + 4, top + (h - 5) / 2 + 1);
      ctx.restore();
    }
  }

  function outline(b, color, lw, W) {
    var x0 = X(b.t0, W), w = Math.max(1, X(b.t1, W) - x0);
    ctx.strokeStyle = color;
    ctx.lineWidth = lw;
    ctx.strokeRect(x0 - lw / 2, b.row.y + 2 - lw / 2, w + lw, ROW_H - 4 + lw);
  }

  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  function rowAt(yy) {
    for (var i = 0; i < rows.length; i++) if (yy >= rows[i].y && yy < rows[i].y + ROW_H) return rows[i];
    return null;
  }
  // The bar of `row` under time t, or the nearest within `tol` seconds.
  function barAt(row, t, tol) {
    var a = row.bars, lo = 0, hi = a.length - 1, idx = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (a[mid].t0 <= t + tol) { idx = mid; lo = mid + 1; } else hi = mid - 1;
    }
    var best = null, bestD = Infinity;
    for (var i = idx; i >= 0 && i > idx - 64; i--) {
      var b = a[i];
      var d = t < b.t0 ? b.t0 - t : t > b.t1 ? t - b.t1 : 0;
      if (d <= tol && d < bestD) { best = b; bestD = d; if (d === 0) break; }
    }
    return best;
  }
  function hit(ev) {
    var r = canvas.getBoundingClientRect(), W = width();
    var px = ev.clientX - r.left, py = ev.clientY - r.top;
    var row = rowAt(py);
    if (!row) return null;
    var t = T(px, W);
    return { bar: barAt(row, t, 3 * (view.t1 - view.t0) / W), t: t };
  }
  function segAt(b, t) {
    for (var i = 0; i < b.segs.length; i++) if (t >= b.segs[i].t0 && t <= b.segs[i].t1) return b.segs[i];
    return null;
  }

  var tip = $('tip');
  function showTip(b, t, cx, cy) {
    tip.textContent = '';
    add(tip, el('b', null, b.kind === 'spec' ? b.ref.name : b.label));
    if (b.kind === 'spec') {
      var x = b.ref;
      add(tip, el('div', 'm', x.outcome + ' · ' + fmtDur(x.dur) + ' · starts ' + fmtAt(x.start) +
        (x.s.attempts > 1 ? ' · ' + x.s.attempts + ' attempts' : '')));
      var seg = segAt(b, t);
      if (seg) add(tip, el('div', null, 'step: ' + seg.text + ' (' + fmtDur(seg.t1 - seg.t0) + ')'));
      else if (b.segs.length) add(tip, el('div', 'm', b.segs.length + ' step' + (b.segs.length === 1 ? '' : 's')));
      if (x.s.failure) add(tip, el('div', null, firstLine(x.s.failure.message)));
    } else {
      add(tip, el('div', 'm', fmtDur(b.ref.dur) + ' · starts ' + fmtAt(b.ref.start)));
      if (b.ref.h.error) add(tip, el('div', null, firstLine(b.ref.h.error)));
    }
    tip.hidden = false;
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    var left = cx + 14, topPos = cy + 14;
    if (left + tw > window.innerWidth - 4) left = Math.max(4, cx - tw - 14);
    if (topPos + th > window.innerHeight - 4) topPos = Math.max(4, cy - th - 14);
    tip.style.left = left + 'px';
    tip.style.top = topPos + 'px';
  }

  var drag = null;
  canvas.addEventListener('mousemove', function (ev) {
    if (drag) {
      var W = width(), dt = (ev.clientX - drag.x) / W * (drag.t1 - drag.t0);
      if (Math.abs(ev.clientX - drag.x) > 3) drag.moved = true;
      view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt;
      redraw();
      return;
    }
    var h = hit(ev);
    var b = h && h.bar;
    if (b !== hovered) { hovered = b; redraw(); }
    if (b) showTip(b, h.t, ev.clientX, ev.clientY); else tip.hidden = true;
  });
  canvas.addEventListener('mouseleave', function () { tip.hidden = true; if (hovered) { hovered = null; redraw(); } });
  canvas.addEventListener('mousedown', function (ev) {
    drag = { x: ev.clientX, t0: view.t0, t1: view.t1, moved: false };
    canvas.classList.add('dragging');
  });
  window.addEventListener('mouseup', function () {
    if (drag) setTimeout(function () { drag = null; }, 0);
    canvas.classList.remove('dragging');
  });
  canvas.addEventListener('click', function (ev) {
    if (drag && drag.moved) return;
    drag = null;
    var h = hit(ev);
    if (h && h.bar) select(h.bar, { scroll: false, fromTimeline: true });
  });
  canvas.addEventListener('dblclick', function (ev) {
    var h = hit(ev);
    if (h && h.bar) zoomTo(h.bar.t0, h.bar.t1);
  });
  canvas.addEventListener('wheel', function (ev) {
    var W = width(), r = canvas.getBoundingClientRect();
    if (ev.ctrlKey || ev.metaKey || ev.altKey) {
      ev.preventDefault();
      zoom(ev.deltaY > 0 ? 1.25 : 0.8, T(ev.clientX - r.left, W));
    } else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      ev.preventDefault();
      var dt = ev.deltaX / W * (view.t1 - view.t0);
      view.t0 += dt; view.t1 += dt;
      redraw();
    }
  }, { passive: false });
  function zoom(f, at) {
    var span = Math.max((view.t1 - view.t0) * f, 1e-6);
    if (at == null) at = (view.t0 + view.t1) / 2;
    var r = (at - view.t0) / (view.t1 - view.t0);
    view.t0 = at - r * span; view.t1 = view.t0 + span;
    redraw();
  }
  function zoomTo(t0, t1) {
    var span = Math.max(t1 - t0, 1e-6), pad = span * 0.1;
    view.t0 = t0 - pad; view.t1 = t1 + pad;
    redraw();
  }
  function fit() { view.t0 = tMin - (tMax - tMin) * 0.005; view.t1 = tMax + (tMax - tMin) * 0.005; redraw(); }
  $('zoom-in').addEventListener('click', function () { zoom(0.5); });
  $('zoom-out').addEventListener('click', function () { zoom(2); });
  $('zoom-fit').addEventListener('click', fit);
  window.addEventListener('resize', redraw);
  // Brings bar b into view, keeping the zoom unless b is wider than the view.
  function reveal(b) {
    var span = view.t1 - view.t0;
    if (b.t1 - b.t0 > span * 0.9) { zoomTo(b.t0, b.t1); return; }
    if (b.t0 < view.t0 || b.t1 > view.t1) {
      var mid = (b.t0 + b.t1) / 2;
      view.t0 = mid - span / 2; view.t1 = mid + span / 2;
    }
    redraw();
  }

  // ---------------------------------------------------------------- detail
  function select(target, opts) {
    opts = opts || {};
    var x = target && target.kind === 'spec' ? target.ref : target && target.kind === 'hook' ? null : target;
    if (target && target.kind === 'hook') {
      selected = { bar: target, hook: target.ref };
      showHook(target.ref);
    } else if (x) {
      selected = { bar: x.bar, spec: x };
      showSpec(x);
      markRow();
      if (!opts.fromTimeline) scrollTableTo(x);
      if (!SELFTEST && !opts.quiet && history.replaceState) history.replaceState(null, '', '#spec-' + x.id);
    }
    if (selected && selected.bar) {
      if (!opts.fromTimeline) reveal(selected.bar); else redraw();
      if (opts.scroll) $('timeline-section').scrollIntoView({ block: 'nearest' });
    } else redraw();
  }

  function runLabel(ri) { return runs[ri].label || 'run ' + (ri + 1); }
  function section(parent, title) { add(parent, el('h4', null, title)); }
  function attachmentsView(parent, list) {
    if (!list || !list.length) return;
    section(parent, 'Attachments');
    list.forEach(function (a) {
      var d = add(parent, el('details'));
      add(d, el('summary', null, (a.artifact ? a.artifact + ': ' : '') + a.path + (a.truncated ? ' (end only)' : '')));
      add(d, el('pre', null, a.text));
    });
  }
  function failureView(parent, f, title) {
    var box = add(parent, el('div'));
    add(box, el('div', 'meta', (title ? title + ': ' : '') + f.kind + ' in ' + f.phase + ' at ' + f.location));
    add(box, el('pre', 'msg', f.message));
    if (f.step) add(box, el('div', 'meta', 'in step: ' + f.step));
    (f.also || []).forEach(function (a) { add(box, el('div', 'meta', 'then ' + a)); });
    return box;
  }

  function showSpec(x) {
    var d = $('detail'), s = x.s;
    d.textContent = '';
    add(d, el('span', 'badge b-' + x.outcome, x.outcome));
    var h = add(d, el('h3', 'd-name', x.name));
    h.id = 'detail-name';
    var k = add(d, el('div', 'kv'));
    kv(k, 'duration', fmtDur(x.dur));
    kv(k, 'started', fmtAt(x.start));
    if (merged) kv(k, layout === 'processes' ? 'process' : 'shard', runLabel(x.run));
    kv(k, 'lane', x.lane == null ? 'not started' : 'worker ' + x.lane);
    kv(k, 'attempts', s.attempts);
    kv(k, 'location', s.location);
    if (s.skip_reason) kv(k, 'skipped', s.skip_reason);
    if (x.labels.length) {
      var ls = el('span', 'labels');
      x.labels.forEach(function (l) { add(ls, el('span', null, l)); });
      kv(k, 'labels', ls);
    }
    if (s.failure) {
      section(d, 'Failure');
      failureView(d, s.failure).className = 'd-failure';
    }
    (s.earlier_failures || []).forEach(function (f, i) {
      section(d, 'Attempt ' + (i + 1) + ' failed');
      failureView(d, f);
    });
    var steps = x.bar ? x.bar.segs : [];
    if (steps.length) {
      section(d, 'Steps' + (s.attempts > 1 ? ' (last attempt)' : ''));
      var tbl = add(d, el('table', 'steps'));
      var failStep = s.failure && s.failure.step;
      steps.forEach(function (st, i) {
        var tr = add(tbl, el('tr'));
        if (failStep && i === steps.length - 1 && st.text === failStep) tr.className = 'failed-step';
        add(tr, el('td', 'num', fmtAt(st.t0 - x.start)));
        add(tr, el('td', 'num', fmtDur(st.t1 - st.t0)));
        add(tr, el('td', null, st.text));
      });
    }
    if ((s.log || []).length) {
      section(d, 'Log');
      add(d, el('pre', null, s.log.join('\n')));
    }
    attachmentsView(d, x.attachments);
  }

  function showHook(hk) {
    var d = $('detail');
    d.textContent = '';
    add(d, el('span', 'badge ' + (hk.h.error ? 'b-failed' : 'b-hook'), hk.kind));
    add(d, el('h3', 'd-name', hk.kind + ' ' + hk.name)).id = 'detail-name';
    var k = add(d, el('div', 'kv'));
    kv(k, 'duration', fmtDur(hk.dur));
    kv(k, 'started', fmtAt(hk.start));
    kv(k, 'lane', hk.lane == null ? 'suite (outside every worker)' : 'worker ' + hk.lane);
    if (merged) kv(k, layout === 'processes' ? 'process' : 'shard', runLabel(hk.run));
    if (hk.h.error) { section(d, 'Error'); add(d, el('pre', null, hk.h.error)); }
  }

  // ---------------------------------------------------------------- table
  var table = { ids: [], key: 'start', asc: true, outcome: '', label: '', text: '' };
  var scroller = $('table-scroll'), spacer = $('table-spacer');
  var SORTS = {
    start: function (a, b) { return (a.start == null ? Infinity : a.start) - (b.start == null ? Infinity : b.start) || a.id - b.id; },
    duration: function (a, b) { return a.dur - b.dur || a.id - b.id; },
    name: function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id; },
    outcome: function (a, b) { return a.outcome < b.outcome ? -1 : a.outcome > b.outcome ? 1 : a.id - b.id; },
    lane: function (a, b) { return (a.run - b.run) || ((a.lane == null ? 1e9 : a.lane) - (b.lane == null ? 1e9 : b.lane)) || a.id - b.id; }
  };
  function buildFilters() {
    var counts = {};
    specs.forEach(function (x) { x.labels.forEach(function (l) { counts[l] = (counts[l] || 0) + 1; }); });
    var sel = $('filter-label');
    Object.keys(counts).sort().forEach(function (l) {
      var o = add(sel, el('option', null, l + ' (' + counts[l] + ')'));
      o.value = l;
    });
    $('filter-outcome').addEventListener('change', function (e) { table.outcome = e.target.value; refreshTable(); });
    sel.addEventListener('change', function (e) { table.label = e.target.value; refreshTable(); });
    var timer = null;
    $('filter-text').addEventListener('input', function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { table.text = e.target.value.toLowerCase(); refreshTable(); }, 120);
    });
    Array.prototype.forEach.call(document.querySelectorAll('.th[data-sort]'), function (th) {
      th.addEventListener('click', function () {
        var key = th.dataset.sort;
        if (table.key === key) table.asc = !table.asc;
        else { table.key = key; table.asc = key !== 'duration'; }
        refreshTable();
      });
    });
    scroller.addEventListener('scroll', function () { requestAnimationFrame(renderRows); });
  }
  function refreshTable() {
    var want = table.label ? '\u0001' + table.label + '\u0001' : '';
    var list = specs.filter(function (x) {
      return (!table.outcome || x.outcome === table.outcome) &&
        (!want || x.labelKey.indexOf(want) >= 0) &&
        (!table.text || x.name.toLowerCase().indexOf(table.text) >= 0);
    });
    var cmp = SORTS[table.key] || SORTS.start;
    list.sort(table.asc ? cmp : function (a, b) { return cmp(b, a); });
    table.ids = list.map(function (x) { return x.id; });
    spacer.style.height = Math.max(1, table.ids.length * TABLE_ROW) + 'px';
    $('table-count').textContent = table.ids.length + ' of ' + specs.length;
    Array.prototype.forEach.call(document.querySelectorAll('.th[data-sort]'), function (th) {
      th.classList.toggle('sorted', th.dataset.sort === table.key);
      th.classList.toggle('asc', th.dataset.sort === table.key && table.asc);
    });
    renderRows();
  }
  function renderRows() {
    var h = scroller.clientHeight || 440;
    var first = Math.max(0, Math.floor(scroller.scrollTop / TABLE_ROW) - 5);
    var last = Math.min(table.ids.length, Math.ceil((scroller.scrollTop + h) / TABLE_ROW) + 5);
    spacer.textContent = '';
    for (var i = first; i < last; i++) {
      var x = specs[table.ids[i]];
      var r = add(spacer, el('div', 'tr'));
      r.setAttribute('role', 'row');
      r.dataset.spec = String(x.id);
      r.style.top = i * TABLE_ROW + 'px';
      add(add(r, el('span', 'c-state')), el('span', 'badge b-' + x.outcome, x.outcome));
      var n = add(r, el('span', 'c-name', x.name));
      n.title = x.name + (x.labels.length ? '\nlabels: ' + x.labels.join(', ') : '');
      add(r, el('span', 'c-dur mono', x.start == null ? '–' : fmtDur(x.dur)));
      add(r, el('span', 'c-start mono', fmtAt(x.start)));
      add(r, el('span', 'c-lane', x.lane == null ? 'not started' : layout === 'processes' ? runLabel(x.run) :
        (merged ? runLabel(x.run) + ' w' : 'worker ') + x.lane));
      r.addEventListener('click', onRowClick);
    }
    markRow();
  }
  function onRowClick(ev) {
    var id = Number(ev.currentTarget.dataset.spec);
    select(specs[id], { scroll: false });
  }
  function markRow() {
    var cur = selected && selected.spec ? String(selected.spec.id) : null;
    Array.prototype.forEach.call(spacer.children, function (r) { r.classList.toggle('sel', r.dataset.spec === cur); });
  }
  function scrollTableTo(x) {
    var i = table.ids.indexOf(x.id);
    if (i < 0) return;
    var top = i * TABLE_ROW, h = scroller.clientHeight || 440;
    if (top < scroller.scrollTop || top + TABLE_ROW > scroller.scrollTop + h) scroller.scrollTop = Math.max(0, top - h / 3);
    renderRows();
  }

  // ---------------------------------------------------------------- failures
  var FAILURES_SHOWN = 200;
  function buildFailures() {
    var box = $('failures');
    var failed = specs.filter(function (x) { return x.outcome === 'failed'; });
    var hookErrors = hooks.filter(function (h) { return h.h.error; });
    if (!failed.length && !hookErrors.length) { add(box, el('p', 'muted', 'No failures.')); return; }
    hookErrors.forEach(function (h) {
      var f = add(box, el('div', 'failure hook-failure'));
      var t = add(f, el('h3'));
      var a = add(t, el('span', 'link', h.kind + ' ' + h.name));
      a.addEventListener('click', function () { select(h.bar, { scroll: true }); });
      add(f, el('pre', null, h.h.error));
    });
    function render(from, to) {
      failed.slice(from, to).forEach(function (x) {
        var f = add(box, el('div', 'failure'));
        f.dataset.spec = String(x.id);
        add(add(f, el('h3')), specLink(x));
        var fl = x.s.failure;
        if (fl) {
          failureView(f, fl);
        } else {
          add(f, el('div', 'meta', x.s.location));
        }
        if ((x.s.log || []).length) {
          var d = add(f, el('details'));
          add(d, el('summary', null, 'log (' + x.s.log.length + ' lines)'));
          add(d, el('pre', null, x.s.log.join('\n')));
        }
        attachmentsView(f, x.attachments);
      });
    }
    render(0, FAILURES_SHOWN);
    if (failed.length > FAILURES_SHOWN) {
      var more = add(box, el('button', null, 'Show all ' + failed.length + ' failures'));
      more.type = 'button';
      more.addEventListener('click', function () { more.remove(); render(FAILURES_SHOWN, failed.length); });
    }
  }

  // ---------------------------------------------------------------- start
  buildSummary();
  buildLanes();
  buildFilters();
  refreshTable();
  buildFailures();
  fit();
  draw();
  var m = /^#spec-(\d+)$/.exec(location.hash);
  if (m && specs[Number(m[1])]) select(specs[Number(m[1])], { scroll: true });
  else if (!SELFTEST) {
    // a failing run opens on its first failure
    var firstFailed = specs.filter(function (x) { return x.outcome === 'failed'; })[0];
    if (firstFailed) select(firstFailed, { fromTimeline: true, quiet: true });
  }
  document.body.dataset.renderMs = String(Math.round((performance.now() - started) * 10) / 10);
  document.body.dataset.decodeMs = String(Math.round(decodedMs * 10) / 10);
  document.body.dataset.loadMs = String(Math.round(performance.now() * 10) / 10);

  // ---------------------------------------------------------------- self-test
  // Checks what a person would: lanes and bars are drawn, a click on a bar opens its spec,
  // hover shows it, the table sorts, filters and links to the timeline, failures are listed;
  // and no error was raised. The outcome goes into #selftest as JSON.
  function selftest() {
    var checks = [], out = { ok: false };
    function check(name, ok, detail) { checks.push({ name: name, ok: !!ok, detail: detail == null ? '' : String(detail) }); return !!ok; }
    var dpr = window.devicePixelRatio || 1;
    function pixel(px, py) {
      var d = ctx.getImageData(Math.round(px * dpr), Math.round(py * dpr), 1, 1).data;
      return [d[0], d[1], d[2]];
    }
    function rgb(hex) { return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)]; }
    function near(a, b) { return Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) < 12; }
    // a point inside bar b (above the step strip and the text) after zooming to it
    function pointIn(b) {
      zoomTo(b.t0, b.t1);
      draw();
      var W = width(), x0 = X(b.t0, W), x1 = X(b.t1, W);
      // left of the label text, above the step strip
      return { x: x0 + Math.min(2, Math.max(0.5, (x1 - x0) / 2)), y: b.row.y + 4 };
    }
    var expectedSpecs = runs.reduce(function (a, r) { return a + ((r.report && r.report.specs) || []).length; }, 0);
    check('data', specs.length > 0 && specs.length === expectedSpecs, specs.length + ' specs');
    var laneEls = document.querySelectorAll('#lanes .lane');
    check('lanes', lanes.length > 0 && laneEls.length === lanes.length, laneEls.length + ' lane elements');
    var startedSpecs = specs.filter(function (x) { return x.start != null; }).length;
    var specBars = bars.filter(function (b) { return b.kind === 'spec'; });
    check('bars', specBars.length > 0 && specBars.length === startedSpecs, specBars.length + ' spec bars of ' + startedSpecs + ' started specs');
    fit(); draw();
    check('drawn', drawn > 0, drawn + ' bars drawn');
    ['passed', 'failed', 'flaky', 'skipped', 'hook'].forEach(function (o) {
      var b = bars.filter(function (bb) { return o === 'hook' ? bb.kind === 'hook' && !bb.ref.h.error : bb.kind === 'spec' && bb.ref.outcome === o; })[0];
      if (!b) return;
      var p = pointIn(b), got = pixel(p.x, p.y);
      check('colour ' + o, near(got, rgb(COLORS[o])), 'rgb(' + got.join(',') + ') at ' + Math.round(p.x) + ',' + Math.round(p.y));
    });
    var target = specBars.filter(function (b) { return b.ref.outcome === 'failed'; })[0] || specBars[0];
    if (target) {
      var p = pointIn(target), rect = canvas.getBoundingClientRect();
      var opts = { clientX: rect.left + p.x, clientY: rect.top + p.y, bubbles: true };
      canvas.dispatchEvent(new MouseEvent('mousemove', opts));
      check('hover', !tip.hidden && tip.textContent.indexOf(target.ref.name) >= 0, tip.textContent.slice(0, 200));
      canvas.dispatchEvent(new MouseEvent('mousedown', opts));
      canvas.dispatchEvent(new MouseEvent('mouseup', opts));
      window.dispatchEvent(new MouseEvent('mouseup', opts));
      canvas.dispatchEvent(new MouseEvent('click', opts));
      var nameEl = $('detail-name');
      check('click', nameEl && nameEl.textContent === target.ref.name, nameEl ? nameEl.textContent : 'no detail');
      out.clicked = { name: target.ref.name, outcome: target.ref.outcome, detail: $('detail').textContent };
      canvas.dispatchEvent(new MouseEvent('mouseleave', opts));
    }
    // table: sort by duration (longest first), filter by outcome and label, row links to bar
    var th = document.querySelector('.th[data-sort="duration"]');
    table.key = 'start'; th.click();
    var maxDur = specs.reduce(function (a, x) { return Math.max(a, x.dur); }, 0);
    var firstRow = spacer.querySelector('.tr');
    check('sort', firstRow && specs[Number(firstRow.dataset.spec)].dur === maxDur && !table.asc,
      firstRow ? specs[Number(firstRow.dataset.spec)].name : 'no rows');
    var fo = $('filter-outcome');
    fo.value = 'failed'; fo.dispatchEvent(new Event('change'));
    var allFailed = table.ids.every(function (id) { return specs[id].outcome === 'failed'; });
    check('filter outcome', allFailed && table.ids.length === failedCount, table.ids.length + ' rows');
    fo.value = ''; fo.dispatchEvent(new Event('change'));
    var labelled = specs.filter(function (x) { return x.labels.length; })[0];
    if (labelled) {
      var fl = $('filter-label'), lab = labelled.labels[0];
      fl.value = lab; fl.dispatchEvent(new Event('change'));
      var want = specs.filter(function (x) { return x.labels.indexOf(lab) >= 0; }).length;
      check('filter label', table.ids.length === want && table.ids.every(function (id) { return specs[id].labels.indexOf(lab) >= 0; }),
        lab + ': ' + table.ids.length + ' rows');
      fl.value = ''; fl.dispatchEvent(new Event('change'));
    }
    fit(); draw();
    var rowEl = Array.prototype.filter.call(spacer.querySelectorAll('.tr'), function (r) {
      return specs[Number(r.dataset.spec)].bar && (!target || Number(r.dataset.spec) !== target.ref.id);
    })[0];
    if (rowEl) {
      var x = specs[Number(rowEl.dataset.spec)];
      rowEl.click();
      var nm = $('detail-name');
      check('row link', nm && nm.textContent === x.name && selected && selected.bar === x.bar &&
        x.bar.t1 >= view.t0 && x.bar.t0 <= view.t1 && rowEl.classList.contains('sel'), x.name);
    }
    var shownFailures = document.querySelectorAll('#failures .failure:not(.hook-failure)').length;
    check('failures', shownFailures === Math.min(failedCount, FAILURES_SHOWN), shownFailures + ' listed');
    check('slowest', document.querySelectorAll('#slowest li').length === Math.min(10, startedSpecs));
    check('self-contained', document.querySelectorAll('[src], link, iframe, object, embed').length === 0);
    fit(); draw();
    var errors = window.__reportErrors.slice();
    check('no errors', errors.length === 0, errors.join(' | '));
    out.ok = checks.every(function (c) { return c.ok; });
    out.checks = checks;
    out.errors = errors;
    out.specs = specs.length;
    out.lanes = lanes.map(function (l) { return l.label; });
    out.bars = bars.length;
    out.hooks = hooks.length;
    out.failed = failedCount;
    out.renderMs = Number(document.body.dataset.renderMs);
    return out;
  }
  if (SELFTEST) {
    var result;
    try { result = selftest(); } catch (e) { result = { ok: false, exception: String(e && e.stack || e), errors: window.__reportErrors.slice() }; }
    var pre = $('selftest');
    pre.textContent = JSON.stringify(result);
    pre.hidden = false;
  }
})();
