#!/usr/bin/env python3
"""One round of bench/node, run inside the lab's vantage namespace next to the node under test.

  warm --psql DSN --target IP [--all-vantages]   enqueue one target and wait until it is measured (JIT, first
       connections), from every vantage of the silos given with --all-vantages
  run  --psql DSN --enqueue FILE --count N --silo-pid P --api-pid P --pg-pid P --out FILE
       enqueue the list with one POST /targets/enqueue, then watch until every target is measured, its
       schedule row completed, the target grain told and the topology recorder idle; write what it saw.
       With a cluster, --silo VANTAGE:PID:METRICS_URL once per silo instead of --silo-pid: every target is
       expected from every vantage, and each vantage's own window is recorded as well.

PostgreSQL is watched through one psql process kept open (a new psql every poll would cost the two
cores more than the node's own work), the silo through its /metrics.
"""
import argparse, json, os, subprocess, sys, time, urllib.request

API = "http://127.0.0.1:8000"
SILO_METRICS = "http://127.0.0.1:8001/metrics"
POLL = 0.05


class Psql:
    def __init__(self, dsn):
        self.proc = subprocess.Popen(["psql", dsn, "-qAtX", "-v", "ON_ERROR_STOP=0"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.marker = 0

    def query(self, sql):
        self.marker += 1
        mark = f"--end-{self.marker}--"
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + mark + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"psql exited: {self.proc.stderr.read()[:300]}")
            line = line.rstrip("\n")
            if line == mark:
                return lines
            lines.append(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def metrics(silos):
    """The silos' metrics, summed: the stage histograms and the topology backlog of the whole cluster."""
    values = {}
    for silo in silos:
        for key, value in silo_metrics(silo["metrics"]).items():
            values[key] = values.get(key, 0.0) + value
    return values


def silo_metrics(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.rpartition(" ")
        try:
            values[key] = values.get(key, 0.0) + float(value)
        except ValueError:
            pass
    return values


def stage(values, name, what):
    return sum(v for k, v in values.items()
               if k.startswith(f"cyberwatch_probe_stage_duration_seconds_{what}{{") and f'stage="{name}"' in k)


def gauge(values, name):
    return sum(v for k, v in values.items() if k == name or k.startswith(name + "{"))


def cpu_seconds(pid):
    """utime + stime of a live process, and of its waited-for children (cutime + cstime)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append((int(entry), stat[stat.index("(") + 1:stat.rindex(")")]))
    return found


def tree_cpu(pid):
    return cpu_seconds(pid) + sum(tree_cpu(child) for child, _ in children(pid))


def scamper_pid(silo):
    for child, name in children(silo):
        if name == "scamper":
            return child
    raise RuntimeError(f"the silo (pid {silo}) runs no scamper")


def post(path, body):
    request = urllib.request.Request(API + path, data=body, method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return answer.status, answer.read()


def warm(args):
    db = Psql(args.psql)
    body = {"targets": [args.target], "source": "static"}
    pairs = 1
    if args.all_vantages:
        body["vantages"] = "all"
        pairs = len({s["vantage"] for s in args.silos})
    post("/targets/enqueue", json.dumps(body).encode())
    deadline = time.time() + 180
    while time.time() < deadline:
        done = int(db.query("SELECT count(*) FROM target_vantages WHERE last_measurement_id IS NOT NULL")[0])
        if done >= pairs and gauge(metrics(args.silos), "cyberwatch_topology_pending") == 0:
            db.close()
            return 0
        time.sleep(0.2)
    raise RuntimeError(f"the warm-up target {args.target} was not measured from {pairs} vantage(s) within 180 s")


def completed_per_vantage(db):
    rows = db.query("SELECT vantage, count(*) FROM target_vantages WHERE last_measurement_id IS NOT NULL GROUP BY vantage")
    return {vantage: int(count) for vantage, count in (row.split("|") for row in rows if row)}


def run(args):
    db = Psql(args.psql)
    vantages = sorted({s["vantage"] for s in args.silos})
    already = completed_per_vantage(db)
    body = open(args.enqueue, "rb").read()
    for silo in args.silos:
        silo["scamper"] = scamper_pid(silo["pid"])
    def cpu():
        # Summed over the silos of the cluster (one key each in the single-silo case, as before).
        return {"silo": sum(cpu_seconds(s["pid"]) for s in args.silos), "scamper": sum(cpu_seconds(s["scamper"]) for s in args.silos),
                "api": cpu_seconds(args.api_pid), "postgres": tree_cpu(args.pg_pid)}
    # What the idle node burns (timers, schedule ticks, health and metrics polls), so the CPU per trace can say
    # how much of it is the traces' own.
    idle_started, idle_before = time.time(), cpu()
    time.sleep(args.idle)
    idle_after, idle_seconds = cpu(), time.time() - idle_started
    idle_rate = {k: (idle_after[k] - idle_before[k]) / idle_seconds for k in idle_before}
    before = metrics(args.silos)
    cpu_before = cpu()
    enqueued_at = time.time()
    status, answer = post("/targets/enqueue", body)
    acknowledged_at = time.time()
    if status not in (200, 202):
        raise RuntimeError(f"enqueue answered {status}: {answer[:300]!r}")
    pairs = args.count * len(vantages)
    deadline = enqueued_at + args.timeout
    # When the last pair of each vantage was stored and given its next due time.
    stored_at = {}
    measured_at = None
    done_at = None
    while time.time() < deadline:
        if measured_at is None:
            done = completed_per_vantage(db)
            now_s = time.time()
            for vantage in vantages:
                if vantage not in stored_at and done.get(vantage, 0) >= already.get(vantage, 0) + args.count:
                    stored_at[vantage] = now_s
            if len(stored_at) == len(vantages):
                measured_at = now_s
        if measured_at is not None:
            now = metrics(args.silos)
            if stage(now, "target", "count") - stage(before, "target", "count") >= pairs \
                    and gauge(now, "cyberwatch_topology_pending") == 0:
                done_at = time.time()
                break
        time.sleep(POLL)
    if done_at is None:
        raise RuntimeError(f"not every (target, vantage) pair was measured and recorded within {args.timeout} s "
                           f"(stored so far: {completed_per_vantage(db)})")
    after = metrics(args.silos)
    cpu_after = cpu()
    first, last, succeeded, hops = db.query(
        f"""SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(completed_at)),
                   count(*) FILTER (WHERE success), (SELECT count(*) FROM hops h JOIN measurements m2 ON m2.id = h.measurement_id
                                                      WHERE m2.started_at >= to_timestamp({enqueued_at}))
              FROM measurements WHERE started_at >= to_timestamp({enqueued_at})""")[0].split("|")
    rows = db.query(f"SELECT count(*) FROM measurements WHERE started_at >= to_timestamp({enqueued_at})")[0]
    edges = db.query("SELECT count(*) FROM as_edges")[0]
    per_vantage = {}
    for row in db.query(f"""SELECT vantage, extract(epoch FROM min(started_at)), extract(epoch FROM max(completed_at)),
                                   count(*), count(*) FILTER (WHERE success)
                              FROM measurements WHERE started_at >= to_timestamp({enqueued_at}) GROUP BY vantage"""):
        vantage, first_v, last_v, rows_v, succeeded_v = row.split("|")
        per_vantage[vantage] = {"first_probe_at": float(first_v), "last_result_at": float(last_v), "measurements": int(rows_v),
                                "succeeded": int(succeeded_v), "stored_at": stored_at.get(vantage),
                                "window_s": stored_at[vantage] - float(first_v)}
        per_vantage[vantage]["traces_per_s"] = args.count / per_vantage[vantage]["window_s"]
    db.close()
    stages = {}
    for name in ("queue", "probe", "enrich", "store", "path", "schedule", "target", "topology_wait", "topology"):
        count = stage(after, name, "count") - stage(before, name, "count")
        total = stage(after, name, "sum") - stage(before, name, "sum")
        stages[name] = {"count": count, "sum_s": total, "mean_ms": total * 1000 / count if count else None}
    result = {
        "targets": args.count, "vantages": vantages, "pairs": pairs, "per_vantage": per_vantage, "measurements": int(rows), "succeeded": int(succeeded), "hops": int(hops), "as_edges": int(edges),
        "enqueued_at": enqueued_at, "acknowledged_at": acknowledged_at, "first_probe_at": float(first), "last_result_at": float(last),
        "all_measured_at": measured_at, "done_at": done_at,
        "enqueue_to_first_probe_s": float(first) - enqueued_at, "enqueue_request_s": acknowledged_at - enqueued_at,
        "window_s": done_at - float(first), "probe_window_s": float(last) - float(first),
        "cpu_s": {k: cpu_after[k] - cpu_before[k] for k in cpu_before}, "idle_cpu_per_s": idle_rate, "stages": stages,
    }
    result["traces_per_s"] = pairs / result["window_s"]
    json.dump(result, open(args.out, "w"), indent=2)
    print(json.dumps({k: result[k] for k in ("targets", "pairs", "succeeded", "window_s", "traces_per_s", "enqueue_to_first_probe_s")}))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("warm", "run"))
    parser.add_argument("--psql", required=True)
    parser.add_argument("--target")
    parser.add_argument("--enqueue")
    parser.add_argument("--count", type=int)
    parser.add_argument("--silo-pid", type=int, help="the one silo, serving vantage 'vantage', metrics on 127.0.0.1:8001")
    parser.add_argument("--silo", action="append", default=[], help="VANTAGE:PID:METRICS_URL of each silo of a cluster")
    parser.add_argument("--all-vantages", action="store_true", help="warm: enqueue with vantages all, wait for every vantage")
    parser.add_argument("--api-pid", type=int)
    parser.add_argument("--pg-pid", type=int)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--idle", type=float, default=5, help="seconds of idle node measured before the enqueue")
    parser.add_argument("--out")
    args = parser.parse_args()
    args.silos = [{"vantage": v, "pid": int(p), "metrics": url} for v, p, url in (s.split(":", 2) for s in args.silo)]
    if args.silo_pid:
        args.silos.append({"vantage": "vantage", "pid": args.silo_pid, "metrics": SILO_METRICS})
    if not args.silos:
        parser.error("--silo-pid or --silo is needed")
    return warm(args) if args.mode == "warm" else run(args)


if __name__ == "__main__":
    sys.exit(main())
