// Vantage points as the pages show them: one colour per name, the status badge, the list from /vantages.
import { api } from "./api.js";
import { h } from "./dom.js";

// Distinct at a glance on white, and none of them the orange of an AS-path change marker of old.
const PALETTE = ["#1c7ed6", "#2f9e44", "#ae3ec9", "#e8590c", "#0c8599", "#c2255c", "#5f3dc4", "#66a80f"];

/** Colours for a set of vantage names, given in sorted order so every page of one node agrees. */
export function vantageColors(names) {
  const sorted = [...new Set(names)].sort();
  return new Map(sorted.map((name, i) => [name, PALETTE[i % PALETTE.length]]));
}

export function statusBadge(status) {
  return h("span", { class: `badge ${status}`, title: STATUS_TEXT[status] ?? "" }, status);
}

const STATUS_TEXT = {
  up: "every silo of this vantage answered within the last minute and probes with scamper",
  degraded: "some silos answer, but one went silent or probes without scamper",
  down: "no silo of this vantage answered within the last minute",
};

/** The vantage points of the cluster, or null when they cannot be read (no key, an older API). */
export async function listVantages() {
  try {
    return await api("/vantages");
  } catch {
    return null;
  }
}

export function vantageSwatch(color) {
  return h("span", { class: "dot", style: `background:${color}` });
}
