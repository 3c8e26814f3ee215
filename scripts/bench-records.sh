#!/usr/bin/env bash
# Call-record throughput benchmark for hotline (on demand, not run by CI).
#
#   scripts/bench-records.sh
#
# For SQLite (synchronous=FULL, as shipped) and PostgreSQL, starts `hotline serve` on
# 127.0.0.1 pinned to one core with a goodbye-only dial plan (every call is answered,
# written and hung up by the caller) and drives it with SIPp's built-in `uac` (-d 0: INVITE,
# 200, ACK, BYE, 200) pinned to the other core, at rising call rates. After each run hotline
# is stopped with SIGTERM (which flushes the records) and the database is read back:
#
#   ok        SIPp's successful calls
#   records   rows in `calls`
#   lost      successful calls without a row (must be 0)
#   other     rows not complete as SIPp saw the call (answered, ended caller_bye): under
#             overload an end may differ from what SIPp counted (e.g. ack_timeout)
#   rec/s     complete rows / (last caller_bye end - first arrival), from the records' times
#   writes/s  5 writes per call (arrival, answer, IVR columns, RTP counts, end) at that rate
#   lag s     after SIPp's last call, seconds until the calls SIPp completed all have their
#             end committed: well above 0 means the record writer did not keep up
#   cpu s     hotline's CPU time (user + system) until then
#
# Needs: sipp (sip-tester), sqlite3, taskset, timeout; for PostgreSQL, psql and either
# HOTLINE_BENCH_POSTGRES_URL or a local PostgreSQL install (initdb), from which a throw-away
# cluster is started in a temp dir (fsync on, as in production) and deleted at the end.
#
# Environment (all optional):
#   HOTLINE_BENCH_RATES="1000 2000 ..."   call rates (calls/s); default 1000 2000 3000 5000
#   HOTLINE_BENCH_SECONDS=5               seconds of traffic per rate
#   HOTLINE_BENCH_BACKENDS="sqlite postgres"
#   HOTLINE_BENCH_POSTGRES_URL=postgres://...   use this server (each run gets its own database)
#   HOTLINE_BENCH_SERVER_CPU=0 / HOTLINE_BENCH_SIPP_CPU=1
#   HOTLINE_BENCH_SKIP_BUILD=1            do not run cargo build
#   HOTLINE_BIN=path                      server binary (default target/release/hotline)
#   HOTLINE_BENCH_KEEP=1                  keep the temp dir
set -euo pipefail

# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench-lib.sh"


RATES=${HOTLINE_BENCH_RATES:-"1000 2000 3000 5000"}
SECS=${HOTLINE_BENCH_SECONDS:-5}
BACKENDS=${HOTLINE_BENCH_BACKENDS:-"sqlite postgres"}
SERVER_CPU=${HOTLINE_BENCH_SERVER_CPU:-0}
SIPP_CPU=${HOTLINE_BENCH_SIPP_CPU:-1}

for r in $RATES; do [[ "$r" =~ ^[1-9][0-9]*$ ]] || die "bad rate '$r'"; done
for tool in sipp sqlite3 timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
SERVER_PIN=(taskset -c "$SERVER_CPU")
SIPP_PIN=(taskset -c "$SIPP_CPU")
if ! command -v taskset >/dev/null 2>&1 || ! taskset -c "$SERVER_CPU" true 2>/dev/null \
        || ! taskset -c "$SIPP_CPU" true 2>/dev/null; then
    say "WARNING: cannot pin to cores $SERVER_CPU and $SIPP_CPU; running unpinned"
    SERVER_PIN=()
    SIPP_PIN=()
fi


TMP=$(mktemp -d "${TMPDIR:-/tmp}/hotline-bench-records.XXXXXX")
SERVER_PID=""
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 600; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    stop_server
    pg_stop
    keep_or_remove_tmp
    exit "$rc"
}
trap_cleanup

# ---------------------------------------------------------------- PostgreSQL
PG_URL=${HOTLINE_BENCH_POSTGRES_URL:-}
if [[ " $BACKENDS " == *" postgres "* && -z "$PG_URL" ]]; then
    command -v psql >/dev/null 2>&1 || die "psql not found (PostgreSQL client)"
    pg_start "$TMP" || die "could not start a throw-away PostgreSQL (set HOTLINE_BENCH_POSTGRES_URL)"
    say "postgres: throw-away cluster at $PG_URL (fsync on)"
fi

# ---------------------------------------------------------------- build
if [[ "${HOTLINE_BENCH_SKIP_BUILD:-}" != 1 ]]; then
    say "cargo build --release --bins"
    cargo build --release --bins
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"
# A dial plan that only says goodbye (the records, not the IVR, are measured); SIPp hangs up
# first.
mkdir -p "$TMP/plans"
cat >"$TMP/plans/bench.toml" <<'EOF'
name = "bench"
numbers = ["*"]
language = "zh-CN"
time_zone = "Asia/Shanghai"
start = "bye"

[calendar]

[nodes.bye]
kind = "hangup"
prompts = ["goodbye"]
EOF

