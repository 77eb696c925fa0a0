/* gresec topology map: sites as nodes, tunnels as edges coloured by their overall state,
 * from the REST API (GET /v1/sites, /v1/tunnels, /v1/topologies) with the token the user
 * pasted, kept in sessionStorage only. Polls every POLL_MS and updates the graph in
 * place. Everything from the API reaches the page through textContent, never as HTML. */
'use strict';
(function () {
  const POLL_MS = 3000;
  const KEY = 'gresec-token';
  const STATES = ['up', 'degraded', 'idle', 'down', 'pending'];
  const COLOURS = { up: '#2e9d44', degraded: '#e08a00', idle: '#6f86a6', down: '#d62828',
    pending: '#a0a0a0' };
  const GRID = 70;	/* px between sites in a group's block */
  const $ = (id) => document.getElementById(id);

  const map = { cy: null, sites: new Map(), tunnels: new Map(), hubs: new Set(),
    selected: null, detail: null, layoutKey: '', firstRender: null };
  window.gresecMap = map;	/* for the browser console and the tests */

  class AuthError extends Error {}

  async function api(path) {
    const r = await fetch(path, { cache: 'no-store',
      headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) } });
    if (r.status === 401 || r.status === 403) {
      throw new AuthError(r.status === 401 ? 'the token was refused' :
        'this token may not read the network (a viewer token is enough)');
    }
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  /* Every page of a collection (limit 1000, the API's largest). */
  async function all(base) {
    const items = [];
    let after = null;
    do {
      const p = await api(base + '?limit=1000' +
        (after === null ? '' : '&after=' + encodeURIComponent(after)));
      items.push(...p.items);
      after = p.next === undefined ? null : p.next;
    } while (after !== null);
    return items;
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function badge(state) { return el('span', state || 'pending', 'st ' + (state || 'pending')); }

  function row(table, label, value) {
    const tr = el('tr');
    tr.append(el('th', label));
    const td = el('td');
    if (value instanceof Node) td.append(value); else td.textContent = value ?? '—';
    tr.append(td);
    table.append(tr);
  }

  function link(text, onclick) {
    const a = el('a', text);
    a.tabIndex = 0;
    a.addEventListener('click', onclick);
    return a;
  }

  function groupOf(site, tag) {
    const v = tag && site.tags ? site.tags[tag] : undefined;
    return v === undefined ? '(no ' + (tag || 'tag') + ')' : String(v);
  }

  /* Preset positions: one square block per group, blocks in rows, hubs first in their
   * block. Linear in the number of sites, where a force layout at 1,000 sites is not. */
  function positions(tag) {
    const groups = new Map();
    for (const s of map.sites.values()) {
      const g = groupOf(s, tag);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(s);
    }
    const pos = new Map();
    const names = [...groups.keys()].sort();
    const total = map.sites.size || 1;
    const rowWidth = Math.max(1, Math.ceil(Math.sqrt(total))) * GRID * 1.2;
    let x = 0, y = 0, rowHeight = 0;
    for (const g of names) {
      const members = groups.get(g).sort((a, b) =>
        (map.hubs.has(b.name) - map.hubs.has(a.name)) || a.name.localeCompare(b.name));
      const side = Math.ceil(Math.sqrt(members.length));
      const w = side * GRID, h = Math.ceil(members.length / side) * GRID;
      if (x > 0 && x + w > rowWidth) { x = 0; y += rowHeight + GRID; rowHeight = 0; }
      members.forEach((s, i) => pos.set(s.name, { x: x + (i % side) * GRID,
        y: y + Math.floor(i / side) * GRID }));
      x += w + GRID;
      rowHeight = Math.max(rowHeight, h);
    }
    return { pos, groups: names };
  }

  function siteData(s, tag) {
    return { id: 's-' + s.name, name: s.name, hub: map.hubs.has(s.name) ? 1 : 0,
      parent: 'g-' + groupOf(s, tag) };
  }

  /* Brings the graph to the sites and tunnels just read: adds, removes, recolours. */
  function sync() {
    const cy = map.cy, tag = $('group').value.trim();
    const key = tag + '\n' + [...map.sites.values()].map((s) =>
      s.name + '=' + groupOf(s, tag) + (map.hubs.has(s.name) ? '*' : '')).join(',');
    /* New elements go in with one cy.add: one at a time is what makes 1,000 sites slow. */
    const add = [];
    cy.batch(() => {
      if (key !== map.layoutKey) {
        const { pos, groups } = positions(tag);
        cy.nodes().filter((n) => !map.sites.has(n.data('name')) && !n.isParent()).remove();
        for (const g of groups) {
          if (cy.getElementById('g-' + g).empty()) {
            add.push({ group: 'nodes', data: { id: 'g-' + g, label: g }, classes: 'group' });
          }
        }
        for (const s of map.sites.values()) {
          const n = cy.getElementById('s-' + s.name), d = siteData(s, tag);
          if (n.nonempty() && n.data('parent') !== d.parent) n.move({ parent: d.parent });
          if (n.empty()) add.push({ group: 'nodes', data: d, position: pos.get(s.name) });
          else n.data('hub', d.hub).position(pos.get(s.name));
        }
        map.layoutKey = key;
      }
      cy.edges().filter((e) => !map.tunnels.has(e.data('tid'))).remove();
      for (const t of map.tunnels.values()) {
        const e = cy.getElementById('t-' + t.id), overall = (t.state && t.state.overall) || 'pending';
        if (e.nonempty()) { if (e.data('overall') !== overall) e.data('overall', overall); continue; }
        if (!map.sites.has(t.a) || !map.sites.has(t.b)) continue;	/* read mid-change */
        add.push({ group: 'edges', data: { id: 't-' + t.id, tid: t.id, source: 's-' + t.a,
          target: 's-' + t.b, overall } });
      }
      if (add.length) cy.add(add);
      cy.nodes('.group').filter((g) => g.children().empty()).remove();
    });
    if (!map.firstRender) { cy.fit(undefined, 30); timeFirstRender(); }
    summarise();
    search();
    if (map.selected) show(map.selected);
  }

  function summarise() {
    const counts = {};
    for (const st of STATES) counts[st] = map.cy.edges('[overall = "' + st + '"]').length;
    const s = $('summary');
    s.dataset.nodes = map.cy.nodes(':childless').length;
    s.dataset.edges = map.cy.edges().length;
    for (const st of STATES) s.dataset[st] = counts[st];
    s.textContent = s.dataset.nodes + ' sites, ' + s.dataset.edges + ' tunnels: ' +
      STATES.map((st) => counts[st] + ' ' + st).join(', ');
  }

  function siteTunnels(name) {
    return [...map.tunnels.values()].filter((t) => t.a === name || t.b === name);
  }

  function showSite(name) {
    const s = map.sites.get(name), box = $('details');
    if (!s) return false;
    /* The list has no status: the selected site's own GET has it (map.detail). */
    const d = map.detail && map.detail.name === name ? map.detail : s;
    const st = d.status || {}, agent = st.agent;
    box.replaceChildren(el('h2', 'site ' + s.name + (map.hubs.has(s.name) ? ' (hub)' : '')));
    const t = el('table');
    row(t, 'underlay', s.underlay);
    row(t, 'tags', Object.entries(s.tags || {}).map(([k, v]) => k + '=' + v).join(' ') || '—');
    row(t, 'description', s.description || '—');
    row(t, 'intent revision', st.intent_revision);
    row(t, 'applied revision', agent ? agent.applied_revision : 'never reported');
    row(t, 'agent age', agent ? agent.age + ' s' + (agent.stale ? ' (stale)' : '') +
      ' — ' + agent.reported_at : 'never reported');
    box.append(t, el('h3', 'tunnels'));
    const tt = el('table'), errors = el('table');
    tt.className = 'site-tunnels';
    for (const tun of siteTunnels(name)) {
      const peer = tun.a === name ? tun.b : tun.a, mine = (tun.state || {})[name];
      const tr = el('tr');
      const td = el('td');
      td.append(link('#' + tun.id + ' → ' + peer, () => select({ tunnel: tun.id })));
      const sd = el('td');
      sd.append(badge(tun.state && tun.state.overall));
      tr.append(td, sd, el('td', mine ? 'IKE ' + mine.ike + ', CHILD ' + mine.child : 'no report'));
      tt.append(tr);
      if (mine && mine.last_error) {
        row(errors, '#' + tun.id + ' ' + mine.last_error.time, mine.last_error.message);
      }
    }
    box.append(tt, el('h3', 'last errors'));
    box.append(errors.childElementCount ? errors : el('p', 'none'));
    return true;
  }

  function endTable(t, name) {
    const e = (t.state || {})[name], tab = el('table');
    row(tab, 'interface', (t.interfaces || {})[name]);
    row(tab, 'overlay', (t.overlay || {})[name]);
    if (!e) { row(tab, 'report', 'none'); return tab; }
    row(tab, 'link', e.interface);
    row(tab, 'IKE_SA', e.ike);
    row(tab, 'CHILD_SA', e.child);
    row(tab, 'bytes in / out', e.bytes_in + ' / ' + e.bytes_out);
    row(tab, 'packets in / out', e.packets_in + ' / ' + e.packets_out);
    if (e.liveness) {
      row(tab, 'liveness', e.liveness.state + ' since ' + e.liveness.since + ', ' +
        e.liveness.flaps + ' flaps' + (e.liveness.reason ? ', ' + e.liveness.reason : ''));
    }
    row(tab, 'last error', e.last_error ? e.last_error.time + ': ' + e.last_error.message : 'none');
    return tab;
  }

  function showTunnel(id) {
    const t = map.tunnels.get(id), box = $('details');
    if (!t) return false;
    box.replaceChildren(el('h2', 'tunnel #' + t.id + (t.name ? ' ' + t.name : '')));
    const head = el('table');
    row(head, 'state', badge(t.state && t.state.overall));
    row(head, 'type', t.tunnel_type);
    row(head, 'profile', t.profile);
    row(head, 'source', t.source);
    box.append(head);
    for (const end of [t.a, t.b]) {
      const h = el('h3');
      h.append(link(end, () => select({ site: end })));
      box.append(h, endTable(t, end));
    }
    return true;
  }

  function show(sel) {
    const ok = sel.site ? showSite(sel.site) : showTunnel(sel.tunnel);
    $('details').hidden = !ok;
    if (!ok) map.selected = null;
  }

  /* The selected site's own object, with its intent revision and agent report. */
  async function fetchDetail() {
    const sel = map.selected;
    if (!sel || !sel.site) return;
    try {
      map.detail = await api('/v1/sites/' + encodeURIComponent(sel.site));
    } catch (e) {
      if (e instanceof AuthError) throw e;
      map.detail = null;	/* deleted meanwhile: the list will drop it */
    }
  }

  function select(sel) {
    map.selected = sel;
    map.cy.elements().unselect();
    map.cy.getElementById(sel.site ? 's-' + sel.site : 't-' + sel.tunnel).select();
    show(sel);
    if (sel.site) fetchDetail().then(() => { if (map.selected === sel) show(sel); }, () => {});
  }

  function search() {
    const q = $('search').value.trim().toLowerCase(), cy = map.cy;
    cy.batch(() => {
      cy.elements().removeClass('match faded');
      if (!q) return;
      const hits = cy.nodes(':childless').filter((n) => n.data('name').includes(q));
      cy.elements().not(hits).addClass('faded');
      hits.addClass('match');
    });
    return q ? cy.nodes('.match') : cy.collection();
  }

  function style() {
    const s = [
      { selector: 'node', style: { label: 'data(name)', 'font-size': 10, width: 14, height: 14,
        'background-color': '#8fa3bf', 'text-valign': 'bottom', 'min-zoomed-font-size': 7 } },
      { selector: 'node[hub = 1]', style: { shape: 'diamond', width: 26, height: 26,
        'background-color': '#1b1f3b', 'font-weight': 'bold' } },
      { selector: 'node.group', style: { label: 'data(label)', 'text-valign': 'top',
        'background-color': '#f4f6fa', 'border-color': '#c9d1de', 'border-width': 1,
        shape: 'round-rectangle', 'font-size': 14, color: '#445' } },
      { selector: 'edge', style: { width: 2, 'curve-style': 'straight', 'line-color': COLOURS.pending } },
      { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#ffb000' } },
      { selector: 'edge:selected', style: { width: 5 } },
      { selector: '.faded', style: { opacity: 0.15 } },
      { selector: 'node.match', style: { 'border-width': 3, 'border-color': '#ffb000' } },
    ];
    for (const st of STATES) {
      s.push({ selector: 'edge[overall = "' + st + '"]', style: { 'line-color': COLOURS[st] } });
    }
    return s;
  }

  function build() {
    map.cy = cytoscape({ container: $('cy'), style: style(), wheelSensitivity: 0.3,
      textureOnViewport: true, hideEdgesOnViewport: true, boxSelectionEnabled: false,
      autoungrabify: true, maxZoom: 2.5 });
    map.cy.on('tap', 'node:childless', (ev) => select({ site: ev.target.data('name') }));
    map.cy.on('tap', 'edge', (ev) => select({ tunnel: ev.target.data('tid') }));
    map.cy.on('tap', (ev) => {
      if (ev.target === map.cy) { map.selected = null; $('details').hidden = true; }
    });
  }

  async function refresh() {
    const [sites, tunnels, topologies] = await Promise.all([all('/v1/sites'),
      all('/v1/tunnels'), all('/v1/topologies'), fetchDetail()]);
    map.sites = new Map(sites.map((s) => [s.name, s]));
    map.tunnels = new Map(tunnels.map((t) => [t.id, t]));
    map.hubs = new Set(topologies.flatMap((t) => t.hubs || []));
    if (!map.fetchedAt) document.body.dataset.fetched = map.fetchedAt = Math.round(performance.now());
    sync();
    if (!map.syncedAt) document.body.dataset.synced = map.syncedAt = Math.round(performance.now());
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  /* The first render's time from navigation start: the first frame the canvas draws
   * after the first sync, i.e. with every site and tunnel in. */
  function timeFirstRender() {
    if (map.timing) return;
    map.timing = true;
    map.cy.one('render', () => requestAnimationFrame(() => {
      map.firstRender = Math.round(performance.now());
      document.body.dataset.firstRender = map.firstRender;
      $('render').textContent = 'first render ' + map.firstRender + ' ms';
    }));
  }

  function login(msg) {
    sessionStorage.removeItem(KEY);
    $('login').hidden = false;
    $('logout').hidden = true;
    $('search').disabled = true;
    $('login-error').textContent = msg || '';
    $('status').textContent = 'no token';
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    try {
      await refresh();
    } catch (e) {
      if (e instanceof AuthError) { login(e.message); return; }
      $('status').textContent = 'error: ' + e.message + ' (retrying)';
    }
    timer = setTimeout(poll, POLL_MS);
  }

  function start() {
    $('login').hidden = true;
    $('logout').hidden = false;
    $('search').disabled = false;
    if (!map.cy) build();
    poll();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $('token').value.trim());
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', () => { clearTimeout(timer); login(); });
    $('search').addEventListener('input', () => {
      const hits = search();
      if (hits.nonempty() && hits.length <= 50) map.cy.fit(hits, 80);
    });
    $('search').addEventListener('keydown', (ev) => {
      const hits = search();
      if (ev.key === 'Enter' && hits.nonempty()) select({ site: hits[0].data('name') });
    });
    $('group').addEventListener('change', () => { map.layoutKey = ''; if (map.cy) sync(); });
    if (sessionStorage.getItem(KEY)) start(); else login();
  });
})();
