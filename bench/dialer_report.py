#!/usr/bin/env python3
"""The callback dialer benchmark's report (bench/load.sh dialer): one JSON document.

Reads the server's log (each attempt's steps, logged at info with their times), the server's
/proc/PID/stat before and after the run (CPU of the server and of its waited-for children:
espeak-ng), load_staff's JSON (the server's RSS sampled every second, the gateway's and the
phones' calls) and the store's requests (`centralino callbacks list --json`). Times are seconds from --started, the moment
the staff phones were started (no request could be dialled before: no staff was registered).
"""

import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime

LINE = re.compile(r"^(\S+Z)\s+\w+\s+\S+: (.*)$")
REFERENCE = re.compile(r"reference=(\S+)")
STAFF = re.compile(r"staff=(\S+)")

# The log messages of one attempt's steps (runtime/src/dialer/task.rs, runtime/src/sip/callback.rs).
STEPS = {
    "dialer: working a callback": "dialled",
    "callback: staff answered": "staff_answered",
    "callback: calling the citizen": "calling",
    "callback: the citizen answered": "citizen_answered",
    "callback: the citizen hung up": "citizen_hung_up",
    "callback attempt over": "over",
}


def percentiles(values):
    """p50, p95, max (nearest rank), or None for no values."""
    if not values:
        return None
    values = sorted(values)

    def rank(p):
        return values[max(0, min(len(values) - 1, -(-len(values) * p // 100) - 1))]

    return {"n": len(values), "p50": round(rank(50), 3), "p95": round(rank(95), 3),
            "max": round(values[-1], 3)}


def cpu_seconds(path):
    """(own, children) CPU seconds of a /proc/PID/stat copy: utime+stime, cutime+cstime."""
    with open(path, encoding="utf-8") as stat:
        fields = stat.read().rsplit(")", 1)[-1].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    utime, stime, cutime, cstime = (int(fields[n - 3]) for n in (14, 15, 16, 17))
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


def read_log(path, started):
    """Per reference, per step: the times (s since `started`) it was logged; per reference the
    staff member it was given to; and how the attempts finished."""
    steps = defaultdict(lambda: defaultdict(list))
    staff = {}
    finished = Counter()
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            match = LINE.match(line.rstrip("\n"))
            if not match:
                continue
            stamp, text = match.groups()
            step = next((name for message, name in STEPS.items() if text.startswith(message)), None)
            reference = REFERENCE.search(text)
            if step is None or reference is None:
                continue
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - started
            steps[reference.group(1)][step].append(at)
            member = STAFF.search(text)
            if step == "dialled" and member:
                staff[reference.group(1)] = member.group(1)
            if step == "over":
                finished[text.split("finished=", 1)[-1].split(" {")[0].split(" ")[0]] += 1
    return steps, staff, finished


def idle_between_attempts(steps, staff):
    """Per staff member, from the end of one attempt to the dialling of the next (s)."""
    by_member = defaultdict(list)
    for reference, times in steps.items():
        if reference in staff and times["dialled"] and times["over"]:
            by_member[staff[reference]].append((times["dialled"][0], times["over"][0]))
    gaps = []
    for attempts in by_member.values():
        attempts.sort()
        gaps += [nxt[0] - cur[1] for cur, nxt in zip(attempts, attempts[1:])]
    return gaps


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--started", type=float, required=True)
    parser.add_argument("--ended", type=float, required=True)
    parser.add_argument("--stat-before", required=True)
    parser.add_argument("--stat-after", required=True)
    parser.add_argument("--idle-before", required=True)
    parser.add_argument("--idle-after", required=True)
    parser.add_argument("--idle-s", type=float, required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--hold", type=float, required=True)
    parser.add_argument("--staff", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    steps, staff_of, finished = read_log(args.log, args.started)
    staff = json.load(open(args.staff, encoding="utf-8"))
    store = json.load(open(args.store, encoding="utf-8"))

    def firsts(step):
        return [times[step][0] for times in steps.values() if times[step]]

    def spans(start, end):
        return [times[end][0] - times[start][0] for times in steps.values()
                if times[start] and times[end]]

    overs = firsts("over")
    reached = firsts("citizen_answered")
    end = max(overs) if overs else None
    # The last attempt's bridge ends with the gateway's BYE, HOLD s after the answer; the rate
    # is the citizens reached per second until the last one was.
    last_reached = max(reached) if reached else None
    bridged_s = sum(spans("citizen_answered", "citizen_hung_up"))

    server = staff.get("server") or {}
    peak, base = server.get("peak_rss_kib"), server.get("baseline_rss_kib")
    (own_before, children_before), (own_after, children_after) = (
        cpu_seconds(args.stat_before), cpu_seconds(args.stat_after))
    own_s, children_s = own_after - own_before, children_after - children_before
    cpu_s = own_s + children_s
    window_s = args.ended - args.started
    (idle_own_before, _), (idle_own_after, _) = (
        cpu_seconds(args.idle_before), cpu_seconds(args.idle_after))
    idle_ms_per_s = (idle_own_after - idle_own_before) * 1000 / args.idle_s

    dialing = [record.get("dialing", {}) for record in store]
    states = Counter(d.get("state", "?") for d in dialing)
    attempts = Counter(len(d.get("attempts", [])) for d in dialing)
    outcomes = Counter(a.get("outcome", "?") for d in dialing for a in d.get("attempts", []))
    called = Counter(len(times["calling"]) for times in steps.values())
    dialled = Counter(len(times["dialled"]) for times in steps.values())

    report = {
        "requests": args.requests,
        "first_dial_s": round(min(firsts("dialled")), 3) if firsts("dialled") else None,
        "all_worked_s": round(end, 3) if end is not None else None,
        "last_citizen_answer_s": round(last_reached, 3) if last_reached is not None else None,
        "citizens_reached_per_s": round(len(reached) / last_reached, 3) if last_reached else None,
        "staff_answers_s": percentiles(firsts("staff_answered")),
        "citizen_answers_s": percentiles(reached),
        "dial_to_staff_answer_s": percentiles(spans("dialled", "staff_answered")),
        "staff_answer_to_citizen_call_s": percentiles(spans("staff_answered", "calling")),
        "citizen_call_to_answer_s": percentiles(spans("calling", "citizen_answered")),
        "citizen_hangup_to_over_s": percentiles(spans("citizen_hung_up", "over")),
        "dial_to_over_s": percentiles(spans("dialled", "over")),
        "staff_idle_between_attempts_s": percentiles(idle_between_attempts(steps, staff_of)),
        "bridged_call_seconds": round(bridged_s, 1),
        "worked_times_per_request": dict(sorted(dialled.items())),
        "citizen_calls_per_request": dict(sorted(called.items())),
        "attempts_over_by_kind": dict(finished),
        "store": {
            "requests": len(store),
            "states": dict(states),
            "attempts_per_request": dict(sorted(attempts.items())),
            "attempt_outcomes": dict(outcomes),
        },
        "gateway": staff.get("gateway"),
        "staff_calls": {k: staff.get("calls", {}).get(k) for k in
                        ("invites", "answered", "byes", "second_calls_to_a_busy_phone",
                         "peak_live", "keys_sent")},
        "server": {
            "cpu_s": round(cpu_s, 2),
            "own_cpu_s": round(own_s, 2),
            "children_cpu_s": round(children_s, 2),
            "window_s": round(window_s, 1),
            "cores": round(cpu_s / window_s, 3),
            "cpu_us_per_attempt": round(cpu_s * 1e6 / args.requests),
            "own_cpu_us_per_attempt": round(own_s * 1e6 / args.requests),
            "cpu_us_per_bridged_call_second":
                round(cpu_s * 1e6 / bridged_s) if cpu_s and bridged_s else None,
            "idle_with_all_pending_cpu_ms_per_s": round(idle_ms_per_s, 2),
            "baseline_rss_kib": base,
            "peak_rss_kib": peak,
        },
        "load_average": staff.get("load_average"),
    }
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
