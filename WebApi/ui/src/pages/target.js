import { Chart, LineController, LineElement, PointElement, LinearScale, Tooltip, Legend } from "chart.js";
import { api, download } from "../api.js";
import { h, mount, fmt, problemBox, empty } from "../dom.js";
import { asPathStrip } from "./lookingGlass.js";
import { listVantages, vantageColors, vantageSwatch } from "../vantages.js";
import { smokeFigures, lossLegend } from "../smoke.js";

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Legend);

const RANGES = [["24 h", 1], ["7 days", 7], ["30 days", 30], ["1 year", 365]];

// Dashed vertical lines where a path change was detected, in the colour of the vantage that saw it:
// long dashes for an AS-path change, short ones for an IP-path or latency change.
const pathChangeMarkers = {
  id: "pathChanges",
  afterDatasetsDraw(chart, _args, options) {
    const { ctx, chartArea, scales } = chart;
    // Changes one vantage detected together (an AS-path change is also an IP-path change) share one line and one label.
    const byLine = new Map();
    for (const change of options.changes ?? []) {
      const x = Math.round(scales.x.getPixelForValue(change.at));
      if (x < chartArea.left || x > chartArea.right) continue;
      const key = `${x} ${change.vantage}`;
      const line = byLine.get(key) ?? { x, vantage: change.vantage, kinds: new Set() };
      line.kinds.add(change.kind);
      byLine.set(key, line);
    }
    const placed = [];
    for (const { x, vantage, kinds } of byLine.values()) {
      ctx.save();
      ctx.strokeStyle = options.colors?.get(vantage) ?? "#d9480f";
      ctx.setLineDash(kinds.has("as_path") ? [6, 3] : [2, 3]);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      // Labels of lines close together stack instead of overprinting each other.
      const row = placed.filter((other) => Math.abs(other - x) < 90).length;
      placed.push(x);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.font = "11px system-ui, sans-serif";
      const text = [...kinds].sort().join(", ").replaceAll("_", " ");
      ctx.fillText(options.multiple ? `${text} (${vantage})` : text, x + 3, chartArea.top + 11 + 12 * (row % 4));
      ctx.restore();
    }
  },
};

function timeTick(value, _index, ticks) {
  const first = ticks[0].value;
  const last = ticks[ticks.length - 1].value;
  const d = new Date(value);
  if (last - first > 2 * 86_400_000) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: last - first < 30 * 60_000 ? "2-digit" : undefined });
  return new Date(first).toDateString() === new Date(last).toDateString()
    ? time
    : `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
}

// The range asked for, narrowed to the data when it covers only part of it, with a margin so no point sits on the edge.
function xRange(series) {
  const times = series.points.map((p) => Date.parse(p.at));
  const from = Date.parse(series.from);
  const to = Date.parse(series.to);
  const first = Math.max(from, Math.min(...times));
  const last = Math.max(...times);
  const margin = Math.max(60_000, (last - first) * 0.05);
  // One point, or points close together, stay in the middle rather than on the edge of "now".
  return { min: Math.max(from, first - margin), max: last + margin };
}

// One line per vantage point, in its colour.
function lineChart(canvas, series, label, unit, colors, stepped) {
  const vantages = [...new Set(series.points.map((p) => p.vantage))].sort();
  const multiple = colors.size > 1 || vantages.length > 1;
  return new Chart(canvas, {
    type: "line",
    data: {
      datasets: vantages.map((vantage) => ({
        label: vantage, borderColor: colors.get(vantage), backgroundColor: colors.get(vantage), pointRadius: 3, borderWidth: 2,
        stepped, spanGaps: false,
        data: series.points.filter((p) => p.vantage === vantage).map((p) => ({ x: Date.parse(p.at), y: p.value, id: p.measurementId })),
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      scales: {
        x: { type: "linear", ...xRange(series), ticks: { callback: timeTick, maxTicksLimit: 6 } },
        y: { beginAtZero: true, title: { display: true, text: unit } },
      },
      plugins: {
        legend: { display: multiple, position: "bottom", labels: { boxWidth: 12, boxHeight: 2 } },
        tooltip: { callbacks: { title: (items) => fmt.time(items[0].parsed.x),
          label: (item) => `${multiple ? `${item.dataset.label} ` : ""}${label}: ${item.parsed.y} ${unit} (#${item.raw.id})` } },
        pathChanges: { colors, multiple, changes: series.changes.map((c) => ({ at: Date.parse(c.at), kind: c.kind, vantage: c.vantage })) },
      },
    },
    plugins: [pathChangeMarkers],
  });
}