# Prints the seconds until the database at $1 holds at least $2 ended calls (at most 120).
settle() {
    local q="SELECT COUNT(*) FROM calls WHERE ended_at IS NOT NULL" started n i
    started=$(now_ns)
    for ((i = 0; i < 600; i++)); do
        case $1 in
            sqlite://*) n=$(sqlite3 "${1#sqlite://}" "$q" 2>/dev/null || echo 0) ;;
            *) n=$(psql "$1" -XAtqc "$q" || echo 0) ;;
        esac
        ((n >= $2)) && break
        sleep 0.2
    done
    awk -v a="$started" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

# ---------------------------------------------------------------- runs
printf '\n%-8s %6s %7s %7s %7s %5s %5s %9s %9s %5s %5s  %s\n' backend rate calls ok records lost \
    other rec/s writes/s "lag s" "cpu s" note
run=0
for backend in $BACKENDS; do
    for rate in $RATES; do
        run=$((run + 1))
        calls=$((rate * SECS))
        dir=$TMP/$backend-$rate-$run
        mkdir -p "$dir"
        case $backend in
            sqlite) url="sqlite://$dir/bench.db" ;;
            postgres)
                db="bench_${run}_$$"
                base=${PG_URL%/*}
                psql "$PG_URL" -XAtqc "CREATE DATABASE $db" >/dev/null
                url="$base/$db"
                ;;
            *) die "unknown backend $backend" ;;
        esac
        port=$(free_port 15060)
        sipp_port=$(free_port 15070)
        [[ "$port" != "$sipp_port" ]] || sipp_port=$((port + 1))
        RUST_LOG=warn "${SERVER_PIN[@]}" "$BIN" serve --sip-listen "127.0.0.1:$port" \
            --rtp-ports 20000-29999 --database "$url" --ring-delay-ms 0 \
            --dialplans "$TMP/plans" --prompts "$ROOT/prompts" --rtp-timeout-secs 0 \
            </dev/null >"$dir/hotline.log" 2>&1 &
        SERVER_PID=$!
        for ((i = 0; i < 100; i++)); do grep -q "listening on sip" "$dir/hotline.log" && break; sleep 0.1; done
        grep -q "listening on sip" "$dir/hotline.log" || { cat "$dir/hotline.log" >&2; die "hotline did not start"; }
        sleep 0.5
        limit=$((SECS + 60))
        (cd "$dir" && timeout -k 5 $((limit + 15)) "${SIPP_PIN[@]}" sipp "127.0.0.1:$port" \
            -sn uac -i 127.0.0.1 -p "$sipp_port" -r "$rate" -m "$calls" -d 0 \
            -l $((rate * 4 > 1000 ? rate * 4 : 1000)) \
            -buff_size 4194304 -max_recv_loops 10000 -max_sched_loops 10000 \
            -nostdin -timeout "${limit}s" -trace_stat -stf stat.csv -fd 1 \
            </dev/null >sipp.out 2>sipp.err) || true
        ok=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i; next }
                        NF > 1 { last = $0 } END { split(last, f, ";"); print (c ? f[c] : "?") }' "$dir/stat.csv" 2>/dev/null || echo "?")
        lag="-"
        [[ "$ok" =~ ^[0-9]+$ ]] && lag=$(settle "$url" "$ok")
        ticks=$(proc_ticks "$SERVER_PID" || echo 0)
        cpu=$(awk -v t="$ticks" -v c="$CLK_TCK" 'BEGIN { printf "%.1f", t / c }')
        stop_server
        read -r records complete first last < <(calls_read_back "$url")
        lost="?"
        [[ "$ok" =~ ^[0-9]+$ ]] && lost=$((ok > records ? ok - records : 0))
        other=$((records - complete))
        rps=$(calls_rate "$complete" "$first" "$last")
        wps=$(awk -v r="$rps" 'BEGIN { if (r == "-") print "-"; else printf "%.0f", 5 * r }')
        note=""
        grep -q "panicked\|ERROR" "$dir/hotline.log" && note="errors in hotline.log"
        if ((other > 0)); then
            note="${note:+$note; }other: $(case $url in
                sqlite://*) sqlite3 "${url#sqlite://}" "SELECT GROUP_CONCAT(c || ' ' || n, ', ') FROM \
                    (SELECT COALESCE(end_cause, 'open') AS c, COUNT(*) AS n FROM calls \
                     WHERE end_cause IS NOT 'caller_bye' GROUP BY 1)" ;;
                *) psql "$url" -XAtqc "SELECT string_agg(c || ' ' || n, ', ') FROM \
                    (SELECT COALESCE(end_cause, 'open') AS c, COUNT(*) AS n FROM calls \
                     WHERE end_cause IS DISTINCT FROM 'caller_bye' GROUP BY 1) t" ;;
            esac)"
        fi
        printf '%-8s %6s %7s %7s %7s %5s %5s %9s %9s %5s %5s  %s\n' \
            "$backend" "$rate" "$calls" "$ok" "$records" "$lost" "$other" "$rps" "$wps" "$lag" \
            "$cpu" "$note"
        if [[ $backend == postgres ]]; then
            psql "$PG_URL" -XAtqc "DROP DATABASE IF EXISTS $db" >/dev/null || true
        fi
    done
done
