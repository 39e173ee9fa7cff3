#!/usr/bin/env bash
# Live-call load benchmark of `centralino serve` (issue 4), on loopback only.
#
#   bench/load.sh caller CALLS RATE HOLD [load_caller options...]
#       N concurrent calls from bench's own cheap caller (load_caller: SIP over UDP, the
#       server's RTP received and measured, keep-alive RTP and RFC 4733 keys sent; see
#       bench/src/bin/load_caller.rs), with the server's CPU and RSS sampled from /proc.
#       e.g. bench/load.sh caller 2000 200 40 --keys 1
#   bench/load.sh sipp CALLS RATE [PROBES]
#       the realistic mix: sipp callers sending A-law audio both ways for ~28.5 s and
#       pressing 1 (bench/sipp/uac_media.xml), plus PROBES (default 20) load_caller calls
#       that measure the server's RTP as callers receive it; server CPU over the window when
#       all calls are up (proc_window).
#   bench/load.sh check      the benchmark flow compiles (centralino check bench/flows)
#   bench/load.sh bridged CALLS RATE HOLD [load_caller options...]
#       people (issue 9): CALLS staff phones (load_staff: REGISTER with MD5 digest, answer the
#       server's INVITEs, 20 ms PCMU both ways) in one office; load_caller places CALLS calls
#       to a flow that transfers at once (`transfer banco ring 20s`: in turn, so each call
#       rings the first available person), with `--send-rtp full --arrivals poisson`: two
#       legs per call, audio both ways. Server CPU per bridged call-second and RSS per
#       bridged call as in `caller` (the window when all calls are up).
#       e.g. bench/load.sh bridged 500 50 40
#   bench/load.sh register PHONES INTERVAL DURATION [load_staff options...]
#       PHONES staff phones re-registering every INTERVAL s (Expires 2 x INTERVAL, at least
#       60) for DURATION s: registrar answers per second, failures, server CPU and RSS
#       (--challenge-each-time: every refresh starts with a 401, as phones keeping no nonce).
#       e.g. bench/load.sh register 5000 60 180
#   bench/load.sh conference ROOMS SIZE HOLD [load_caller options...]
#       conference rooms (issue 10): ROOMS x SIZE load_caller calls to ROOMS generated flows
#       (numbers 500.., each `conference "stanzaN" pin "1234"`), typing the PIN, answering
#       the re-INVITE that moves a caller to its room's media thread, and sending 20 ms PCMU
#       (`--send-rtp full`); each caller's received stream is measured as in `caller` (what
#       the room's N-1 mix sends). Server CPU per participant-second in the window when every
#       caller is in (from --settle 12 s after the last answer: PIN prompt and welcome played),
#       and the media threads' share (the mixing, RTP in and out). RATE (default 20) calls/s.
#       e.g. bench/load.sh conference 20 8 60
#   bench/load.sh dialer REQUESTS STAFF HOLD [load_staff options...]
#       the callback dialer (issue 10): REQUESTS callback requests for one office of STAFF staff
#       asked through the API (`centralino tokens add`, POST /api/v1/callbacks) while no staff
#       phone is registered, so none is dialled before the clock starts; then load_staff
#       registers the STAFF phones (answering at once, pressing 1 after 300 ms and every second
#       after: "call the citizen", then "close the request") and is the trunk gateway
#       (`--gateway`: answers every citizen INVITE with audio both ways, BYE after HOLD s).
#       Until every request had its attempt: setup times and rate from the server's log, the
#       server's CPU (its own and espeak-ng's, /proc/PID/stat before and after) per attempt and
#       per bridged call-second, its RSS (load_staff's samples), the requests' states and
#       attempts from `centralino callbacks list` (bench/dialer_report.py).
#       [dialer] per_office = STAFF, skip_delay_s = 1. Before the phones start, the server's CPU
#       for IDLE_S s (default 10) with every request pending (the dialer's ticks alone).
#       e.g. bench/load.sh dialer 200 20 10
#
# Environment: NO_BUILD=1 skips the release build; SERVER_BIN runs another server binary
# (A/B comparisons); NICE (e.g. -10) runs the server and the caller at that priority, so
# that other work on a shared machine cannot starve them (say so when reporting such runs);
# OUT_DIR (default /tmp/centralino-bench) keeps the JSON of each run; LABEL names the run;
# RECEIVE_POLL_MS (caller and bridged modes: the load tools poll their RTP sockets, see below);
# RTP_PORTS (default 10000-19999: 5000 even ports) is the server's RTP range; MAX_CALLS
# (5000); SERVER_LOG=1 keeps the server's log. The server is started here with the flows in
# bench/flows and a fresh data directory, and stopped by its PID when the script exits; the
# callers, sipp and the samplers are bounded by `timeout`. Results: docs/benchmarks.md,
# "Live calls (issue 4)", "People (issue 9)", "Conference rooms" and "The callback dialer"
# (issue 10); SERVER_CONFIG, FLOWS, NO_WARM_UP, HTTP_PORT: see start_server.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${SERVER_BIN:-$TARGET/release/centralino}
CALLER=$TARGET/release/load_caller
STAFF=$TARGET/release/load_staff
WINDOW=$TARGET/release/proc_window
OUT_DIR=${OUT_DIR:-/tmp/centralino-bench}
RTP_PORTS=${RTP_PORTS:-10000-19999}
MAX_CALLS=${MAX_CALLS:-5000}
mkdir -p "$OUT_DIR"
# RECEIVE_POLL_MS=N: the load tools read their RTP sockets every N ms instead of sleeping on
# them (caller and bridged modes), so the server's CPU does not include waking them (loopback).
POLL_ARGS=()
if [[ -n "${RECEIVE_POLL_MS:-}" ]]; then POLL_ARGS=(--receive-poll-ms "$RECEIVE_POLL_MS"); fi

