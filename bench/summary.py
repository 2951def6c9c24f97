#!/usr/bin/env python3
"""Writes summary.md from the bench result files given, in the order given (called by scripts/bench)."""
import json
import os
import sys


def cell(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == int(value) and abs(value) >= 100:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def ratio_cell(value):
    return "-" if value is None else f"{cell(value)}×"


def main():
    out, mode = sys.argv[1], sys.argv[2]
    files = sys.argv[3:]
    lines = [
        f"# Benchmarks ({mode})",
        "",
        "Written by `scripts/bench" + (" --quick" if mode == "quick" else "") + "`; one file per benchmark beside this one.",
        "Ratio: how many times better ours is than the peer or floor (their time / our time, or our rate / their rate).",
        "",
        "| bench | figure | ours | peer or floor | ratio | goal | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    when = None
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path) as f:
                result = json.load(f)
        except (OSError, ValueError) as e:
            lines.append(f"| {name} | **failed**: no result ({e}) | | | | | |")
            continue
        when = result.get("when") or when
        status = result.get("status", "ok")
        if status != "ok":
            reason = cell(result.get("reason", ""))
            lines.append(f"| {name} | **{status}**: {reason} | | | | | |")
            if status == "skipped":
                continue
        for fig in result.get("figures", []):
            met = fig.get("met")
            lines.append("| {} | {} | {} | {} | {} | {} | {} |".format(
                name, cell(fig.get("figure")), cell(fig.get("ours")), cell(fig.get("peer")),
                ratio_cell(fig.get("ratio")), cell(fig.get("goal")), "-" if met is None else cell(met)))
        for note in result.get("notes", []):
            notes.append(f"- {name}: {note}")
    if notes:
        lines += ["", "Notes:", ""] + notes
    if when:
        load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
        lines += ["", f"Run: {when}, {os.cpu_count()} cores, load average at the end {' '.join(load)} (the machine is shared: figures move with it)."]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
