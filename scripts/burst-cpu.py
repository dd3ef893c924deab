#!/usr/bin/env python3
"""Where the CPU of each drop went: the server (by thread), the load tool
and the database, over each drop's drain window.

Runs the flash-sale tool (the command after `--`) against a running server,
samples /proc every 10 ms, finds each drop's opening from the tool's
"opening in N ms" line and its drain from the tool's bursts.json, and
prints per drop: CPU milliseconds of each process (the server split by
thread name), microseconds of CPU per purchase, and how busy the machine's
cores were during the drain.

    scripts/burst-cpu.py --server-pid P [--db-pid Q] --out DIR -- \
        target/release/examples/flash-sale --target URL --out DIR --bursts ...

`--server-pid` may be given once per node of a cluster (each node's CPU is
shown apart); a plain drop (no `--bursts`) is read from results.json.
`scripts/burst-cpu.sh` starts a release server and runs this;
`scripts/measure-cluster.sh` starts one server, then three nodes.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
# What a thread's name says it is: tokio names its workers, actix its
# arbiters; a thread named after the binary is its main thread.
GROUPS = [
    ("actix workers (HTTP)", r"^actix-server wo"),
    ("main runtime (actors, writers)", r"^tokio-rt-worker"),
    ("sqlite workers", r"^sqlx-sqlite"),
    ("main thread", r"^stampede$"),
]
# MariaDB's counters read beside the CPU (`--mysql-status`): what the
# database was asked to do per purchase.
STATUS = [
    "Questions", "Com_insert", "Com_update", "Com_select", "Com_commit",
    "Handler_read_rnd_next", "Handler_read_key", "Handler_read_next",
    "Handler_write", "Handler_update", "Innodb_rows_read", "Innodb_rows_updated",
    "Innodb_rows_inserted", "Innodb_os_log_fsyncs", "Innodb_row_lock_waits",
    "Innodb_row_lock_time", "Bytes_received", "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
]


def thread_ticks(pid: int) -> dict:
    """CPU ticks of each live thread of a process, by thread id, with the
    group its name puts it in."""
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])
        group = next((g for g, pat in GROUPS if re.search(pat, comm)), f"other ({comm})")
        out[tid] = (group, ticks)
    return out


def mysql_status() -> dict:
    names = ",".join(f"'{n}'" for n in STATUS)
    got = subprocess.run(
        ["mysql", "-h127.0.0.1", "-uroot", "-N", "-B", "-e",
         f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})"],
        capture_output=True, text=True, check=True).stdout
    return {k: int(v) for k, v in (line.split("\t") for line in got.splitlines())}


def cpu_between(start: dict, end: dict) -> dict:
    """CPU ms per group between two samples. A thread that started between
    them counts from zero; one that ended is lost (an undercount)."""
    out = {}
    for tid, (group, ticks) in end["threads"].items():
        before = start["threads"].get(tid, (group, 0))[1]
        out[group] = out.get(group, 0) + (ticks - before) * 1000 / TICK
    for k in ("load tool", "database"):
        if k in end and k in start:
            out[k] = (end[k] - start[k]) * 1000 / TICK
    return out


def process_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


class Sampler(threading.Thread):
    def __init__(self, servers: list, db: int | None, status: bool):
        super().__init__(daemon=True)
        self.servers, self.db, self.tool, self.status = servers, db, None, status
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            threads = {}
            for i, pid in enumerate(self.servers):
                name = "server" if len(self.servers) == 1 else f"node {i + 1}"
                for tid, (group, ticks) in thread_ticks(pid).items():
                    threads[(pid, tid)] = (f"{name}: {group}", ticks)
            s = {"t": time.monotonic(), "threads": threads}
            # Every 100 ms: a client process is too dear for every sample.
            if self.status and n % 10 == 0:
                s["status"] = mysql_status()
            n += 1
            if self.tool:
                try:
                    s["load tool"] = process_ticks(self.tool)
                except FileNotFoundError:
                    pass
            if self.db:
                s["database"] = process_ticks(self.db)
            self.samples.append(s)
            time.sleep(0.01)

    def at(self, t: float, key: str = "t") -> dict:
        """The first sample at or after t (that has `key`)."""
        have = [s for s in self.samples if key in s]
        return next((s for s in have if s["t"] >= t), have[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--server-pid", type=int, required=True, action="append")
    p.add_argument("--db-pid", type=int)
    p.add_argument("--out", required=True, help="the tool's --out (bursts.json)")
    p.add_argument("--mysql-status", action="store_true",
                   help="also read MariaDB's counters (every 100 ms)")
    p.add_argument("tool", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.tool[1:] if a.tool[:1] == ["--"] else a.tool
    cores = os.cpu_count() or 1

    sampler = Sampler(a.server_pid, a.db_pid, a.mysql_status)
    sampler.start()
    tool = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    sampler.tool = tool.pid
    openings = []
    for line in tool.stderr:
        sys.stderr.write(line)
        m = re.search(r"opening in (\d+) ms", line)
        if m:
            # The tool fires 5 ms after the opening.
            openings.append(time.monotonic() + int(m.group(1)) / 1000 + 0.005)
    code = tool.wait()
    time.sleep(0.05)
    sampler.stop.set()
    sampler.join()

    bursts = os.path.join(a.out, "bursts.json")
    if os.path.exists(bursts):
        rows = json.load(open(bursts))["rows"]
    else:
        rows = json.load(open(os.path.join(a.out, "results.json")))
        for row in rows:
            row.setdefault("drop", f"{row['purchases']} purchases")
    if len(rows) != len(openings):
        sys.exit(f"{len(openings)} openings seen, {len(rows)} rows in bursts.json")
    result = []
    print(f"\nCPU during each drain ({cores} cores; ms of CPU, then µs per purchase)")
    for row, opened in zip(rows, openings):
        start, end = sampler.at(opened), sampler.at(opened + row["drained_ms"] / 1000)
        wall = end["t"] - start["t"]
        cpu = cpu_between(start, end)
        keys = sorted(cpu)
        total = sum(cpu.values())
        n = row["purchases"]
        print(f"\n{row['variant']}, {row['drop']}: drained {row['drained_ms']:.0f} ms, "
              f"cores busy {total / (wall * 1000) :.2f} of {cores}")
        for k in keys:
            if cpu[k] > 0:
                print(f"  {k:32} {cpu[k]:8.0f} ms  {cpu[k] * 1000 / n:7.1f} µs/purchase")
        print(f"  {'all':32} {total:8.0f} ms  {total * 1000 / n:7.1f} µs/purchase")
        got = {"drop": row["drop"], "variant": row["variant"], "purchases": n,
               "drained_ms": row["drained_ms"], "cpu_ms": cpu, "window_s": wall}
        if a.mysql_status:
            s0 = sampler.at(opened, "status")["status"]
            s1 = sampler.at(opened + row["drained_ms"] / 1000, "status")["status"]
            status = {k: s1[k] - s0[k] for k in STATUS if k in s0 and k in s1}
            print("  MariaDB, per purchase:", ", ".join(
                f"{k} {v / n:.2f}" for k, v in status.items() if v))
            got["mysql_status"] = status
        result.append(got)
    with open(os.path.join(a.out, "cpu.json"), "w") as f:
        json.dump(result, f, indent=2)
    sys.exit(code)


if __name__ == "__main__":
    main()
