// hark web UI: plain ES module, no framework, no build step. It reads the
// same /api/v1 the CLI and integrations use and re-polls every few seconds.
// All text goes in through textContent, never innerHTML: device names come
// off the network and are attacker-controlled.

const PAGE_SIZE = 50;
const ALERT_PAGE = 100;
const POLL_MS = 5000;
const state = { offset: 0, total: 0, unavailable: new Set() };

const $ = (selector) => document.querySelector(selector);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function ago(iso) {
  if (!iso) return '—';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
}

// With api.auth kubernetes the API wants a bearer token: asked for once, kept for this tab only.
const TOKEN_KEY = 'hark.token';

function askForToken(reason) {
  const dialog = $('#token-dialog');
  $('#token-reason').textContent = reason;
  if (!dialog.open) dialog.showModal();
}

async function getJson(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const response = await fetch(path, { headers });
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    askForToken(body.message ?? `HTTP ${response.status}`);
    throw new Error(body.message ?? `${path}: HTTP ${response.status}`);
  }
  if (!response.ok) {
    // The API's errors carry a message saying what went wrong; show it, not just the status.
    const body = await response.json().catch(() => ({}));
    throw new Error(body.message ?? `${path}: HTTP ${response.status}`);
  }
  return response.json();
}

/** POSTs `body` as JSON; a refusal asks for a token (one that may act, for an action), as reads do. */
async function postJson(path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(path, {
    method: 'POST',
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401 || response.status === 403)
    askForToken(answer.message ?? `HTTP ${response.status}`);
  if (!response.ok) throw new Error(answer.message ?? `${path}: HTTP ${response.status}`);
  return answer;
}

function filterParams() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($('#filters'))) {
    if (String(value).trim()) params.set(name, String(value).trim());
  }
  params.set('limit', String(PAGE_SIZE));
  params.set('offset', String(state.offset));
  return params;
}

/** A row that opens something on a click, or on Enter when focused. */
function clickable(row, title, open) {
  row.className = 'clickable';
  row.tabIndex = 0;
  row.title = title;
  row.addEventListener('click', open);
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') open();
  });
}

function list(values) {
  const cell = el('td');
  for (const value of values ?? []) cell.append(el('div', value, 'mono'));
  return cell;
}

function attr(attribute) {
  const cell = el('td', attribute?.value ?? '—');
  if (attribute) cell.title = `confidence ${attribute.confidence} · from ${attribute.sensor}`;
  return cell;
}

async function refreshDevices() {
  const { items, total, unavailable } = await getJson(`/api/v1/devices?${filterParams()}`);
  state.total = total;
  noteUnavailable(unavailable);
  const rows = items.map((d) => {
    const row = el('tr');
    clickable(row, 'Evidence and history', () => showDevice(d.id).catch(showError));
    const seen = el('td', ago(d.lastSeen));
    seen.title = d.lastSeen;
    row.append(
      attr(d.vendor),
      attr(d.model),
      attr(d.type ?? d.category),
      attr(d.os),
      attr(d.hostname),
      list([...d.ipv4, ...d.ipv6]),
      list(d.macs),
      el('td', d.protocols.join(', ')),
      el('td', d.zone ? `${d.site} / ${d.zone}` : d.site),
      el('td', d.sensors.join(', ')),
      seen,
    );
    return row;
  });
  if (rows.length === 0) {
    const empty = el('td', 'No devices match.', 'empty');
    empty.colSpan = 11;
    rows.push(el('tr'));
    rows[0].append(empty);
  }
  $('#device-rows').replaceChildren(...rows);
  $('#device-count').textContent = String(total);
  const last = Math.min(state.offset + PAGE_SIZE, total);
  $('#page').textContent = total ? `${state.offset + 1}–${last} of ${total}` : '';
  $('#prev').disabled = state.offset === 0;
  $('#next').disabled = last >= total;
}

const ATTRIBUTES = [
  ['vendor', 'Vendor (registry)'],
  ['manufacturer', 'Manufacturer (declared)'],
  ['model', 'Model'],
  ['firmwareVersion', 'Firmware'],
  ['serialNumber', 'Serial number'],
  ['os', 'OS'],
  ['hostname', 'Hostname'],
  ['category', 'Category'],
  ['type', 'Type'],
];

function tableRow(...cells) {
  const tr = el('tr');
  tr.append(...cells.map((c) => (c instanceof Node ? c : el('td', c))));
  return tr;
}

