#!/usr/bin/env python3
"""bench/node --vantages: the rounds of the multi-vantage cluster and of bare scamper in every vantage, as vantages.json (medians).

Per vantage: the node's traces from that vantage per second, from its first probe start to the moment its last pair was
stored and given its next due time, against bare scamper in the same namespace (all vantages' scampers started at one
moment). For the whole: every (target, vantage) pair over the cluster's window (first probe start of any vantage until
every pair is stored, its target grain told and the topology recorder idle) against all pairs over the slowest scamper.
"""
import datetime, json, os, statistics, sys

work, rounds, out, quick, targets, trace_options, concurrency, pps = sys.argv[1:9]
names = sys.argv[9:]
rounds, targets, quick = int(rounds), int(targets), quick == "1"
med = statistics.median


def floor_run(i, name):
    wall, user, system = (float(x) for x in open(os.path.join(work, f"floor.{i}.{name}.time")).read().split()[-3:])
    traces = reached = 0
    for line in open(os.path.join(work, f"floor.{i}.{name}.json")):
        record = json.loads(line)
        if record.get("type") == "trace":
            traces += 1
            reached += record.get("stop_reason") == "COMPLETED"
    return {"wall_s": wall, "cpu_s": user + system, "traces": traces, "reached": reached, "traces_per_s": traces / wall}


floors = [{name: floor_run(i, name) for name in names} for i in range(1, rounds + 1)]
nodes = [json.load(open(os.path.join(work, f"node.{i}.json"))) for i in range(1, rounds + 1)]
pairs = targets * len(names)
figures = []
for name in names:
    node_tps = med(n["per_vantage"][name]["traces_per_s"] for n in nodes)
    floor_tps = med(f[name]["traces_per_s"] for f in floors)
    figures.append({
        "figure": f"traces/s from vantage {name} ({targets} targets; node: first probe start to its last pair stored) vs bare scamper "
                  f"in {name}, every vantage at once",
        "ours": round(node_tps, 1), "peer": round(floor_tps, 1), "ratio": round(node_tps / floor_tps, 2), "goal": ">= 0.8x",
        "met": node_tps / floor_tps >= 0.8})
whole_node = med(n["traces_per_s"] for n in nodes)
whole_floor = med(pairs / max(f[name]["wall_s"] for name in names) for f in floors)
figures += [
    {"figure": f"traces/s, whole cluster ({len(names)} silos, {pairs} pairs, enqueued once with all; stored, AS edges and path state "
               f"recorded) vs every vantage's bare scamper at once",
     "ours": round(whole_node, 1), "peer": round(whole_floor, 1), "ratio": round(whole_node / whole_floor, 2), "goal": ">= 0.8x",
     "met": whole_node / whole_floor >= 0.8},
    {"figure": "time for all pairs (s): cluster from its first probe start to all recorded, scamper until the last one exits",
     "ours": round(med(n["window_s"] for n in nodes), 2), "peer": round(med(max(f[name]["wall_s"] for name in names) for f in floors), 2),
     "ratio": round(med(max(f[name]["wall_s"] for name in names) for f in floors) / med(n["window_s"] for n in nodes), 2),
     "goal": None, "met": None},
    {"figure": f"CPU ms per trace ({len(names)} silos + their scampers + API + PostgreSQL vs the scampers)",
     "ours": round(med(sum(n["cpu_s"].values()) * 1000 / n["pairs"] for n in nodes), 2),
     "peer": round(med(sum(f[name]["cpu_s"] for name in names) * 1000 / sum(f[name]["traces"] for name in names) for f in floors), 2),
     "ratio": None, "goal": None, "met": None},
    {"figure": "  of which the idle cluster's own CPU over the same time (ms per trace; timers, schedule ticks, polls)",
     "ours": round(med(sum(n["idle_cpu_per_s"].values()) * (n["done_at"] - n["enqueued_at"]) * 1000 / n["pairs"] for n in nodes), 2),
     "peer": None, "ratio": None, "goal": None, "met": None},
    {"figure": "  CPU ms per trace by process: silos / scampers / API / PostgreSQL",
     "ours": " / ".join(str(round(med(n["cpu_s"][k] * 1000 / n["pairs"] for n in nodes), 2)) for k in ("silo", "scamper", "api", "postgres")),
     "peer": None, "ratio": None, "goal": None, "met": None},
    {"figure": "enqueue request to the first probe start, of the first / the last vantage (s)",
     "ours": " / ".join(str(round(med(f(v["first_probe_at"] for v in n["per_vantage"].values()) - n["enqueued_at"] for n in nodes), 3))
                        for f in (min, max)),
     "peer": None, "ratio": None, "goal": None, "met": None},
    {"figure": "enqueue request: time until POST /targets/enqueue answered (s)", "ours": round(med(n["enqueue_request_s"] for n in nodes), 3),
     "peer": None, "ratio": None, "goal": None, "met": None},
]
for name in names:
    node_reached = min(n["per_vantage"][name]["succeeded"] for n in nodes)
    floor_reached = min(f[name]["reached"] for f in floors)
    figures.append({"figure": f"traces from {name} that reached their destination (of {targets})", "ours": node_reached,
                    "peer": floor_reached, "ratio": None, "goal": "as many as bare scamper", "met": node_reached >= floor_reached})
