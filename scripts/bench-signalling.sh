#!/usr/bin/env bash
# SIP signalling benchmark for hotline (on demand, not run by CI).
#
#   scripts/bench-signalling.sh
#
# Builds the release binary, starts `hotline serve` on 127.0.0.1 pinned to one core,
# and drives it with SIPp's built-in `uac` scenario (INVITE, 100/180 optional, 200, ACK,
# BYE, 200; -d 0) pinned to another core, at rising call rates. For each rate it prints
# successful/failed calls, SIPp retransmissions, p50/p99 INVITE->200 response time,
# hotline's CPU use (% of one core) and its VmRSS; at the end, the highest rate that had
# no failed call, no retransmission and all calls completed.
#
# Needs: sipp (Debian package sip-tester), taskset, timeout, awk; two cores for pinning.
#
# Environment (all optional):
#   HOTLINE_BENCH_RATES="250 500 ..."  call rates (calls/s); default 250 500 1000 1500 2000 2500 3000 4000
#   HOTLINE_BENCH_SECONDS=5            seconds of traffic per rate (calls = rate * seconds)
#   HOTLINE_BENCH_PORT / HOTLINE_BENCH_SIPP_PORT   SIP ports of hotline / of SIPp (default: free ones)
#   HOTLINE_BENCH_SERVER_CPU=0 / HOTLINE_BENCH_SIPP_CPU=1   cores to pin to
#   HOTLINE_BENCH_MAX_OPEN             SIPp -l (max open calls); default max(1000, 4*rate)
#   HOTLINE_BENCH_SKIP_BUILD=1         do not run cargo build
#   HOTLINE_BIN=path                   server binary (default target/release/hotline)
#   HOTLINE_BENCH_KEEP=1               keep the temp dir (sipp stat/rtt files, hotline.log)
#   RUST_LOG                           passed to hotline; default "warn" so logging stays out of the numbers
set -euo pipefail

# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench-lib.sh"


RATES=${HOTLINE_BENCH_RATES:-"250 500 1000 1500 2000 2500 3000 4000"}
SECS=${HOTLINE_BENCH_SECONDS:-5}
SERVER_CPU=${HOTLINE_BENCH_SERVER_CPU:-0}
SIPP_CPU=${HOTLINE_BENCH_SIPP_CPU:-1}

[[ "$SECS" =~ ^[1-9][0-9]*$ ]] || die "HOTLINE_BENCH_SECONDS must be a positive integer"
for r in $RATES; do [[ "$r" =~ ^[1-9][0-9]*$ ]] || die "bad rate '$r' in HOTLINE_BENCH_RATES"; done
command -v sipp >/dev/null 2>&1 || die "sipp not found (Debian: apt-get install sip-tester)"
for tool in taskset timeout awk sort getconf; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# Pinning: only if both cores exist.
SERVER_PIN=(taskset -c "$SERVER_CPU")
SIPP_PIN=(taskset -c "$SIPP_CPU")
if ! taskset -c "$SERVER_CPU" true 2>/dev/null || ! taskset -c "$SIPP_CPU" true 2>/dev/null; then
    say "WARNING: cannot pin to cores $SERVER_CPU and $SIPP_CPU; running unpinned"
    SERVER_PIN=()
    SIPP_PIN=()
fi

PORT=${HOTLINE_BENCH_PORT:-$(free_port 15060)}
SIPP_PORT=${HOTLINE_BENCH_SIPP_PORT:-$(free_port 15070)}
[[ "$PORT" != "$SIPP_PORT" ]] || SIPP_PORT=$((PORT + 1))

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hotline-bench.XXXXXX")
SERVER_PID=""
SIPP_PID=""
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do       # up to 10 s for a graceful stop
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            say "hotline did not stop within 10 s of SIGTERM; SIGKILL"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n "$SIPP_PID" ]]; then
        kill -TERM "$SIPP_PID" 2>/dev/null || true     # timeout(1) passes it on to sipp
        wait "$SIPP_PID" 2>/dev/null || true
    fi
    stop_server
    keep_or_remove_tmp
    exit "$rc"
}
trap_cleanup



# Percentile P (0-100) of the response_time_ms column of SIPp -trace_rtt files
# (header "Date_ms;response_time_ms;rtd_no"); nearest-rank method. Prints "-" if empty.
rtt_percentile() {
    local p=$1; shift
    awk -F';' 'FNR > 1 && $2 != "" { print $2 }' "$@" 2>/dev/null | sort -n | awk -v p="$p" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "-"; exit }
            i = int(NR * p / 100); if (i < NR * p / 100) i++; if (i < 1) i = 1
            print v[i]
        }'
}