/** One device: every attribute with its confidence, source sensor and evidence; then its history. */
async function showDevice(id) {
  const path = `/api/v1/devices/${encodeURIComponent(id)}`;
  // The device shows even when its history cannot be read (the error takes the history's place).
  const [device, history, alerts] = await Promise.all([
    getJson(path),
    getJson(`${path}/history?limit=50`).catch((err) => ({ items: [], error: err.message })),
    getJson(`/api/v1/alerts?device=${encodeURIComponent(id)}`).catch((err) => ({
      items: [],
      error: err.message,
    })),
  ]);
  $('#device-title').textContent = device.hostname?.value ?? device.deviceId;
  $('#device-summary').textContent = [
    device.zone ? `${device.site} / ${device.zone}` : device.site,
    [...device.ipv4, ...device.ipv6, ...device.macs].join(' · '),
    `first seen ${new Date(device.firstSeen).toLocaleString()}`,
    `last seen ${new Date(device.lastSeen).toLocaleString()}`,
    `seen by ${device.observers.map((o) => `${o.sensor}/${o.node}`).join(', ')}`,
  ].join('  —  ');
  const attributes = [];
  for (const [name, label] of ATTRIBUTES) {
    const a = device[name];
    if (!a) continue;
    const evidence = el('td');
    for (const e of a.evidence) {
      const value = e.value !== undefined ? ` = ${e.value}` : '';
      const line = el('div', `${e.protocol} ${e.field}${value}`, 'mono');
      line.title = `seen ${e.seen}`;
      evidence.append(line);
    }
    attributes.push(tableRow(label, a.value, a.confidence.toFixed(2), a.sensor, evidence));
  }
  if (attributes.length === 0) attributes.push(tableRow('—', 'no attributes yet', '', '', ''));
  $('#attribute-rows').replaceChildren(...attributes);
  const alertRows = alerts.items.map((a) =>
    tableRow(
      raised(a.lastAt),
      severity(a.severity),
      a.summary,
      String(a.count),
      acknowledgement(a, () => Promise.all([showDevice(id), refreshAlerts()])),
    ),
  );
  if (alerts.error) alertRows.push(tableRow(`Alerts unavailable: ${alerts.error}`, '', '', '', ''));
  else if (alertRows.length === 0) alertRows.push(tableRow('None raised for this device.', '', '', '', ''));
  $('#device-alert-rows').replaceChildren(...alertRows);
  const entries = history.items.map((h) =>
    tableRow(
      new Date(h.receivedAt).toLocaleString(),
      `${h.sensor}/${h.node}`,
      h.mode,
      h.record.hostname?.value ?? '—',
      h.record.vendor?.value ?? '—',
      h.record.model?.value ?? '—',
      [...h.record.ipv4, ...h.record.ipv6].join(', ') || '—',
    ),
  );
  if (history.error) entries.push(tableRow(`History unavailable: ${history.error}`, '', '', '', '', '', ''));
  else if (entries.length === 0)
    entries.push(
      tableRow('Not in the history yet (it is written at each compaction).', '', '', '', '', '', ''),
    );
  $('#history-rows').replaceChildren(...entries);
  if (!$('#device-detail').open) $('#device-detail').showModal(); // already open when refreshed in place
}

function raised(iso) {
  const cell = el('td', ago(iso));
  cell.title = iso;
  return cell;
}

function severity(level) {
  return el('td', level, `severity ${level}`);
}

/** Who took note of an alert and when, or a button to do so (the responder Role's). */
function acknowledgement(alert, onDone = refreshAlerts) {
  const cell = el('td');
  const ack = alert.acknowledged;
  if (ack) {
    cell.append(el('span', `Acknowledged by ${ack.by}, ${ago(ack.at)}`, 'muted'));
    cell.title = ack.comment ? `${ack.at}: ${ack.comment}` : ack.at;
    return cell;
  }
  const button = el('button', 'Acknowledge', 'acknowledge');
  button.type = 'button';
  button.title = 'Take note of it: it leaves the open alerts until it is raised again';
  button.addEventListener('click', (event) => {
    event.stopPropagation(); // the row opens the device
    const comment = window.prompt('Acknowledge this alert. A comment (optional):', '');
    if (comment === null) return;
    button.disabled = true;
    postJson(
      `/api/v1/alerts/${encodeURIComponent(alert.id)}/acknowledge`,
      comment.trim() ? { comment: comment.trim() } : {},
    )
      .then(() => onDone())
      .catch((err) => {
        button.disabled = false;
        showError(err);
      });
  });
  cell.append(button);
  return cell;
}

async function refreshAlerts() {
  const params = new URLSearchParams({ limit: String(ALERT_PAGE) });
  for (const [name, value] of new FormData($('#alert-filters'))) if (value) params.set(name, String(value));
  const { items, total, unavailable } = await getJson(`/api/v1/alerts?${params}`);
  noteUnavailable(unavailable);
  const rows = items.map((a) => {
    const row = tableRow(
      raised(a.lastAt),
      severity(a.severity),
      a.summary,
      a.zone ? `${a.site} / ${a.zone}` : a.site,
      `${a.sensor}/${a.node}`,
      String(a.count),
      raised(a.firstAt),
      acknowledgement(a),
    );
    // A device's alert opens the device; a sensor's, the fleet.
    if (a.device)
      clickable(row, 'The device, its evidence and history', () => showDevice(a.device).catch(showError));
    else
      clickable(row, 'The fleet', () => {
        location.hash = '#fleet';
      });
    return row;
  });
  if (rows.length === 0) {
    const empty = el(
      'td',
      'No alerts. A sensor node raises none while it learns its baseline (its first day, by default).',
      'empty',
    );
    empty.colSpan = 8;
    rows.push(el('tr'));
    rows[0].append(empty);
  }
  $('#alert-rows').replaceChildren(...rows);
  $('#alert-count').textContent = String(total);
  $('#alert-page').textContent = total > items.length ? `The newest ${items.length} of ${total}.` : '';
}