for stage, what in (("queue", "rate limit and concurrency slot"), ("probe", "scamper"), ("enrich", "enrich hops"),
                    ("store", "store, batched COPY"), ("path", "AS path for the summary"), ("schedule", "next due time of the pair"),
                    ("target", "target grain: path history"), ("topology_wait", "wait for the topology recorder"),
                    ("topology", "AS edge and ASN grains")):
    means = [n["stages"][stage]["mean_ms"] for n in nodes if n["stages"][stage]["mean_ms"] is not None]
    figures.append({"figure": f"  stage, all silos: {what} (ms per trace, mean)", "ours": round(med(means), 3) if means else None,
                    "peer": None, "ratio": None, "goal": None, "met": None})
result = {
    "name": "vantages", "status": "ok", "quick": quick,
    "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "figures": figures,
    "setup": {"targets": targets, "vantages": names, "pairs": pairs, "rounds": rounds, "trace_options": trace_options,
              "in_flight_per_silo": int(concurrency), "packets_per_second_per_silo": int(pps), "floor_rounds": floors, "node_rounds": nodes,
              "lab": "scripts/lab up --no-node, prefix cwln-, ICMP rate limits lifted; a silo in every vantage namespace (one cluster, "
                     "mutual TLS, metrics on the vantage's lab address), the API in the default vantage's, own database, prefix table "
                     "from the lab's route collector (MRT), rate limit 60,000/min per silo, no per-prefix spacing or cooldown, ASN "
                     "expansion and hop feedback off; the list enqueued once with \"vantages\": \"all\""},
    "notes": ["a vantage's time counts from its first probe start to the moment its last (target, vantage) pair is stored and given "
              "its next due time (polled every 50 ms); the whole cluster's also waits for every target grain and the topology "
              "recorders; bare scamper's from process start to exit, the scampers of all vantages started together",
              "the silos, their scampers, the API and PostgreSQL share the machine's cores, as the bare scampers do"],
}
low = [(name, n["per_vantage"][name]["succeeded"]) for n in nodes for name in names
       if n["per_vantage"][name]["succeeded"] < 0.9 * min(f[name]["reached"] for f in floors)]
if low:
    result["status"] = "failed"
    result["reason"] = f"vantage {low[0][0]}: the node completed only {low[0][1]} traces where bare scamper reached " \
                       f"{min(f[low[0][0]]['reached'] for f in floors)}"
json.dump(result, open(out, "w"), indent=2)
open(out, "a").write("\n")
for f in figures:
    print(f"{f['figure']:<130} {str(f['ours']):>14} {str(f['peer']):>10} {str(f['ratio'] or '-'):>7}")
print(f"written: {out}")