server_alive() { [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

# ---------------------------------------------------------------- build + start
if [[ "${HOTLINE_BENCH_SKIP_BUILD:-}" != 1 ]]; then
    say "cargo build --release"
    cargo build --release
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"

say "starting $BIN serve on 127.0.0.1:$PORT (core ${SERVER_CPU}); log: $TMP/hotline.log"
RUST_LOG=${RUST_LOG:-warn} "${SERVER_PIN[@]}" "$BIN" serve \
    --sip-listen "127.0.0.1:$PORT" \
    --rtp-ports 20000-29999 \
    --database "sqlite://$TMP/bench.db" \
    --ring-delay-ms 0 \
    </dev/null >"$TMP/hotline.log" 2>&1 &
SERVER_PID=$!      # taskset execs the binary: this is hotline's own pid

# Ready when one SIPp call completes: at most 40 tries of <= 3 s each, and 60 s in all.
mkdir -p "$TMP/probe"
ready=0
deadline=$((SECONDS + 60))
for ((try = 1; try <= 40 && SECONDS < deadline; try++)); do
    server_alive || { tail -n 30 "$TMP/hotline.log" >&2; die "hotline exited during start-up"; }
    if (cd "$TMP/probe" && timeout -k 1 3 sipp "127.0.0.1:$PORT" -sn uac -i 127.0.0.1 -p "$SIPP_PORT" \
            -m 1 -d 0 -nostdin -timeout 2s -recv_timeout 2000 -max_retrans 2 \
            </dev/null >/dev/null 2>&1); then
        ready=1
        break
    fi
    sleep 0.5
done
((ready)) || { tail -n 30 "$TMP/hotline.log" >&2; die "hotline did not complete a test call within 60 s"; }
say "hotline answers (after $try probe call(s)); pid $SERVER_PID, $SECS s of traffic per rate"

# ---------------------------------------------------------------- runs
printf '\n%6s %8s %8s %7s %7s %8s %8s %8s %7s %9s  %s\n' \
    rate achieved calls ok failed retrans p50_ms p99_ms cpu% rss_MiB note
best_rate=""
best_p99=""
for rate in $RATES; do
    server_alive || { say "hotline is gone; stopping"; tail -n 30 "$TMP/hotline.log" >&2; break; }
    calls=$((rate * SECS))
    max_open=${HOTLINE_BENCH_MAX_OPEN:-$((rate * 4 > 1000 ? rate * 4 : 1000))}
    limit=$((SECS + 60))                       # sipp's own -timeout; timeout(1) is a backstop
    dir=$TMP/rate-$rate
    mkdir -p "$dir"

    t0=$(now_ns)
    c0=$(proc_ticks "$SERVER_PID" || echo 0)
    # In the background + wait, so that ctrl-c / TERM reach the cleanup trap at once.
    (cd "$dir" && exec timeout -k 5 $((limit + 15)) "${SIPP_PIN[@]}" sipp "127.0.0.1:$PORT" \
        -sn uac -i 127.0.0.1 -p "$SIPP_PORT" \
        -r "$rate" -m "$calls" -d 0 -l "$max_open" \
        -buff_size 4194304 -max_recv_loops 10000 -max_sched_loops 10000 \
        -nostdin -timeout "${limit}s" \
        -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 \
        </dev/null >sipp.out 2>sipp.err) &
    SIPP_PID=$!
    rc=0
    wait "$SIPP_PID" || rc=$?
    SIPP_PID=""
    c1=$(proc_ticks "$SERVER_PID" || echo "$c0")
    t1=$(now_ns)
    rss_kb=$(proc_status_kb "$SERVER_PID" VmRSS)

    ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    retrans=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
    achieved=$(stat_col "$dir/stat.csv" 'CallRate(C)')
    shopt -s nullglob
    rtt_files=("$dir"/*_rtt.csv)
    shopt -u nullglob
    if ((${#rtt_files[@]})); then
        p50=$(rtt_percentile 50 "${rtt_files[@]}")
        p99=$(rtt_percentile 99 "${rtt_files[@]}")
    else
        p50=-; p99=-
    fi
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
        'BEGIN { if (ns <= 0) print "?"; else printf "%.1f", 100 * d / hz / (ns / 1e9) }')
    rss=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')

    note=""
    case $rc in
        0 | 1) ;;                               # 1: some call failed; the counts say so
        124 | 137) note="sipp killed after $((limit + 15)) s" ;;
        *) note="sipp exit $rc (see $dir/sipp.err)" ;;
    esac
    server_alive || note="${note:+$note; }hotline died"
    printf '%6s %8s %8s %7s %7s %8s %8s %8s %7s %9s  %s\n' \
        "$rate" "$achieved" "$calls" "$ok" "$failed" "$retrans" "$p50" "$p99" "$cpu" "$rss" "$note"

    if [[ "$ok" == "$calls" && "$failed" == 0 && "$retrans" == 0 ]]; then
        best_rate=$rate
        best_p99=$p99
    fi
    sleep 1                                     # let the last calls' state drain
done

echo
if [[ -n "$best_rate" ]]; then
    say "highest clean rate (all calls ok, 0 failed, 0 retransmissions): $best_rate calls/s, p99 $best_p99 ms"
else
    say "no rate ran clean (all calls ok, 0 failed, 0 retransmissions)"
fi
say "stopping hotline (SIGTERM)"
stop_server