mode=${1:-}
shift || true
case "$mode" in
  caller|sipp|check|bridged|register|conference|dialer) ;;
  *) sed -n '2,61p' "$0" >&2; exit 2 ;;
esac

if [[ -z "${NO_BUILD:-}" ]]; then
  timeout 1200 cargo build --release -q -p centralino -p centralino-bench
fi

if [[ "$mode" == check ]]; then
  exec "$BIN" check bench/flows
fi

# Each call is a UDP socket on both sides; sipp needs more.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/centralino-load.XXXXXX)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "${SERVER_LOG:-}" && -f "$tmp/server.log" ]]; then
    cp "$tmp/server.log" "$OUT_DIR/server-$(date +%H%M%S).log"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

free_tcp_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
  SIP_PORT=$(free_port)
  # --rtp-timeout 120: the cheap caller sends only a keep-alive every 5 s (it would do with
  # the default 30 s too); --grace 2: stop quickly at the end; --no-http: the address book is
  # not measured (and another server on the machine may hold its port). SERVER_CONFIG: a
  # configuration file (staff accounts) and FLOWS another flow directory, for the people modes;
  # HTTP_PORT: serve HTTP there (the API, for the dialer mode).
  local config=() http=(--no-http)
  if [[ -n "${SERVER_CONFIG:-}" ]]; then config=(--config "$SERVER_CONFIG"); fi
  if [[ -n "${HTTP_PORT:-}" ]]; then http=(--http-listen "127.0.0.1:$HTTP_PORT"); fi
  nice -n "${NICE:-0}" "$BIN" serve "${config[@]}" --flows "${FLOWS:-bench/flows}" --data "$tmp/data" \
    --listen "127.0.0.1:$SIP_PORT" --no-tcp "${http[@]}" --rtp-ports "$RTP_PORTS" --max-calls "$MAX_CALLS" \
    --rtp-timeout 120 --grace 2 2>"$tmp/server.log" &
  SERVER_PID=$!
  for _ in $(seq 300); do
    if grep -q "SIP listening" "$tmp/server.log" 2>/dev/null; then
      break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "SIP listening" "$tmp/server.log" || { echo "the server did not start" >&2; exit 1; }
  if [[ -n "${NO_WARM_UP:-}" ]]; then
    return
  fi
  # Warm-up: the text prompts are rendered (espeak-ng) the first time a call plays them; three
  # calls pressing 1, 2 and 3 render every prompt a measured call hears, so the runs measure
  # the steady state, not the first rendering.
  local warm=()
  for key in 1 2 3; do
    timeout 30 "$CALLER" --target "127.0.0.1:$SIP_PORT" --calls 1 --hold 6 --keys "$key" \
      --key-delay-ms 4000 --label warm-up >/dev/null 2>&1 &
    warm+=($!)
  done
  wait "${warm[@]}" || true
  sleep 1
}

stamp=$(date +%Y%m%d-%H%M%S)