function showError(err) {
  $('#status').textContent = err.message;
  $('#status').classList.add('error');
}

async function refreshFleet() {
  const [siteList, sensorList] = await Promise.all([getJson('/api/v1/sites'), getJson('/api/v1/sensors')]);
  const sites = siteList.items;
  const sensors = sensorList.items;
  noteUnavailable(siteList.unavailable);
  noteUnavailable(sensorList.unavailable);

  const select = $('#filters select[name=site]');
  const chosen = select.value;
  select.replaceChildren(el('option', 'All sites'), ...sites.map((s) => el('option', s.site)));
  select.options[0].value = '';
  select.value = chosen;

  $('#sites').replaceChildren(
    ...sites.map((s) => {
      const card = el('div', undefined, 'card');
      card.append(
        el('h2', s.site),
        el('p', `${s.devices} devices`),
        el(
          'p',
          `${s.sensors.online}/${s.sensors.total} sensors online`,
          s.sensors.online < s.sensors.total ? 'warn' : '',
        ),
      );
      return card;
    }),
  );

  $('#sensor-rows').replaceChildren(
    ...sensors.map((s) => {
      const row = el('tr');
      const drops = s.capture.kernelDrops + s.capture.agentDrops;
      row.append(
        el('td', s.id, 'mono'),
        el('td', s.health, `health ${s.health}`),
        el('td', s.nodes.map((n) => `${n.node} (${n.health})`).join(', ')),
        el('td', s.agentVersions.join(', ') || '—'),
        el('td', ago(s.lastHeartbeat)),
        el('td', s.capture.packets.toLocaleString()),
        el('td', drops.toLocaleString(), drops > 0 ? 'warn' : ''),
        el('td', s.certificateNotAfter ? new Date(s.certificateNotAfter).toLocaleDateString() : '—'),
      );
      return row;
    }),
  );
  const online = sensors.filter((s) => s.health === 'online').length;
  $('#fleet-summary').textContent = `${online}/${sensors.length}`;
}

/** A sharded aggregator names the shards that did not answer: their sites are missing from what is shown. */
function noteUnavailable(unavailable) {
  for (const { shard } of unavailable ?? []) state.unavailable.add(shard);
}

async function refresh() {
  try {
    state.unavailable = new Set();
    await Promise.all([refreshDevices(), refreshAlerts(), refreshFleet()]);
    const missing = [...state.unavailable].sort((a, b) => a - b);
    $('#status').textContent =
      missing.length > 0
        ? `updated ${new Date().toLocaleTimeString()}; shard ${missing.join(', ')} not answering: its sites are missing`
        : `updated ${new Date().toLocaleTimeString()}`;
    $('#status').classList.toggle('error', missing.length > 0);
  } catch (err) {
    $('#status').textContent = `cannot reach the aggregator: ${err.message}`;
    $('#status').classList.add('error');
  }
}

function showView() {
  const view = ['#fleet', '#alerts'].includes(location.hash) ? location.hash.slice(1) : 'devices';
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== view;
  for (const link of document.querySelectorAll('nav a'))
    link.classList.toggle('active', link.dataset.view === view);
}

let debounce;
$('#filters').addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => {
    state.offset = 0;
    refreshDevices().catch(() => {});
  }, 250);
});
$('#filters').addEventListener('submit', (event) => event.preventDefault());
$('#alert-filters').addEventListener('input', () => refreshAlerts().catch(() => {}));
$('#alert-filters').addEventListener('submit', (event) => event.preventDefault());
$('#prev').addEventListener('click', () => {
  state.offset = Math.max(0, state.offset - PAGE_SIZE);
  refreshDevices().catch(() => {});
});
$('#next').addEventListener('click', () => {
  state.offset += PAGE_SIZE;
  refreshDevices().catch(() => {});
});
$('#close-detail').addEventListener('click', () => $('#device-detail').close());
$('#token-form').addEventListener('submit', () => {
  sessionStorage.setItem(TOKEN_KEY, new FormData($('#token-form')).get('token').trim());
  $('#token-form').reset();
  refresh();
});
window.addEventListener('hashchange', showView);

showView();
refresh();
setInterval(refresh, POLL_MS);