export function targetPage(root, ip) {
  let charts = [];
  let days = 1;
  const body = h("div", {});
  const rangeButtons = h("div", { class: "segmented", role: "group", "aria-label": "Time range" },
    RANGES.map(([label, d]) => h("button", { type: "button", "data-days": d, class: d === days ? "active" : "",
      onclick: () => { days = d; load(); } }, label)));

  async function load() {
    rangeButtons.querySelectorAll("button").forEach((b) => b.classList.toggle("active", Number(b.dataset.days) === days));
    charts.forEach((c) => c.destroy());
    charts = [];
    const to = new Date();
    const from = new Date(to.getTime() - days * 86_400_000);
    const range = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    mount(body, h("p", { class: "muted" }, "Loading…"));
    try {
      const [rtt, hopSeries, history, latest, info, vantages, pings, incidents] = await Promise.all([
        api(`/targets/${encodeURIComponent(ip)}/series?metric=rtt&${range}`),
        api(`/targets/${encodeURIComponent(ip)}/series?metric=hops&${range}`),
        api(`/traceroute/history?target=${encodeURIComponent(ip)}&limit=30`),
        api(`/measurements/latest?target=${encodeURIComponent(ip)}`).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
        api(`/targets/${encodeURIComponent(ip)}`).catch(() => null),
        listVantages(),
        api(`/targets/${encodeURIComponent(ip)}/ping-series?${range}`).catch(() => null),
        api(`/incidents?${range}&limit=1000`).catch(() => []),
      ]);
      if (!latest) {
        mount(body, empty(`No measurement of ${ip} yet.`, h("a", { class: "button", href: `#/lg/${ip}` }, `Traceroute ${ip} now`)));
        return;
      }
      const rttCanvas = h("canvas", { id: "rtt-chart", "aria-label": "RTT over time" });
      const hopCanvas = h("canvas", { id: "hops-chart", "aria-label": "Hop count over time" });
      const paths = h("div", {}, h("p", { class: "muted" }, "Reading AS paths…"));
      const seen = [...(vantages ?? []).map((v) => v.name), ...(info?.perVantage ?? []).map((v) => v.vantage),
        ...latest.byVantage.map((m) => m.measurement.vantage), ...rtt.points.map((p) => p.vantage), ...(pings?.points ?? []).map((p) => p.vantage)];
      const colors = vantageColors(seen);
      // Path changes and this target's incidents (opened red, resolved green) mark each vantage's ping chart.
      const markers = [
        ...rtt.changes.map((c) => ({ at: Date.parse(c.at), vantage: c.vantage, label: c.kind.replaceAll("_", " "), color: "#d9480f" })),
        ...incidents.filter((i) => i.targets.includes(ip)).flatMap((i) => i.vantages.flatMap((vantage) => [
          { at: Date.parse(i.openedAt), vantage, label: `#${i.id} ${i.kind.replaceAll("_", " ")}`, color: "#c01c28" },
          ...(i.resolvedAt ? [{ at: Date.parse(i.resolvedAt), vantage, label: `#${i.id} resolved`, color: "#26a269" }] : [])])),
      ];
      const [smoke, drawSmoke] = pings?.points.length
        ? smokeFigures(pings, colors, markers)
        : [empty("No ping series in this range (ping_settings selects the targets that have one)."), () => {}];
      const exportFrom = h("select", { id: "export-vantage", "aria-label": "Vantage point to export" },
        h("option", { value: "" }, "every vantage point"), [...colors.keys()].map((v) => h("option", { value: v }, v)));
      const exportQuery = () => `target=${encodeURIComponent(ip)}&${range}${exportFrom.value ? `&vantage=${encodeURIComponent(exportFrom.value)}` : ""}`;
      const exportName = (format) => `cyberwatch-${ip}${exportFrom.value ? `-${exportFrom.value}` : ""}.${format}`;
      mount(body,
        h("dl", { class: "stats" },
          stat("Last measured", fmt.time(latest.measurement.startedAt)),
          stat("Last RTT", fmt.ms(latest.measurement.destRttMs ?? latest.measurement.avgRttMs)),
          stat("Hops", latest.summary.hopCount),
          stat("ASes", latest.summary.asCount),
          stat(`Measurements (${RANGES.find((r) => r[1] === days)[0]})`, rtt.points.length),
          stat("Path changes", rtt.changes.length)),
        h("h3", {}, "Vantage points ", h("span", { class: "muted" },
          info ? `(measured from ${info.vantages === "all" ? "every vantage point" : info.vantages.join(", ")})` : "")),
        perVantageTable(info, latest, colors),
        h("div", { class: "charts" },
          h("figure", {}, h("figcaption", {}, "Round-trip time to the target"), h("div", { class: "chart-box" }, rttCanvas)),
          h("figure", {}, h("figcaption", {}, "Hop count"), h("div", { class: "chart-box" }, hopCanvas))),
        h("p", { class: "legend" }, "Path changes: ", h("span", { class: "swatch as" }), " AS path  ", h("span", { class: "swatch ip" }),
          " IP path or latency", colors.size > 1 ? ", in the colour of the vantage point that saw them" : ""),
        h("h3", {}, "Latency and loss (ping series)"), smoke, pings?.points.length ? lossLegend() : null,
        h("h3", {}, "Distinct AS paths (last 30 traces)"), paths,
        h("h3", {}, "Export"),
        h("p", { class: "export" }, exportFrom, " ",
          h("button", { type: "button", class: "secondary", onclick: () => download(`/measurements/export?${exportQuery()}&format=jsonl`, exportName("jsonl")) }, "JSON Lines"), " ",
          h("button", { type: "button", class: "secondary", onclick: () => download(`/measurements/export?${exportQuery()}&format=csv`, exportName("csv")) }, "CSV")));
      if (rtt.points.length) charts.push(lineChart(rttCanvas, rtt, "RTT", "ms", colors, false));
      else rttCanvas.replaceWith(empty("No RTT in this range."));
      if (hopSeries.points.length) charts.push(lineChart(hopCanvas, hopSeries, "Hops", "hops", colors, true));
      else hopCanvas.replaceWith(empty("No traceroute in this range."));
      drawSmoke();
      mount(paths, await distinctPaths(history, colors));
    } catch (e) {
      mount(body, problemBox(e));
    }
  }

  mount(root,
    h("div", { class: "title-row" },
      h("h1", {}, `Target ${ip}`),
      h("a", { class: "button", href: `#/lg/${ip}` }, "Run a traceroute now")),
    rangeButtons, body);
  load();
  return () => charts.forEach((c) => c.destroy());
}