# The people modes' server configuration: PHONES staff accounts 10000.. (password pw + the
# extension, bench only), MD5 digest, into $tmp/centralino.toml; with a flow directory that
# has one office `banco` with those staff and number 200 transferring to it at once.
people_setup() {
  local phones=$1
  mkdir -p "$tmp/flows"
  python3 - "$phones" "$tmp" <<'EOF'
import hashlib, sys
phones, tmp = int(sys.argv[1]), sys.argv[2]
realm = "centralino"
with open(f"{tmp}/centralino.toml", "w") as f:
    f.write(f'[staff]\nrealm = "{realm}"\nalgorithms = ["MD5"]\n\n[staff.accounts]\n')
    for i in range(phones):
        ext = str(10000 + i)
        a1 = f"{ext}:{realm}:pw{ext}".encode()
        f.write(f'"{ext}" = {{ ha1_md5 = "{hashlib.md5(a1).hexdigest()}", '
                f'ha1_sha256 = "{hashlib.sha256(a1).hexdigest()}" }}\n')
with open(f"{tmp}/flows/bridged.flow", "w") as f:
    f.write('// Generated by bench/load.sh: every call is put through to the first available person.\n')
    f.write('calendar sempre {\n  timezone "Europe/Rome"\n  mon-fri 00:00-23:59\n  sat, sun 00:00-23:59\n}\n\n')
    f.write('office banco "Banco di prova" {\n  hours sempre\n')
    for i in range(phones):
        f.write(f'  staff "sip:{10000 + i}@centralino.local" as "Telefono {10000 + i}"\n')
    f.write('  ring 20s\n}\n\n')
    f.write('flow ponte answers "200" {\n  language it\n  max duration 30m\n'
            '  passa: transfer banco ring 20s else -> nessuno\n'
            '  nessuno: say "Nessuno risponde." -> hangup\n}\n')
EOF
  SERVER_CONFIG=$tmp/centralino.toml
  FLOWS=$tmp/flows
  NO_WARM_UP=1
}

