// SmokePing-style chart of one vantage point's ping series, drawn straight on a canvas: per round, the
// sorted RTTs as grey "smoke" (bands between symmetric ranks, darker towards the middle), the median
// as a line coloured by the round's loss. Hourly roll-ups carry three RTTs (10th, 50th, 90th percentile
// of the rounds' medians) and draw the same way.
import { h } from "./dom.js";

// SmokePing's loss colours, by the share of pings lost in the round.
export const LOSS_COLORS = [
  [0, "#26a269", "0"],
  [5, "#1c71d8", "≤ 5 %"],
  [10, "#613583", "≤ 10 %"],
  [20, "#e66100", "≤ 20 %"],
  [50, "#c64600", "≤ 50 %"],
  [100, "#c01c28", "> 50 %"],
];

export function lossColor(lossPct) {
  if (lossPct == null) return "#888";
  for (const [upTo, color] of LOSS_COLORS) if (lossPct <= upTo) return color;
  return LOSS_COLORS[LOSS_COLORS.length - 1][1];
}

export function lossLegend() {
  return h("p", { class: "legend" }, "Median RTT by loss: ",
    LOSS_COLORS.map(([, color, label]) => [h("span", { class: "dot", style: `background:${color}` }), ` ${label}  `]),
    h("span", { class: "dot", style: "background:#888" }), " round failed (not network loss)");
}

/**
 * Draws points (one vantage's, oldest first) over [from, to] on canvas; markers are {at, label} drawn as
 * dashed vertical lines (incidents, path changes).
 */
export function drawSmoke(canvas, points, from, to, markers = []) {
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 220;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const area = { left: 48, right: width - 8, top: 8, bottom: height - 22 };
  const maxima = points.flatMap((p) => (p.rttsMs.length ? [p.rttsMs[p.rttsMs.length - 1]] : [])).sort((a, b) => a - b);
  // The 95th percentile of the rounds' worst RTT: one outlier must not flatten the rest.
  const top = maxima.length ? maxima[Math.min(maxima.length - 1, Math.floor(maxima.length * 0.95))] * 1.15 || 1 : 1;
  const x = (t) => area.left + ((t - from) / (to - from)) * (area.right - area.left);
  const y = (ms) => area.bottom - (Math.min(ms, top) / top) * (area.bottom - area.top);

  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#666";
  ctx.strokeStyle = "#e5e5e5";
  for (let i = 0; i <= 4; i++) {
    const ms = (top * i) / 4;
    ctx.beginPath();
    ctx.moveTo(area.left, y(ms));
    ctx.lineTo(area.right, y(ms));
    ctx.stroke();
    ctx.fillText(`${ms.toFixed(ms < 10 ? 1 : 0)} ms`, 2, y(ms) + 4);
  }
  for (let i = 0; i <= 4; i++) {
    const t = from + ((to - from) * i) / 4;
    const label = new Date(t).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    ctx.fillText(label, Math.min(x(t) - 20, area.right - 80), height - 6);
  }

  const times = points.map((p) => Date.parse(p.time));
  const steps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  const step = steps.length ? steps[Math.floor(steps.length / 2)] : (to - from) / 100;
  const barWidth = Math.max(1, x(from + step) - x(from));
  points.forEach((p, i) => {
    const left = x(times[i]);
    const rtts = p.rttsMs;
    const pairs = Math.floor(rtts.length / 2);
    for (let k = 0; k < pairs; k++) {
      ctx.fillStyle = `rgba(0,0,0,${(0.6 / Math.max(1, pairs)).toFixed(3)})`;
      const high = y(rtts[rtts.length - 1 - k]);
      ctx.fillRect(left, high, barWidth, Math.max(1, y(rtts[k]) - high));
    }
    if (p.failureReason) {
      ctx.fillStyle = "#888";
      ctx.fillRect(left, area.top, barWidth, 3);
    } else if (p.medianRttMs == null) {
      // Every ping lost: a red mark along the top.
      ctx.fillStyle = lossColor(100);
      ctx.fillRect(left, area.top, barWidth, 3);
    } else {
      ctx.fillStyle = lossColor(p.lossPct);
      ctx.fillRect(left, y(p.medianRttMs) - 1, barWidth, 3);
    }
  });

  for (const marker of markers) {
    const at = x(marker.at);
    if (at < area.left || at > area.right) continue;
    ctx.save();
    ctx.strokeStyle = marker.color ?? "#c01c28";
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(at, area.top);
    ctx.lineTo(at, area.bottom);
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(marker.label, at + 3, area.top + 10);
    ctx.restore();
  }
}

/** One figure per vantage point of a /targets/{ip}/ping-series answer; returns [element, draw]. */
export function smokeFigures(series, colors, markers = []) {
  const vantages = [...new Set(series.points.map((p) => p.vantage))].sort();
  const from = Date.parse(series.from);
  const to = Date.parse(series.to);
  const canvases = vantages.map((vantage) => [vantage, h("canvas", { class: "smoke", "data-vantage": vantage,
    "aria-label": `Ping series from ${vantage}` })]);
  const element = h("div", { class: "charts smoke-charts" }, canvases.map(([vantage, canvas]) => {
    const rounds = series.points.filter((p) => p.vantage === vantage);
    const answered = rounds.filter((p) => !p.failureReason);
    const sent = answered.reduce((sum, p) => sum + p.sent, 0);
    const lost = answered.reduce((sum, p) => sum + p.sent - p.received, 0);
    return h("figure", {}, h("figcaption", {}, h("span", { class: "dot", style: `background:${colors.get(vantage) ?? "#888"}` }),
      ` ${vantage}: ${rounds.length} ${series.resolution === "hour" ? "hours" : "rounds"}, loss ${sent ? ((100 * lost) / sent).toFixed(1) : "–"} %`),
    h("div", { class: "chart-box" }, canvas));
  }));
  const draw = () => canvases.forEach(([vantage, canvas]) =>
    drawSmoke(canvas, series.points.filter((p) => p.vantage === vantage), from, to,
      markers.filter((m) => !m.vantage || m.vantage === vantage)));
  return [element, draw];
}