// Each vantage's schedule and its own view of the target: when it measures next, its last RTT and AS path.
function perVantageTable(info, latest, colors) {
  const latestOf = new Map(latest.byVantage.map((m) => [m.measurement.vantage, m]));
  const rows = info?.perVantage?.length
    ? info.perVantage
    : latest.byVantage.map((m) => ({ vantage: m.measurement.vantage, scheduled: null, lastMeasuredAt: m.measurement.startedAt, lastAsPath: m.summary.asPath }))
      .sort((a, b) => a.vantage.localeCompare(b.vantage));
  return h("table", { class: "per-vantage", id: "per-vantage" },
    h("thead", {}, h("tr", {}, ["Vantage", "Scheduled", "Next due", "Last measured", "Last RTT", "Hops", "Baseline RTT", "AS path"].map((c, i) =>
      h("th", { class: i >= 4 && i <= 6 ? "num" : "" }, c)))),
    h("tbody", {}, rows.map((v) => {
      const own = latestOf.get(v.vantage);
      return h("tr", { "data-vantage": v.vantage },
        h("td", {}, vantageSwatch(colors.get(v.vantage)), ` ${v.vantage}`),
        h("td", {}, v.scheduled == null ? "–" : v.scheduled ? "yes" : "no"),
        h("td", {}, fmt.time(v.nextDueAt)),
        h("td", { title: own ? `measurement #${own.measurement.id}` : null }, fmt.time(v.lastMeasuredAt ?? own?.measurement.startedAt)),
        h("td", { class: "num" }, own ? fmt.ms(own.measurement.destRttMs ?? own.measurement.avgRttMs) : "–"),
        h("td", { class: "num" }, own?.summary.hopCount ?? "–"),
        h("td", { class: "num" }, fmt.ms(v.rttBaselineMs)),
        h("td", {}, own?.summary.asPath?.length ? asPathStrip(own.summary.asPath, own.summary.asSteps) : asPathStrip(v.lastAsPath)));
    })));
}

