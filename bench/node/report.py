#!/usr/bin/env python3
"""bench/node's result: the rounds of the node and of bare scamper combined into node.json (medians)."""
import datetime, json, os, statistics, sys

work, rounds, out, quick, targets, trace_options, concurrency, pps = sys.argv[1:9]
rounds, targets, quick = int(rounds), int(targets), quick == "1"


def floor_round(i):
    wall, user, system = (float(x) for x in open(os.path.join(work, f"floor.{i}.time")).read().split()[-3:])
    traces = reached = 0
    for line in open(os.path.join(work, f"floor.{i}.json")):
        record = json.loads(line)
        if record.get("type") == "trace":
            traces += 1
            reached += record.get("stop_reason") == "COMPLETED"
    return {"wall_s": wall, "cpu_s": user + system, "traces": traces, "reached": reached, "traces_per_s": traces / wall}


floors = [floor_round(i) for i in range(1, rounds + 1)]
nodes = [json.load(open(os.path.join(work, f"node.{i}.json"))) for i in range(1, rounds + 1)]
med = statistics.median
floor_tps = med(f["traces_per_s"] for f in floors)
node_tps = med(n["traces_per_s"] for n in nodes)
floor_cpu = med(f["cpu_s"] * 1000 / f["traces"] for f in floors)
node_cpu = med(sum(n["cpu_s"].values()) * 1000 / n["targets"] for n in nodes)
# The idle node's own burn (timers, ticks, polls) over the same window, to tell it from the traces' work.
node_idle_cpu = med(sum(n["idle_cpu_per_s"].values()) * (n["done_at"] - n["enqueued_at"]) * 1000 / n["targets"] for n in nodes)
ratio = node_tps / floor_tps
figures = [
    {"figure": f"traces/s, whole node (enqueued through the API, stored, AS edges and path state recorded) vs bare scamper, "
               f"same {targets} targets, {concurrency} in flight",
     "ours": round(node_tps, 1), "peer": round(floor_tps, 1), "ratio": round(ratio, 2), "goal": ">= 0.8x", "met": ratio >= 0.8},
    {"figure": "time for all traces (s): node from first probe start to all recorded, scamper from start to exit",
     "ours": round(med(n["window_s"] for n in nodes), 2), "peer": round(med(f["wall_s"] for f in floors), 2),
     "ratio": round(med(f["wall_s"] for f in floors) / med(n["window_s"] for n in nodes), 2), "goal": None, "met": None},
    {"figure": "CPU ms per trace (silo + its scamper + API + PostgreSQL vs scamper)",
     "ours": round(node_cpu, 2), "peer": round(floor_cpu, 2), "ratio": round(floor_cpu / node_cpu, 3), "goal": None, "met": None},
    {"figure": "  of which the idle node's own CPU over the same time (ms per trace; timers, schedule ticks, polls)",
     "ours": round(node_idle_cpu, 2), "peer": None, "ratio": None, "goal": None, "met": None},
    {"figure": "enqueue request to first probe start (s)", "ours": round(med(n["enqueue_to_first_probe_s"] for n in nodes), 3),
     "peer": None, "ratio": None, "goal": None, "met": None},
    {"figure": "enqueue request: time until POST /targets/enqueue answered (s)", "ours": round(med(n["enqueue_request_s"] for n in nodes), 3),
     "peer": None, "ratio": None, "goal": None, "met": None},
    {"figure": f"traces that reached their destination (of {targets})", "ours": min(n["succeeded"] for n in nodes),
     "peer": min(f["reached"] for f in floors), "ratio": None, "goal": "as many as bare scamper",
     "met": min(n["succeeded"] for n in nodes) >= min(f["reached"] for f in floors)},
]
for name, what in (("queue", "rate limit and concurrency slot"), ("probe", "scamper"), ("enrich", "enrich hops"),
                   ("store", "store, batched COPY"), ("path", "AS path for the summary"), ("schedule", "next due time of the pair"),
                   ("target", "target grain: path history"), ("topology_wait", "wait for the topology recorder"),
                   ("topology", "AS edge and ASN grains")):
    means = [n["stages"][name]["mean_ms"] for n in nodes if n["stages"][name]["mean_ms"] is not None]
    figures.append({"figure": f"  stage: {what} (ms per trace, mean)", "ours": round(med(means), 3) if means else None,
                    "peer": None, "ratio": None, "goal": None, "met": None})
result = {
    "name": "node", "status": "ok", "quick": quick,
    "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "figures": figures,
    "setup": {"targets": targets, "rounds": rounds, "trace_options": trace_options, "in_flight": int(concurrency),
              "packets_per_second": int(pps), "floor_rounds": floors, "node_rounds": nodes,
              "lab": "scripts/lab up --no-node, prefix cwln-, ICMP rate limits lifted; node: one silo + API in the vantage namespace, "
                     "own database, prefix table from the lab's route collector (MRT), rate limit 60,000/min, no per-prefix "
                     "spacing or cooldown, ASN expansion and hop feedback off"},
    "notes": ["the node's time counts from its first probe start to the moment every measurement is stored, its pair's next "
              "due time set, its target grain told and the topology recorder idle (polled every 50 ms); bare scamper's from "
              "process start to exit",
              "stage means are per trace and overlap: 256 traces are in flight at once",
              "CPU of the node is silo, its scamper, API and every PostgreSQL process during the round (the watcher's own "
              "psql included)"],
}
low = [n for n in nodes if n["succeeded"] < 0.9 * min(f["reached"] for f in floors)]
if low:
    result["status"] = "failed"
    result["reason"] = f"the node completed only {low[0]['succeeded']} traces where bare scamper reached {floors[0]['reached']}"
json.dump(result, open(out, "w"), indent=2)
open(out, "a").write("\n")
for f in figures:
    print(f"{f['figure']:<110} {str(f['ours']):>10} {str(f['peer']):>10} {str(f['ratio'] or '-'):>7}")
print(f"written: {out}")