case "$mode" in
  caller)
    calls=${1:?CALLS}; rate=${2:?RATE}; hold=${3:?HOLD}; shift 3
    label=${LABEL:-caller-$calls-$rate-$hold}
    start_server
    bound=$(python3 -c "print(int($calls/$rate + $hold + 60))")
    out="$OUT_DIR/$label-$stamp.json"
    timeout "$bound" nice -n "${NICE:-0}" "$CALLER" --target "127.0.0.1:$SIP_PORT" --number 100 --calls "$calls" \
      --rate "$rate" --hold "$hold" --server-pid "$SERVER_PID" --label "$label" "${POLL_ARGS[@]}" "$@" >"$out"
    echo "$out"
    jq -r '[.label, "load", .load_average.start, .load_average.end,
            "SER", .sip.session_establishment_ratio, "failed", (.sip.failures|tostring),
            "setup_p50_p95_p99_ms", .sip.invite_to_200_ms.p50, .sip.invite_to_200_ms.p95, .sip.invite_to_200_ms.p99,
            "srd_p50_p95", .sip.session_request_delay_ms.p50, .sip.session_request_delay_ms.p95,
            "late20", .media.late_over_20ms, "late5", .media.late_over_5ms, "of", .media.packets,
            "lateness_p99_max_ms", .media.lateness_ms.p99, .media.lateness_ms.max,
            "jitter_p50_p95_ms", .media.jitter_ms_end_of_call.p50, .media.jitter_ms_end_of_call.p95,
            "gaps", .media.sequence_gaps, "skipped", .media.frames_skipped_by_sender,
            "cpu_us_per_call_s_steady_whole", .server.steady.cpu_us_per_call_second, .server.whole_run.cpu_us_per_call_second,
            "cores", .server.steady.cores, "rss_kib_per_call", .server.rss_per_call_kib,
            "fds_per_call", .server.fds_per_call, "udp_rcvbuf_errors", .udp_counters.rcvbuf_errors]
           | map(tostring) | join(" ")' "$out"
    ;;
  sipp)
    calls=${1:?CALLS}; rate=${2:?RATE}; probes=${3:-20}
    label=${LABEL:-sipp-$calls-$rate}
    start_server
    baseline=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    ramp=$(python3 -c "print($calls/$rate)")
    # The scenario holds each call ~28.5 s after the answer: all calls are up from the end of
    # the ramp to ~28 s after the start; the window leaves 2 s after the ramp and 1.5 s before.
    after=$(python3 -c "print($ramp + 2.5)")
    window=$(python3 -c "print(max(1.0, 27.0 - $ramp - 2.5))")
    sipp_port=$(free_port); media_port=$(free_port)
    (cd "$tmp" && timeout 120 sipp "127.0.0.1:$SIP_PORT" -sf "$ROOT/bench/sipp/uac_media.xml" \
        -s 100 -r "$rate" -l "$calls" -m "$calls" -i 127.0.0.1 -p "$sipp_port" \
        -mi 127.0.0.1 -mp "$media_port" -nostdin -timeout 100s -trace_stat -stf sipp_stat.csv \
        -trace_rtt -rtt_freq 1 -trace_err >"$tmp/sipp.out" 2>&1; echo $? >"$tmp/sipp.rc") &
    sipp_job=$!
    probe_out="$OUT_DIR/$label-probes-$stamp.json"
    probe_rate=$(python3 -c "print(max(1.0, $probes/max($ramp, 1.0)))")
    timeout 120 "$CALLER" --target "127.0.0.1:$SIP_PORT" --number 100 --calls "$probes" \
      --rate "$probe_rate" --hold 26 --keys 1 --label "$label-probes" >"$probe_out" &
    probe_job=$!
    window_out="$OUT_DIR/$label-server-$stamp.json"
    timeout 120 "$WINDOW" --pid "$SERVER_PID" --after "$after" --window "$window" \
      --calls "$((calls + probes))" --baseline-rss-kib "$baseline" >"$window_out"
    wait "$probe_job" || true
    wait "$sipp_job" || true
    rc=$(cat "$tmp/sipp.rc" 2>/dev/null || echo "?")
    stat=$(ls "$tmp"/*_rtt.csv 2>/dev/null | head -1 || true)
    sipp_csv="$tmp/sipp_stat.csv"
    summary=$(python3 - "$sipp_csv" "${stat:-}" <<'EOF'
import csv, sys
stat, rtt = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(stat), delimiter=';'))
head, last = rows[0], rows[-1]
get = lambda name: last[head.index(name)] if name in head else '?'
out = {k: get(k) for k in ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)",
                             "FailedCallRejected(C)", "FailedMaxUDPRetrans(C)", "FailedUnexpectedMessage(C)",
                             "Retransmissions(C)", "DeadCallMsgs(C)")}
times = []
if rtt:
    for row in csv.reader(open(rtt), delimiter=';'):
        try:
            times.append(float(row[1]))
        except (ValueError, IndexError):
            pass
times.sort()
pct = lambda p: times[max(0, min(len(times) - 1, -(-len(times) * p // 100) - 1))] if times else None
out.update(rtd_count=len(times), invite_to_200_p50_ms=pct(50), invite_to_200_p95_ms=pct(95), invite_to_200_p99_ms=pct(99))
print(" ".join(f"{k}={v}" for k, v in out.items()))
EOF
)
    cp "$sipp_csv" "$OUT_DIR/$label-sipp-stat-$stamp.csv" 2>/dev/null || true
    echo "sipp exit=$rc $summary"
    jq -r '["server", "load", .load_average.start, .load_average.end, "window_s", .window.window_s,
            "cpu_us_per_call_s", .window.cpu_us_per_call_second, "cores", .window.cores,
            "rss_kib_per_call", .rss_per_call_kib, "peak_fds", .peak_fds] | map(tostring) | join(" ")' "$window_out"
    jq -r '["probes", "SER", .sip.session_establishment_ratio, "failed", (.sip.failures|tostring),
            "late20", .media.late_over_20ms, "late5", .media.late_over_5ms, "of", .media.packets,
            "lateness_p99_max_ms", .media.lateness_ms.p99, .media.lateness_ms.max,
            "jitter_p50_p95_ms", .media.jitter_ms_end_of_call.p50, .media.jitter_ms_end_of_call.p95,
            "gaps", .media.sequence_gaps] | map(tostring) | join(" ")' "$probe_out"
    ;;
  bridged)
    calls=${1:?CALLS}; rate=${2:?RATE}; hold=${3:?HOLD}; shift 3
    label=${LABEL:-bridged-$calls-$rate-$hold}
    people_setup "$calls"
    start_server
    staff_out="$OUT_DIR/$label-staff-$stamp.json"
    bound=$(python3 -c "print(int($calls/$rate + $hold + 60))")
    timeout "$((bound + 120))" nice -n "${NICE:-0}" "$STAFF" --target "127.0.0.1:$SIP_PORT" \
      --phones "$calls" --expires 3600 --ready-file "$tmp/ready" --label "$label-staff" \
      "${POLL_ARGS[@]}" >"$staff_out" 2>"$tmp/staff.err" &
    staff_job=$!
    for _ in $(seq 600); do [[ -f "$tmp/ready" ]] && break; sleep 0.1; done
    [[ -f "$tmp/ready" ]] || { echo "the staff phones did not all register" >&2; cat "$tmp/staff.err" >&2; exit 1; }
    sleep 2
    out="$OUT_DIR/$label-$stamp.json"
    timeout "$bound" nice -n "${NICE:-0}" "$CALLER" --target "127.0.0.1:$SIP_PORT" --number 200 --calls "$calls" \
      --rate "$rate" --hold "$hold" --send-rtp full --arrivals poisson --server-pid "$SERVER_PID" \
      --label "$label" "${POLL_ARGS[@]}" "$@" >"$out"
    sleep 1
    kill -TERM "$staff_job" 2>/dev/null || true
    wait "$staff_job" || true
    echo "$out $staff_out"
    jq -r '[.label, "load", .load_average.start, .load_average.end,
            "SER", .sip.session_establishment_ratio, "failed", (.sip.failures|tostring),
            "ended_by_server", .sip.ended_by_server,
            "setup_p50_p95_p99_ms", .sip.invite_to_200_ms.p50, .sip.invite_to_200_ms.p95, .sip.invite_to_200_ms.p99,
            "caller_hears: late20", .media.late_over_20ms, "late5", .media.late_over_5ms, "of", .media.packets,
            "lateness_p99_max_ms", .media.lateness_ms.p99, .media.lateness_ms.max,
            "gaps", .media.sequence_gaps, "without_media", .media.answered_calls_without_media,
            "cpu_us_per_call_s_steady_whole", .server.steady.cpu_us_per_call_second, .server.whole_run.cpu_us_per_call_second,
            "cores", .server.steady.cores, "rss_kib_per_call", .server.rss_per_call_kib,
            "fds_per_call", .server.fds_per_call, "udp_rcvbuf_errors", .udp_counters.rcvbuf_errors]
           | map(tostring) | join(" ")' "$out"
    jq -r '["staff", "invites", .calls.invites, "answered", .calls.answered, "byes", .calls.byes,
            "busy_486", .calls.second_calls_to_a_busy_phone, "peak_live", .calls.peak_live,
            "staff_hears: packets", .media.packets, "late20", .media.late_over_20ms, "late5", .media.late_over_5ms,
            "lateness_p99_ms", .media.lateness_ms.p99, "gaps", .media.sequence_gaps,
            "rtp_sent", .media.rtp_sent, "sender_tick_late_p99_max_ms", .media.sender_tick_late_ms.p99,
            .media.sender_tick_late_ms.max] | map(tostring) | join(" ")' "$staff_out"
    echo "server log WARN/ERROR lines: $(grep -cE 'WARN|ERROR' "$tmp/server.log" || true)"
    ;;
  conference)
    rooms=${1:?ROOMS}; size=${2:?SIZE}; hold=${3:?HOLD}; shift 3
    label=${LABEL:-conference-$rooms-$size-$hold}
    mkdir -p "$tmp/flows"
    python3 - "$rooms" "$tmp" <<'EOF'
import sys
rooms, tmp = int(sys.argv[1]), sys.argv[2]
with open(f"{tmp}/flows/rooms.flow", "w") as f:
    f.write('// Generated by bench/load.sh: one conference room per number 500...\n')
    for r in range(rooms):
        f.write(f'flow stanza{r} answers "{500 + r}" {{\n  language it\n  max duration 30m\n'
                f'  sala: conference "stanza{r}" pin "1234" -> fine\n'
                f'  fine: hangup\n}}\n\n')
EOF
    FLOWS=$tmp/flows
    NO_WARM_UP=1
    start_server
    # The prompts (PIN, welcome) rendered once before the measured calls.
    timeout 60 "$CALLER" --target "127.0.0.1:$SIP_PORT" --number 500 --calls 1 --hold 10 --keys 1234 \
      --key-delay-ms 1000 --key-gap-ms 300 --label warm-up >/dev/null 2>&1 || true
    calls=$((rooms * size))
    rate=${RATE:-20}
    bound=$(python3 -c "print(int($calls/$rate + $hold + 90))")
    out="$OUT_DIR/$label-$stamp.json"
    timeout "$bound" nice -n "${NICE:-0}" "$CALLER" --target "127.0.0.1:$SIP_PORT" --number 500 \
      --number-spread "$rooms" --calls "$calls" --rate "$rate" --hold "$hold" --send-rtp full \
      --keys 1234 --key-delay-ms 1000 --key-gap-ms 300 --settle 12 --server-pid "$SERVER_PID" \
      --label "$label" "$@" >"$out"
    echo "$out"
    echo "joined: $(grep -c 'conference: joined' "$tmp/server.log" || true) of $calls (+1 warm-up); moved by re-INVITE: $(grep -c 'moving the caller' "$tmp/server.log" || true); not moved: $(grep -c 'could not be moved' "$tmp/server.log" || true)"
    jq -r '[.label, "load", .load_average.start, .load_average.end,
            "SER", .sip.session_establishment_ratio, "failed", (.sip.failures|tostring),
            "ended_by_server", .sip.ended_by_server, "reinvites", .caller_media.reinvites_answered,
            "hears: late20", .media.late_over_20ms, "late5", .media.late_over_5ms, "of", .media.packets,
            "lateness_p99_max_ms", .media.lateness_ms.p99, .media.lateness_ms.max,
            "gaps", .media.sequence_gaps, "without_media", .media.answered_calls_without_media,
            "cpu_us_per_participant_s_steady_whole", .server.steady.cpu_us_per_call_second, .server.whole_run.cpu_us_per_call_second,
            "cores", .server.steady.cores,
            "media_threads_us_per_participant_s", ([.server.steady_us_per_call_second_by_thread | to_entries[] | select(.key|startswith("media")) | .value] | add),
            "rss_kib_per_participant", .server.rss_per_call_kib, "udp_rcvbuf_errors", .udp_counters.rcvbuf_errors]
           | map(tostring) | join(" ")' "$out"
    echo "server log WARN/ERROR lines: $(grep -cE 'WARN|ERROR' "$tmp/server.log" || true)"
    ;;
  register)
    phones=${1:?PHONES}; interval=${2:?INTERVAL}; duration=${3:?DURATION}; shift 3
    label=${LABEL:-register-$phones-$interval-$duration}
    people_setup "$phones"
    start_server
    expires=$(python3 -c "print(max(60, int(2 * $interval)))")
    out="$OUT_DIR/$label-$stamp.json"
    timeout "$(python3 -c "print(int($duration + 120))")" nice -n "${NICE:-0}" "$STAFF" \
      --target "127.0.0.1:$SIP_PORT" --phones "$phones" --interval "$interval" --expires "$expires" \
      --duration "$duration" --server-pid "$SERVER_PID" --label "$label" "$@" >"$out"
    echo "$out"
    jq -r '[.label, "load", .load_average.start, .load_average.end,
            "registered_once", .registrations.phones_registered_once,
            "refreshes_ok_failed", .registrations.refreshes_ok, .registrations.refreshes_failed,
            "answers_200_401", .registrations.answers_200, .registrations.answers_401,
            "other", (.registrations.answers_other|tostring), "timeouts", .registrations.timeouts,
            "retransmissions", .registrations.retransmissions,
            "transaction_ms_p50_p95_p99_max", .registrations.transaction_ms.p50, .registrations.transaction_ms.p95,
            .registrations.transaction_ms.p99, .registrations.transaction_ms.max,
            "answers_per_s_steady_mean_max", .registrations.answers_per_second_steady.mean,
            .registrations.answers_per_second_steady.max,
            "server_cores_steady_whole", .server.steady.cores, .server.whole_run.cores,
            "us_per_phone_s", .server.steady.cpu_us_per_call_second,
            "rss_kib_base_peak_per_phone", .server.baseline_rss_kib, .server.peak_rss_kib, .server.rss_per_phone_kib]
           | map(tostring) | join(" ")' "$out"
    echo "server log WARN/ERROR lines: $(grep -cE 'WARN|ERROR' "$tmp/server.log" || true)"
    ;;
  dialer)
    requests=${1:?REQUESTS}; phones=${2:?STAFF}; hold=${3:?HOLD}; shift 3
    label=${LABEL:-dialer-$requests-$phones-$hold}
    people_setup "$phones"
    gateway_port=$(free_port)
    cat >>"$tmp/centralino.toml" <<EOF

[trunk]
uri = "sip:{number}@127.0.0.1:$gateway_port"

[dialer]
# Every staff member of the office may have a callback at once; a request nobody could take
# (a phone busy) is offered again after a second.
per_office = $phones
skip_delay_s = 1

[api]
requests_per_minute = 100000
EOF
    "$BIN" tokens add bench --scope callbacks:read,callbacks:write --data "$tmp/data" >"$tmp/token.out"
    token=$(grep -o 'ctk_[0-9A-Za-z_]*' "$tmp/token.out" | head -1)
    [[ -n "$token" ]] || { echo "no API token" >&2; cat "$tmp/token.out" >&2; exit 1; }
    HTTP_PORT=$(free_tcp_port)
    start_server
    # The requests, asked for before any staff phone is registered: the dialer sees them all
    # pending and can work none until the phones come. Numbers 0755000000.. (Perugia landlines).
    python3 - "$HTTP_PORT" "$token" "$requests" <<'EOF'
import json, sys, time, urllib.request
port, token, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = f"http://127.0.0.1:{port}/api/v1/callbacks"
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2)
        break
    except OSError:
        time.sleep(0.1)
for i in range(requests):
    body = json.dumps({"office": "banco", "phone": f"0755{i:06d}", "note": f"richiesta {i}"}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        if answer.status != 201:
            sys.exit(f"callback {i}: HTTP {answer.status}")
EOF
    # The dialer's ticks with every request pending and nobody to call (no staff registered):
    # the server's CPU over IDLE_S seconds (default 10) before the phones start.
    cp "/proc/$SERVER_PID/stat" "$tmp/idle.before"
    sleep "${IDLE_S:-10}"
    cp "/proc/$SERVER_PID/stat" "$tmp/idle.after"
    staff_out="$OUT_DIR/$label-staff-$stamp.json"
    bound=$(python3 -c "print(int($requests / $phones * ($hold + 30) + 120))")
    # The server's CPU including its children's (espeak-ng, run once per briefing: each one
    # names its request, so none comes from the prompt cache), before and after.
    cp "/proc/$SERVER_PID/stat" "$tmp/stat.before"
    started=$(date +%s.%N)
    timeout "$((bound + 30))" nice -n "${NICE:-0}" "$STAFF" --target "127.0.0.1:$SIP_PORT" \
      --phones "$phones" --expires 3600 --duration "$bound" --gateway "127.0.0.1:$gateway_port" \
      --gateway-hold "$hold" --keys 1 --key-delay-ms 300 --key-every-ms 1000 \
      --server-pid "$SERVER_PID" --label "$label" "$@" >"$staff_out" 2>"$tmp/staff.err" &
    staff_job=$!
    # Until every request had its attempt (the dialer logs each one's end).
    for _ in $(seq "$((bound * 2))"); do
      over=$(grep -c 'callback attempt over' "$tmp/server.log" || true)
      [[ "$over" -ge "$requests" ]] && break
      kill -0 "$staff_job" 2>/dev/null || break
      sleep 0.5
    done
    sleep 1
    cp "/proc/$SERVER_PID/stat" "$tmp/stat.after"
    ended=$(date +%s.%N)
    kill -TERM "$staff_job" 2>/dev/null || true
    wait "$staff_job" || true
    store_out="$OUT_DIR/$label-callbacks-$stamp.json"
    "$BIN" callbacks list --json --data "$tmp/data" >"$store_out"
    log_out="$OUT_DIR/$label-server-$stamp.log"
    grep -E 'dialer|callback' "$tmp/server.log" >"$log_out" || true
    echo "$staff_out $store_out $log_out"
    python3 "$ROOT/bench/dialer_report.py" --started "$started" --ended "$ended" --requests "$requests" \
      --hold "$hold" --staff "$staff_out" --store "$store_out" --log "$tmp/server.log" \
      --stat-before "$tmp/stat.before" --stat-after "$tmp/stat.after" \
      --idle-before "$tmp/idle.before" --idle-after "$tmp/idle.after" --idle-s "${IDLE_S:-10}" | tee "$OUT_DIR/$label-report-$stamp.json"
    echo "server log WARN/ERROR lines: $(grep -cE 'WARN|ERROR' "$tmp/server.log" || true)"
    ;;
  *)
    sed -n '2,61p' "$0" >&2
    exit 2
    ;;
esac