async function distinctPaths(history, colors) {
  const traces = history.filter((m) => m.method !== "ping" && m.tool !== "mtr");
  if (!traces.length) return empty("No traceroute yet.");
  const summaries = await Promise.all(traces.map((m) => api(`/measurements/${m.id}/summary`).then((s) => ({ m, s })).catch(() => null)));
  const byPath = new Map();
  for (const item of summaries.filter(Boolean)) {
    const key = `${item.m.vantage} ${item.s.asPath.join(" ")}`;
    // Keyed by the ASes only (a step turning direct or indirect is no path change); the steps drawn are the first met, the newest.
    const entry = byPath.get(key) ?? { vantage: item.m.vantage, path: item.s.asPath, steps: item.s.asSteps, count: 0, first: item.m.startedAt, last: item.m.startedAt };
    entry.count++;
    if (item.m.startedAt < entry.first) entry.first = item.m.startedAt;
    if (item.m.startedAt > entry.last) entry.last = item.m.startedAt;
    byPath.set(key, entry);
  }
  return h("table", { class: "paths" },
    h("thead", {}, h("tr", {}, ["AS path", "Vantage", "Seen", "First", "Last"].map((c) => h("th", {}, c)))),
    h("tbody", {}, [...byPath.values()].sort((a, b) => a.vantage.localeCompare(b.vantage) || b.count - a.count).map((p) =>
      h("tr", {}, h("td", {}, asPathStrip(p.path, p.steps)), h("td", {}, vantageSwatch(colors.get(p.vantage)), ` ${p.vantage}`), h("td", { class: "num" }, p.count),
        h("td", {}, fmt.time(p.first)), h("td", {}, fmt.time(p.last))))));
}

function stat(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

export function targetsPage(root) {
  const list = h("div", {});
  const limit = 50;
  // Keyset paging: the after= of every page shown so far, so Previous can go back; the total is counted once.
  const cursors = [null];
  let total = null;
  async function load() {
    try {
      const after = cursors[cursors.length - 1];
      const page = await api(`/targets?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}${total === null ? "&count=true" : ""}`);
      if (total === null) total = page.total;
      if (!total) { mount(list, empty("No targets yet. Run a traceroute from the looking glass, or enqueue targets through the API.")); return; }
      const first = (cursors.length - 1) * limit;
      mount(list,
        h("table", { class: "targets" },
          h("thead", {}, h("tr", {}, ["Target", "Sources", "Last measured", "Next due", "Scheduled at"].map((c) => h("th", {}, c)))),
          h("tbody", {}, page.items.map((t) => h("tr", {},
            h("td", {}, h("a", { href: `#/target/${t.ip}` }, t.ip)), h("td", {}, t.sources.join(", ")),
            h("td", {}, fmt.time(t.lastMeasuredAt)), h("td", {}, fmt.time(t.nextDueAt)),
            h("td", {}, t.scheduledAt?.length ? t.scheduledAt.join(", ") : "not remeasured"))))),
        h("p", { class: "pager" },
          h("button", { type: "button", class: "secondary", disabled: cursors.length === 1, onclick: () => { cursors.pop(); load(); } }, "← Previous"),
          ` ${first + 1}–${first + page.items.length} of ${total} `,
          h("button", { type: "button", class: "secondary", disabled: !page.next, onclick: () => { cursors.push(page.next); load(); } }, "Next →")));
    } catch (e) {
      mount(list, problemBox(e));
    }
  }
  mount(root, h("h1", {}, "Targets"), list);
  load();
}
