#!/usr/bin/env bash
# Cluster benchmark for hotline: two nodes behind the Kamailio edge, compared with one node
# direct (on demand, not run by CI).
#
#   scripts/bench-cluster.sh
#
# Every part runs in two modes (HOTLINE_BENCH_MODES):
#   direct  one `hotline serve` without cluster flags, on PostgreSQL, on 127.0.0.11 pinned
#           to core 0; SIPp sends straight to it, pinned to core 1 (as bench-signalling.sh);
#   edge    Kamailio (deploy/kamailio/kamailio.cfg, launched as tests/common/kamailio.rs
#           does) on 127.0.0.10 and two nodes (--node-id a/b --edge) on 127.0.0.11 and
#           127.0.0.12, node a pinned to core 0 and node b to core 1; Kamailio, SIPp and
#           PostgreSQL unpinned, sharing both cores with the nodes.
# Each deployment gets a fresh database (hotline migrate, deploy/kamailio/usrloc.sql),
# dropped afterwards, and must complete probe calls (through the edge: on both nodes)
# before it is measured.
#
# 1. signalling: SIPp at rising rates for SECONDS each, -d 0 (INVITE, 200, ACK, BYE, 200).
#    Direct: SIPp's built-in `uac`. Through the edge: tests/sipp/edge_call.xml, because the
#    built-in uac sends its BYE without the Record-Route set and the edge answers a BYE
#    without Route with 404. Nodes run the shipped dial plan (dialplans/), as in
#    bench-signalling.sh.
#      achieved        SIPp's CallRate(C) (calls started per second)
#      ok/failed/retrans  SIPp's SuccessfulCall(C) (of rate * SECONDS calls), FailedCall(C),
#                      Retransmissions(C). Through the edge, Kamailio answers 100 Trying
#                      itself, so SIPp retransmits only when Kamailio is slow; a slow node
#                      shows as setup_ms, as the edge's own retransmissions (not counted)
#                      and, after 1.5 s without an answer, as failover to the other node
#                      (note: "edge marked a node down")
#      setup_ms        SIPp's mean INVITE -> 200 time, ResponseTime1(C)
#      a% b% edge% pg% sipp%   CPU of node a (the single node in direct mode), node b,
#                      Kamailio (all its processes), PostgreSQL (all its processes; only
#                      when this script started it) and SIPp, in % of one core, from
#                      /proc/PID/stat over SIPp's run
#      box%            both cores' busy time over the run (200 = both busy); other% = box
#                      minus the processes above: other work on the machine (builds,
#                      tests; with HOTLINE_BENCH_POSTGRES_URL, PostgreSQL too)
#    "highest clean rate": all calls ok, 0 failed, 0 retransmissions, no node lost or
#    marked down by the edge, and SIPp kept up (achieved >= 90% of the rate).
# 2. ivr: long calls with audio both ways. For each level L, L callers at L/RAMP calls/s
#    (tests/sipp/edge_call.xml in both modes, SIPp echoing hotline's audio with -rtp_echo)
#    hold HOLD ms. The dial plan is tests/fixtures/queue-plan.toml with a queue "general"
#    that keeps callers waiting with no agent: please_hold, then hold music and position
#    announcements. Nodes run with --rtp-timeout-secs RTP_TIMEOUT: a call whose audio
#    stops coming back is hung up by hotline and fails at SIPp. Once all calls should be
#    up (ramp + 2 s) the calls open in the database are counted and CPU is measured over
#    a window of up to WINDOW s.
#      open            rows in `calls` not yet ended at the window's start, split per node
#                      (a row is written at arrival: a writer running behind shows fewer;
#                      the note gives SIPp's own count when it differs)
#      ok/failed       SIPp's counts at the end; "held" = every call ok and open at once
#    Same CPU columns, over the window.
# 3. records: RECORDS_RATE calls/s offered (-d 0, as in part 1) for RECORDS_SECONDS, the
#    issue's 5,000 calls/s. Rows in `calls` are counted every 0.5 s while it runs and until
#    the writer has caught up; then the nodes are stopped (SIGTERM flushes the writer) and
#    the records read back as scripts/bench-records.sh does (calls_read_back).
#      offered/achieved  calls/s asked of SIPp / SIPp's CallRate(C) (one SIPp and, through
#                      the edge, one Kamailio on two cores fall well short of 5,000)
#      created/ok      calls SIPp started / completed
#      rows, lost      rows in `calls`; lost = ok - distinct Call-IDs among them, when
#                      positive (must be 0). A call the edge failed over (no answer from a
#                      node within 1.5 s) may have a row on both nodes.
#      complete        rows answered and ended caller_bye
#      ins/s end/s     peak rows inserted / rows ended per second between samples
#      db/s            rows ended in the database per second, from SIPp's start until the
#                      ended count last grew: what the writers sustained
#      rec/s           complete / (last caller_bye end - first arrival) from the records'
#                      own times, bench-records.sh's figure: the rate calls were handled,
#                      however late their rows were written
#      backlog, drain_s  rows not yet ended in the database when SIPp finished, and the
#                      seconds until the ended count stopped growing (all ended, or 5 s
#                      without progress, or 120 s; then the nodes are stopped)
#
# Needs: sipp (sip-tester), kamailio and kamailio-postgres-modules, psql and either
# HOTLINE_BENCH_POSTGRES_URL or a local PostgreSQL install (initdb: a throw-away cluster
# with fsync on is started in the temp dir, as bench-records.sh does), taskset, timeout,
# awk; two cores for pinning.
#
# Environment (all optional):
#   HOTLINE_BENCH_PARTS="signalling ivr records"   parts to run
#   HOTLINE_BENCH_MODES="direct edge"
#   HOTLINE_BENCH_RATES="200 400 800 1200"   signalling rates (calls/s)
#   HOTLINE_BENCH_SECONDS=5                  seconds of traffic per signalling rate
#   HOTLINE_BENCH_IVR_LEVELS="250 500 1000"  concurrent calls per IVR level
#   HOTLINE_BENCH_HOLD_MS=30000              SIPp -d for IVR calls
#   HOTLINE_BENCH_RAMP_S=5                   seconds over which a level's calls are placed
#   HOTLINE_BENCH_WINDOW_S=3                 IVR CPU window (shortened to fit the hold)
#   HOTLINE_BENCH_RTP_TIMEOUT_S=5            nodes' --rtp-timeout-secs in the IVR part
#   HOTLINE_BENCH_RECORDS_RATE=5000 / HOTLINE_BENCH_RECORDS_SECONDS=5
#   HOTLINE_BENCH_POSTGRES_URL=postgres://...   use this server (each deployment creates
#                                            and drops its own database)
#   HOTLINE_BENCH_SERVER_CPU=0 / HOTLINE_BENCH_SIPP_CPU=1   direct: the node's and SIPp's
#                                            cores; edge: node a's and node b's
#   HOTLINE_BENCH_KAMAILIO_CHILDREN=4 / HOTLINE_BENCH_KAMAILIO_SHM_MB=256   kamailio -n, -m
#   HOTLINE_BENCH_SKIP_BUILD=1               do not run cargo build
#   HOTLINE_BIN=path                         server binary (default target/release/hotline)
#   HOTLINE_BENCH_KEEP=1                     keep the temp dir (per run: node logs,
#                                            kamailio.log, SIPp stat/error files, samples)
#                                            and the databases
#   RUST_LOG                                 passed to the nodes; default "warn"
#
# Caveat: two nodes, Kamailio, PostgreSQL and SIPp on two cores compete with each other;
# the edge mode shows what this machine does as a whole, not what two node machines would.
# Anything else running shows up in other% and in every figure: run it on an otherwise
# idle machine and take the median of 3 runs.
set -euo pipefail

# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench-lib.sh"


PARTS=${HOTLINE_BENCH_PARTS:-"signalling ivr records"}
MODES=${HOTLINE_BENCH_MODES:-"direct edge"}
RATES=${HOTLINE_BENCH_RATES:-"200 400 800 1200"}
SECS=${HOTLINE_BENCH_SECONDS:-5}
LEVELS=${HOTLINE_BENCH_IVR_LEVELS:-"250 500 1000"}
HOLD_MS=${HOTLINE_BENCH_HOLD_MS:-30000}
RAMP=${HOTLINE_BENCH_RAMP_S:-5}
WINDOW=${HOTLINE_BENCH_WINDOW_S:-3}
RTP_TIMEOUT=${HOTLINE_BENCH_RTP_TIMEOUT_S:-5}
REC_RATE=${HOTLINE_BENCH_RECORDS_RATE:-5000}
REC_SECS=${HOTLINE_BENCH_RECORDS_SECONDS:-5}
CPU_A=${HOTLINE_BENCH_SERVER_CPU:-0}
CPU_B=${HOTLINE_BENCH_SIPP_CPU:-1}
KAM_CHILDREN=${HOTLINE_BENCH_KAMAILIO_CHILDREN:-4}
KAM_SHM=${HOTLINE_BENCH_KAMAILIO_SHM_MB:-256}
EDGE_IP=127.0.0.10
NODE_IPS=(127.0.0.11 127.0.0.12)
NODE_IDS=(a b)
NODE_RTP=(20000-24999 25000-29999)      # direct: the single node takes 20000-29999
SCENARIO=$ROOT/tests/sipp/edge_call.xml
IVR_PLAN=$ROOT/tests/fixtures/queue-plan.toml
# the edge's caller: an ordinary customer (not REALM, not the edge itself: no challenge)
CUSTOMER=(-s 95588 -key from_user 13800138000 -key from_host customer.example)

posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (got '$2')"; }
for p in $PARTS; do [[ $p == signalling || $p == ivr || $p == records ]] || die "unknown part '$p'"; done
for m in $MODES; do [[ $m == direct || $m == edge ]] || die "unknown mode '$m'"; done
for r in $RATES; do posint "HOTLINE_BENCH_RATES" "$r"; done
for l in $LEVELS; do
    posint "HOTLINE_BENCH_IVR_LEVELS" "$l"
    ((l <= 4800)) || die "IVR level $l exceeds the nodes' RTP port ranges"   # 2 ports a call
done
posint HOTLINE_BENCH_SECONDS "$SECS"
posint HOTLINE_BENCH_HOLD_MS "$HOLD_MS"
posint HOTLINE_BENCH_RAMP_S "$RAMP"
posint HOTLINE_BENCH_WINDOW_S "$WINDOW"
posint HOTLINE_BENCH_RTP_TIMEOUT_S "$RTP_TIMEOUT"
posint HOTLINE_BENCH_RECORDS_RATE "$REC_RATE"
posint HOTLINE_BENCH_RECORDS_SECONDS "$REC_SECS"
# the queue node of the plan lets a caller wait 300 s (its max_wait default)
((HOLD_MS < 280000)) || die "HOTLINE_BENCH_HOLD_MS must stay under 280000 (the queue's max_wait)"

for tool in sipp psql taskset timeout awk sort getconf; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
KAMAILIO=$(command -v kamailio 2>/dev/null || echo /usr/sbin/kamailio)
if [[ " $MODES " == *" edge "* ]]; then
    [[ -x "$KAMAILIO" ]] || die "kamailio not found (Debian: apt-get install kamailio kamailio-postgres-modules)"
    compgen -G '/usr/lib/*/kamailio/modules/db_postgres.so' >/dev/null \
        || compgen -G '/usr/lib*/kamailio/modules/db_postgres.so' >/dev/null \
        || die "Kamailio's db_postgres.so not found (Debian: apt-get install kamailio-postgres-modules)"
fi
[[ -r "$SCENARIO" && -r "$IVR_PLAN" ]] || die "missing $SCENARIO or $IVR_PLAN"

PIN=1
if ! taskset -c "$CPU_A" true 2>/dev/null || ! taskset -c "$CPU_B" true 2>/dev/null; then
    say "WARNING: cannot pin to cores $CPU_A and $CPU_B; running unpinned"
    PIN=0
fi

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hotline-bench-cluster.XXXXXX")
NODE_PIDS=()
KAM_PID=""
SIPP_PID=""
SAMPLER_PID=""
DB_NAME=""
stop_pid() {      # stop_pid PID [S]: SIGTERM, SIGKILL after S seconds (default 5); reaps it
    local pid=$1 i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < ${2:-5} * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_nodes() {    # SIGTERM to all (--drain-secs 0: they flush their records and exit)
    local pid i
    for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${NODE_PIDS[@]}"; do
        for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "node pid $pid did not stop within 60 s of SIGTERM; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    NODE_PIDS=()
}
stop_edge() {     # Kamailio stops its workers on SIGTERM; any left over get SIGKILL
    [[ -n "$KAM_PID" ]] || return 0
    local kids pid
    kids=$(tree_pids "$KAM_PID")
    stop_pid "$KAM_PID"
    for pid in $kids; do
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != kamailio ]] || kill -KILL "$pid" 2>/dev/null || true
    done
    KAM_PID=""
}
KEPT_DBS=()
drop_db() {       # with HOTLINE_BENCH_KEEP=1 the database stays (and is listed at the end)
    [[ -n "$DB_NAME" ]] || return 0
    if [[ "${HOTLINE_BENCH_KEEP:-}" == 1 ]]; then
        KEPT_DBS+=("$DB_NAME")
    else
        psql "$PG_URL" -XAtqc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    DB_NAME=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    stop_pid "$SAMPLER_PID" 1
    stop_pid "$SIPP_PID"          # timeout(1) passes SIGTERM on to sipp
    stop_nodes
    stop_edge
    drop_db
    local own_pg=$PG_PID
    pg_stop
    if [[ "${HOTLINE_BENCH_KEEP:-}" == 1 ]]; then
        say "kept $TMP"
        ((${#KEPT_DBS[@]} == 0)) || say "kept databases${own_pg:+ (in the stopped cluster $TMP/pg)}: ${KEPT_DBS[*]}"
    else
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}
trap_cleanup

# ---------------------------------------------------------------- readings
# PID and all its descendants (children of each of its threads), one per line.
tree_pids() {
    local pid kid
    for pid in "$@"; do
        [[ -n "$pid" && -d /proc/$pid ]] || continue
        echo "$pid"
        for kid in $(cat /proc/"$pid"/task/*/children 2>/dev/null || true); do tree_pids "$kid"; done
    done
}
# utime+stime of PIDs and their descendants, in clock ticks ("" pids: 0). A process that
# exited meanwhile drops out, so read it before the process ends.
tree_ticks() {
    local sum=0 pid t
    for pid in $(tree_pids "$@"); do
        t=$(proc_ticks "$pid" 2>/dev/null) || continue
        sum=$((sum + t))
    done
    echo "$sum"
}
pct() {           # pct TICKS NS: % of one core
    awk -v d="$1" -v hz="$CLK_TCK" -v ns="$2" 'BEGIN { if (ns <= 0) print "?"; else printf "%.0f", 100 * d / hz / (ns / 1e9) }'
}
now_ms() { echo $(( $(now_ns) / 1000000 )); }
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }
# SIPp's "HH:MM:SS:us" as ms with one decimal.
hms_ms() { awk -F: -v t="$1" 'BEGIN { n = split(t, f, ":"); if (n != 4) { print "?"; exit } printf "%.1f", (f[1] * 3600 + f[2] * 60 + f[3]) * 1000 + f[4] / 1000 }'; }
sql() { psql "$DB_URL" -XAtq -F ' ' -c "$1"; }
# Rows that arrived since $1 (ms) and did not end caller_bye, by end cause: "cause n, ...".
end_causes() {
    sql "SELECT string_agg(c || ' ' || n, ', ') FROM (SELECT COALESCE(end_cause, 'open') AS c,
         COUNT(*) AS n FROM calls WHERE arrived_at >= $1 AND end_cause IS DISTINCT FROM 'caller_bye'
         GROUP BY 1 ORDER BY 2 DESC) t"
}

# CPU readings of everything measured: "node_a node_b edge pg box" ticks (box: all cores).
cpu_snapshot() {
    local a="" b=""
    a=$(tree_ticks "${NODE_PIDS[0]:-}")
    [[ -z "${NODE_PIDS[1]:-}" ]] || b=$(tree_ticks "${NODE_PIDS[1]}")
    echo "$a ${b:--} $(tree_ticks "$KAM_PID") $(tree_ticks "$PG_PID") $(cpu_busy_ticks "")"
}
# CPU columns "a% b% edge% pg% sipp% box% other%" from two snapshots, SIPp's ticks over
# the same span and the span in ns.
cpu_columns() {
    local -a s0 s1
    read -ra s0 <<<"$1"
    read -ra s1 <<<"$2"
    local sipp=$3 ns=$4 a b e p box other
    a=$(pct $((s1[0] - s0[0])) "$ns")
    b=-; [[ "${s0[1]}" == - ]] || b=$(pct $((s1[1] - s0[1])) "$ns")
    e=-; [[ "$MODE" == direct ]] || e=$(pct $((s1[2] - s0[2])) "$ns")
    p=-; [[ -z "$PG_PID" ]] || p=$(pct $((s1[3] - s0[3])) "$ns")
    box=$(pct $((s1[4] - s0[4])) "$ns")
    local ours=$((s1[0] - s0[0] + sipp))
    [[ "${s0[1]}" == - ]] || ours=$((ours + s1[1] - s0[1]))
    [[ "$MODE" == direct ]] || ours=$((ours + s1[2] - s0[2]))
    [[ -z "$PG_PID" ]] || ours=$((ours + s1[3] - s0[3]))
    other=$(pct $((s1[4] - s0[4] - ours)) "$ns")
    echo "$a $b $e $p $(pct "$sipp" "$ns") $box $other"
}

# The most other work seen on the machine during a measurement (other%).
MAX_OTHER=0
busy_check() { [[ ! "$1" =~ ^[0-9]+$ ]] || (($1 <= MAX_OTHER)) || MAX_OTHER=$1; }

# ---------------------------------------------------------------- PostgreSQL
PG_URL=${HOTLINE_BENCH_POSTGRES_URL:-}
if [[ -z "$PG_URL" ]]; then
    pg_start "$TMP" || die "could not start a throw-away PostgreSQL (set HOTLINE_BENCH_POSTGRES_URL)"
    say "postgres: throw-away cluster at $PG_URL (fsync on), pid $PG_PID"
else
    say "postgres: $PG_URL (its CPU is not measured: it shows in other%)"
fi
psql "$PG_URL" -XAtqc 'SELECT 1' >/dev/null || die "cannot connect to $PG_URL"

# The sqlx URL of database $1 on the same server (query string kept).
db_url() {
    local base=${PG_URL%%\?*}
    echo "${base%/*}/$1${PG_URL:${#base}}"
}
urldecode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }
# Kamailio's DBURL for a sqlx URL: postgres://user@host:port/db, no password, no query
# string; the rest goes in libpq's environment (as tests/common/kamailio.rs does). Sets
# KAM_DBURL and KAM_ENV (NAME=value words for env).
kamailio_db() {
    local rest=${1#*://} main query="" userinfo pair key
    main=${rest%%\?*}
    [[ "$rest" != *\?* ]] || query=${rest#*\?}
    KAM_ENV=(TZ=UTC)               # it writes location.expires in local time
    if [[ "$main" == *@* ]]; then
        userinfo=${main%@*}
        if [[ "$userinfo" == *:* ]]; then
            KAM_ENV+=("PGPASSWORD=$(urldecode "${userinfo#*:}")")
            userinfo=${userinfo%%:*}
        fi
        main="$(urldecode "$userinfo")@${main##*@}"
    fi
    local -a pairs=()
    IFS='&' read -ra pairs <<<"$query"
    for pair in "${pairs[@]}"; do
        key=${pair%%=*}
        case $key in
            options) KAM_ENV+=("PGOPTIONS=$(urldecode "${pair#*=}")") ;;
            sslmode) KAM_ENV+=("PGSSLMODE=$(urldecode "${pair#*=}")") ;;
            application_name) KAM_ENV+=("PGAPPNAME=$(urldecode "${pair#*=}")") ;;
            *) die "$1: parameter '$key' has no libpq variable for Kamailio" ;;
        esac
    done
    [[ "$main" != *\"* ]] || die "a double quote in the database URL"
    KAM_DBURL="postgres://$main"
}

# ---------------------------------------------------------------- build
if [[ "${HOTLINE_BENCH_SKIP_BUILD:-}" != 1 ]]; then
    say "cargo build --release --bins"
    cargo build --release --bins
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"

# Dial plans: the shipped ones (dialplans/; the caller hangs up at once anyway), or for the
# IVR part the queue plan, whose queue keeps callers waiting with no agent.
mkdir -p "$TMP/ivr-plans"
ln -s "$IVR_PLAN" "$TMP/ivr-plans/queue.toml"
cat >"$TMP/ivr-queues.toml" <<'EOF'
[queues.general]
strategy = "longest_idle"
max_wait_secs = 3600
wait_when_empty = true
announce_every_secs = 30
EOF

# ---------------------------------------------------------------- deployments
# deploy MODE PROFILE DIR: a fresh database, the node(s), in edge mode Kamailio; returns
# once probe calls completed (through the edge: on both nodes). Sets TARGET (where SIPp
# sends), SIPP_PIN, DB_URL, MODE, RUN.
deploy() {
    MODE=$1
    RUN=$3
    mkdir -p "$RUN"
    local -a profile
    case $2 in
        plain) profile=(--dialplans "$ROOT/dialplans" --queues "$ROOT/queues.toml"
                        --prompts "$ROOT/prompts" --rtp-timeout-secs 0) ;;
        ivr) profile=(--dialplans "$TMP/ivr-plans" --queues "$TMP/ivr-queues.toml"
                      --prompts "$ROOT/prompts" --rtp-timeout-secs "$RTP_TIMEOUT") ;;
    esac
    DB_NAME="hotline_bench_$$_${RUN##*/}"
    DB_NAME=${DB_NAME//[^a-zA-Z0-9_]/_}
    DB_NAME=${DB_NAME,,}
    psql "$PG_URL" -XAtqc "CREATE DATABASE $DB_NAME" >/dev/null
    DB_URL=$(db_url "$DB_NAME")
    "$BIN" migrate --database "$DB_URL" >"$RUN/migrate.log" 2>&1 || { cat "$RUN/migrate.log" >&2; die "migrate failed"; }

    local i n pin=() edge_port="" ports=() cpus=("$CPU_A" "$CPU_B")
    if [[ $MODE == direct ]]; then
        n=1
        SIPP_PIN=()
        ((PIN == 0)) || SIPP_PIN=(taskset -c "$CPU_B")
    else
        n=2
        SIPP_PIN=()
        psql "$DB_URL" -XAtq -v ON_ERROR_STOP=1 -f "$ROOT/deploy/kamailio/usrloc.sql" >/dev/null
        edge_port=$(free_port 15080)
    fi
    for ((i = 0; i < n; i++)); do
        ports[i]=$(free_port $((15060 + i)))
        local -a args=(--sip-listen "${NODE_IPS[i]}:${ports[i]}" --database "$DB_URL"
                       --ring-delay-ms 0 --drain-secs 0 "${profile[@]}")
        if [[ $MODE == direct ]]; then
            args+=(--rtp-ports 20000-29999)
        else
            args+=(--rtp-ports "${NODE_RTP[i]}" --node-id "${NODE_IDS[i]}" --edge "$EDGE_IP:$edge_port")
        fi
        pin=()
        ((PIN == 0)) || pin=(taskset -c "${cpus[i]}")
        RUST_LOG=${RUST_LOG:-warn} "${pin[@]}" "$BIN" serve "${args[@]}" \
            </dev/null >"$RUN/node-${NODE_IDS[i]}.log" 2>&1 &
        NODE_PIDS[i]=$!       # taskset execs the binary: this is hotline's own pid
    done
    for ((i = 0; i < n; i++)); do
        local t
        for ((t = 0; t < 200; t++)); do
            grep -qs "listening on sip" "$RUN/node-${NODE_IDS[i]}.log" && break
            alive "${NODE_PIDS[i]}" || break
            sleep 0.1
        done
        grep -qs "listening on sip" "$RUN/node-${NODE_IDS[i]}.log" \
            || { tail -n 30 "$RUN/node-${NODE_IDS[i]}.log" >&2; die "node ${NODE_IDS[i]} did not start"; }
    done

    if [[ $MODE == direct ]]; then
        TARGET=${NODE_IPS[0]}:${ports[0]}
    else
        TARGET=$EDGE_IP:$edge_port
        kamailio_db "$DB_URL"
        mkdir -p "$RUN/edge"
        {
            echo "# setid destination flags priority"
            for ((i = 0; i < n; i++)); do echo "1 sip:${NODE_IPS[i]}:${ports[i]} 0 0"; done
        } >"$RUN/edge/dispatcher.list"
        (cd "$RUN/edge" && exec env "${KAM_ENV[@]}" "$KAMAILIO" -f "$ROOT/deploy/kamailio/kamailio.cfg" \
            -DD -E -m "$KAM_SHM" -M 8 -n "$KAM_CHILDREN" -w "$RUN/edge" -Y "$RUN/edge" \
            -P "$RUN/edge/kamailio.pid" \
            -A "DBURL=\"$KAM_DBURL\"" -A "LISTEN=udp:$TARGET" \
            -A "DSLIST=\"$RUN/edge/dispatcher.list\"" -A 'REALM="hotline"' \
            </dev/null >"$RUN/edge/kamailio.log" 2>&1) &
        KAM_PID=$!            # the subshell execs env, which execs kamailio
    fi

    # Probe calls (SIPp, -d 0) until one completes, and through the edge until both nodes
    # have taken one: at most 40 tries and 60 s.
    local try deadline=$((SECONDS + 60))
    local -a probe
    if [[ $MODE == direct ]]; then probe=(-sn uac -m 1); else probe=(-sf "$SCENARIO" "${CUSTOMER[@]}" -m 2 -r 10); fi
    mkdir -p "$RUN/probe"
    for ((try = 1; try <= 40 && SECONDS < deadline; try++)); do
        for ((i = 0; i < n; i++)); do
            alive "${NODE_PIDS[i]}" || { tail -n 30 "$RUN/node-${NODE_IDS[i]}.log" >&2; die "node ${NODE_IDS[i]} exited during start-up"; }
        done
        [[ $MODE == direct ]] || alive "$KAM_PID" || { tail -n 40 "$RUN/edge/kamailio.log" >&2; die "kamailio exited during start-up"; }
        if (cd "$RUN/probe" && timeout -k 1 5 sipp "$TARGET" "${probe[@]}" -i 127.0.0.1 -p "$(free_port 15070)" \
                -d 0 -nostdin -timeout 4s -recv_timeout 2000 -max_retrans 2 </dev/null >/dev/null 2>&1); then
            [[ $MODE == direct ]] && return 0
            [[ $(sql "SELECT COUNT(DISTINCT node_id) FROM calls") == 2 ]] && return 0
        fi
        sleep 0.5
    done
    [[ $MODE == direct ]] || tail -n 20 "$RUN/edge/kamailio.log" >&2
    die "$MODE: probe calls did not complete within 60 s (logs in $RUN)"
}

# teardown: stops the node(s) (flushing their records) and Kamailio; the database stays
# until drop_db.
teardown() {
    stop_pid "$SIPP_PID"
    SIPP_PID=""
    stop_nodes
    stop_edge
}

# How often the edge has marked a node down so far (0 in direct mode).
down_count() {
    [[ $MODE == edge ]] || { echo 0; return; }
    grep -c "hotline node DOWN" "$RUN/edge/kamailio.log" || true
}
# Notes for a run: dead processes, the edge marking nodes down since DOWN_SEEN.
health_notes() {
    local i notes=() down
    for ((i = 0; i < ${#NODE_PIDS[@]}; i++)); do
        alive "${NODE_PIDS[i]}" || notes+=("node ${NODE_IDS[i]} died")
    done
    if [[ $MODE == edge ]]; then
        alive "$KAM_PID" || notes+=("kamailio died")
        down=$(down_count)
        ((down <= ${DOWN_SEEN:-0})) || notes+=("edge marked a node down $((down - ${DOWN_SEEN:-0}))x")
        DOWN_SEEN=$down
    fi
    join_notes "${notes[@]}"
}

# start_sipp DIR LIMIT_S ARGS...: SIPp to TARGET in the background (SIPP_PID), its own
# -timeout LIMIT_S, timeout(1) 15 s later as a backstop.
start_sipp() {
    local dir=$1 limit=$2
    shift 2
    mkdir -p "$dir"
    (cd "$dir" && exec timeout -k 5 $((limit + 15)) "${SIPP_PIN[@]}" sipp "$TARGET" \
        -i 127.0.0.1 -p "$(free_port 15070)" -buff_size 4194304 -nostdin -timeout "${limit}s" \
        -trace_stat -stf stat.csv -fd 1 "$@" </dev/null >sipp.out 2>sipp.err) &
    SIPP_PID=$!
}
# wait_sipp DIR CALLS: waits for SIPp to end, noting its CPU ticks while it lives
# (SIPP_TICKS, since it started) and when it was last seen (SIPP_END_NS). SIPp 3.6
# sometimes completes every call and then hangs at exit (media threads): once its stat
# file has shown CALLS calls done for 3 s, it gets SIGTERM (it still writes its final
# stats). Sets SIPP_NOTE.
wait_sipp() {
    local dir=$1 calls=$2 t s_ok s_failed done_since="" termed=0 polls=0 rc=0
    SIPP_TICKS=0
    SIPP_NOTE=""
    while alive "$SIPP_PID"; do
        t=$(tree_ticks "$SIPP_PID")
        ((t == 0)) || { SIPP_TICKS=$t; SIPP_END_NS=$(now_ns); }
        if ((++polls % 5 == 0 && termed == 0)); then
            s_ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
            s_failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
            if [[ "$s_ok" =~ ^[0-9]+$ && "$s_failed" =~ ^[0-9]+$ ]] && ((s_ok + s_failed >= calls)); then
                [[ -n "$done_since" ]] || done_since=$SECONDS
                if ((SECONDS - done_since >= 3)); then
                    kill -TERM "$SIPP_PID" 2>/dev/null || true     # timeout(1) passes it on
                    termed=1
                    SIPP_NOTE="sipp hung after its last call: SIGTERM"
                fi
            fi
        fi
        sleep 0.2
    done
    wait "$SIPP_PID" || rc=$?
    SIPP_PID=""
    case $rc in
        0 | 1 | 143) ;;                 # 1: some call failed; 143: our SIGTERM; counts say
        124 | 137) SIPP_NOTE="sipp killed by timeout(1)" ;;
        *) SIPP_NOTE="sipp exit $rc (see $dir/sipp.err)" ;;
    esac
}
join_notes() {    # join_notes NOTE...: the non-empty ones, "; "-separated
    local out="" n
    for n in "$@"; do [[ -z "$n" ]] || out+="${out:+; }$n"; done
    echo "$out"
}

# ---------------------------------------------------------------- 1. signalling
sig_row() { printf '%-6s %6s %8s %7s %7s %7s %8s %5s %5s %5s %5s %5s %5s %6s  %s\n' "$@"; }
SIG_HEADER=$(sig_row mode rate achieved ok failed retrans setup_ms a% b% edge% pg% sipp% box% other% note)
SIG_ROWS=()
declare -A BEST_RATE=()
run_signalling() {
    local mode=$1 rate
    deploy "$mode" plain "$TMP/sig-$mode"
    DOWN_SEEN=$(down_count)
    say "signalling, $mode: SIPp -> $TARGET, $SECS s per rate"
    printf '%s\n' "$SIG_HEADER"
    for rate in $RATES; do
        local calls=$((rate * SECS)) dir=$TMP/sig-$mode/rate-$rate
        local max_open=$((rate * 4 > 1000 ? rate * 4 : 1000)) limit=$((SECS + 60))
        local -a scen=(-sf "$SCENARIO" "${CUSTOMER[@]}")
        [[ $mode == edge ]] || scen=(-sn uac)
        local c0 c1 t0 t1
        c0=$(cpu_snapshot)
        t0=$(now_ns)
        SIPP_END_NS=$t0
        start_sipp "$dir" "$limit" "${scen[@]}" -r "$rate" -m "$calls" -d 0 -l "$max_open" \
            -max_recv_loops 10000 -max_sched_loops 10000
        wait_sipp "$dir" "$calls"
        c1=$(cpu_snapshot)
        t1=$(now_ns)
        local ok failed retrans achieved setup cpu note hn
        ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
        failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
        retrans=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
        achieved=$(stat_col "$dir/stat.csv" 'CallRate(C)')
        setup=$(hms_ms "$(stat_col "$dir/stat.csv" 'ResponseTime1(C)')")
        cpu=$(cpu_columns "$c0" "$c1" "$SIPP_TICKS" $((t1 - t0)))
        busy_check "${cpu##* }"
        hn=$(health_notes)
        note=$(join_notes "$SIPP_NOTE" "$hn")
        # shellcheck disable=SC2086  # cpu: seven columns
        SIG_ROWS+=("$(sig_row "$mode" "$rate" "$achieved" "$ok/$calls" "$failed" "$retrans" "$setup" $cpu "$note")")
        printf '%s\n' "${SIG_ROWS[-1]}"
        if [[ "$ok" == "$calls" && "$failed" == 0 && "$retrans" == 0 && -z "$hn" ]] \
                && awk -v a="$achieved" -v r="$rate" 'BEGIN { exit !(a >= 0.9 * r) }'; then
            BEST_RATE[$mode]=$rate
        fi
        [[ "$hn" != *died* ]] || break              # a node or Kamailio is gone
        sleep 1                                     # let the last calls' state drain
    done
    teardown
    drop_db
}

# ---------------------------------------------------------------- 2. IVR calls
ivr_row() { printf '%-6s %6s %5s %7s %6s %6s %9s %5s %5s %5s %5s %5s %5s %6s  %s\n' "$@"; }
IVR_HEADER=$(ivr_row mode level rate ok failed open a/b a% b% edge% pg% sipp% box% other% note)
IVR_ROWS=()
declare -A BEST_LEVEL=()
run_ivr() {
    local mode=$1 level=$2 run=$3
    deploy "$mode" ivr "$TMP/ivr-$mode-$run-L$level"
    DOWN_SEEN=$(down_count)
    local dir=$RUN/sipp rate ramp_ms settle_ms=2000 win first_end since
    rate=$(( (level + RAMP - 1) / RAMP ))
    ramp_ms=$(( (level - 1) * 1000 / rate ))
    first_end=$HOLD_MS                      # the first call hangs up about then
    win=$(( (first_end - ramp_ms - settle_ms - 1000) / 1000 ))
    ((win <= WINDOW)) || win=$WINDOW
    ((win >= 1)) || die "IVR level $level: hold ${HOLD_MS} ms leaves no 1 s window with all calls up (ramp ${ramp_ms} ms)"
    local limit=$(( (ramp_ms + HOLD_MS) / 1000 + 40 ))
    since=$(now_ms)
    say "ivr, $mode: $level calls at $rate/s holding ${HOLD_MS} ms -> $TARGET; window ${win} s"
    local t_start media_port
    media_port=$(free_port 16000)
    t_start=$(now_ms)
    start_sipp "$dir" "$limit" -sf "$SCENARIO" "${CUSTOMER[@]}" -mi 127.0.0.1 -mp "$media_port" -rtp_echo \
        -r "$rate" -l "$level" -m "$level" -d "$HOLD_MS" -trace_err

    # The window: the ramp, 2 s for the last calls to be set up, then win s.
    local d
    d=$(( t_start + ramp_ms + settle_ms - $(now_ms) ))
    ((d <= 0)) || sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
    local open split c0 c1 s0 s1 w0 w1 current
    open=$(sql "SELECT COUNT(*) FROM calls WHERE ended_at IS NULL AND arrived_at >= $since")
    split=$(sql "SELECT string_agg(n::text, '/' ORDER BY node) FROM (SELECT COALESCE(node_id, '-') AS node, COUNT(*) AS n
                 FROM calls WHERE ended_at IS NULL AND arrived_at >= $since GROUP BY 1) t")
    current=$(stat_col "$dir/stat.csv" 'CurrentCall')
    w0=$(now_ns)
    c0=$(cpu_snapshot)
    s0=$(tree_ticks "$SIPP_PID")
    sleep "$win"
    s1=$(tree_ticks "$SIPP_PID")
    c1=$(cpu_snapshot)
    w1=$(now_ns)
    local cpu
    cpu=$(cpu_columns "$c0" "$c1" $((s1 - s0)) $((w1 - w0)))
    busy_check "${cpu##* }"
    local hnotes
    hnotes=$(health_notes)

    wait_sipp "$dir" "$level"
    teardown
    local ok failed retrans causes note
    ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    retrans=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
    causes=$(end_causes "$since")
    drop_db
    note=$(join_notes "$hnotes" "$SIPP_NOTE" "${causes:+not caller_bye: $causes}" \
        "$([[ "$retrans" == 0 ]] || echo "$retrans retransmissions")" \
        "$([[ "$current" == "$level" ]] || echo "SIPp had $current calls open")")
    # shellcheck disable=SC2086  # cpu: seven columns
    IVR_ROWS+=("$(ivr_row "$mode" "$level" "$rate" "$ok" "$failed" "$open" "${split:--}" $cpu "$note")")
    printf '%s\n%s\n' "$IVR_HEADER" "${IVR_ROWS[-1]}"
    if [[ "$ok" == "$level" && "$failed" == 0 && "$open" == "$level" ]]; then
        BEST_LEVEL[$mode]=$level
    fi
    if [[ "$failed" != 0 ]]; then
        shopt -s nullglob
        local f
        for f in "$dir"/*_errors.log; do
            say "ivr $mode L$level: first lines of SIPp's $(basename "$f"):"
            head -n 6 "$f" | sed 's/^/    /'
        done
        shopt -u nullglob
    fi
}

# ---------------------------------------------------------------- 3. records
rec_row() { printf '%-6s %7s %8s %7s %7s %7s %6s %8s %6s %6s %6s %6s %7s %7s %5s %5s  %s\n' "$@"; }
REC_HEADER=$(rec_row mode offered achieved created ok rows lost complete ins/s end/s db/s rec/s backlog drain_s pg% box% note)
REC_ROWS=()
REC_SERIES=()
# Every 0.5 s: "ms rows ended" of the calls that arrived since $1.
sample_rows() {
    while :; do
        echo "$(now_ms) $(sql "SELECT COUNT(*), COUNT(ended_at) FROM calls WHERE arrived_at >= $1" 2>/dev/null || echo "? ?")"
        sleep 0.5
    done
}
run_records() {
    local mode=$1
    deploy "$mode" plain "$TMP/rec-$mode"
    DOWN_SEEN=$(down_count)
    local dir=$RUN/sipp calls=$((REC_RATE * REC_SECS)) since t0 c0 c1
    local -a scen=(-sf "$SCENARIO" "${CUSTOMER[@]}")
    [[ $mode == edge ]] || scen=(-sn uac)
    since=$(now_ms)
    say "records, $mode: $REC_RATE calls/s offered for $REC_SECS s -> $TARGET"
    sample_rows "$since" >"$RUN/rows.samples" &
    SAMPLER_PID=$!
    c0=$(cpu_snapshot)
    t0=$(now_ns)
    SIPP_END_NS=$t0
    start_sipp "$dir" $((REC_SECS + 60)) "${scen[@]}" -r "$REC_RATE" -m "$calls" -d 0 \
        -l $((REC_RATE * 4)) -max_recv_loops 10000 -max_sched_loops 10000
    wait_sipp "$dir" "$calls"
    c1=$(cpu_snapshot)
    local hnotes cpu ok end_ms t1
    t1=$(now_ns)
    hnotes=$(health_notes)
    cpu=$(cpu_columns "$c0" "$c1" "$SIPP_TICKS" $((t1 - t0)))
    ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    [[ "$ok" =~ ^[0-9]+$ ]] || ok=0
    end_ms=$((SIPP_END_NS / 1000000))

    # The writer catching up: until every row has ended, or 5 s without progress, or
    # 120 s. (Calls SIPp gave up on may stay open on a node: ack_timeout ends them 32 s
    # after the 200.)
    local last="" same_since=$SECONDS deadline=$((SECONDS + 120)) line inserted ended
    while ((SECONDS < deadline)); do
        sleep 0.5
        line=$(tail -n 1 "$RUN/rows.samples")
        read -r _ inserted ended <<<"$line"
        [[ "$ended" =~ ^[0-9]+$ ]] || continue
        ((ended < inserted)) || break
        if [[ "$ended" != "$last" ]]; then last=$ended; same_since=$SECONDS; fi
        ((SECONDS - same_since < 5)) || break
    done
    stop_pid "$SAMPLER_PID" 1
    SAMPLER_PID=""
    teardown
    local rows complete first last_end lost rps
    read -r rows complete first last_end < <(calls_read_back "$DB_URL" "$since")
    # A call the edge failed over after 1.5 s may have reached both nodes: one SIP call,
    # two rows. Lost counts SIP calls.
    local distinct
    distinct=$(sql "SELECT COUNT(DISTINCT sip_call_id) FROM calls WHERE arrived_at >= $since")
    lost=$((ok > distinct ? ok - distinct : 0))
    rps=$(calls_rate "$complete" "$first" "$last_end")
    # From the samples: peak inserts and ends per second between samples; rows not ended
    # at the first sample after SIPp ended; seconds from then until the ended count last
    # grew; ended rows per second from SIPp's start until then.
    local stats
    stats=$(awk -v start="$((t0 / 1000000))" -v end="$end_ms" '
        $2 !~ /^[0-9]+$/ { next }
        {
            if (n && $1 > pt) {
                r = ($2 - pr) * 1000 / ($1 - pt); e = ($3 - pe) * 1000 / ($1 - pt)
                if (r > ri) ri = r
                if (e > re) re = e
            }
            if ($1 <= end || !after) backlog = $2 - $3
            if ($1 > end) after = 1
            if ($3 > pe) grew = $1
            n++; pt = $1; pr = $2; pe = $3
        }
        END {
            if (!n || grew <= start) { print "- - - - -"; exit }
            drain = grew > end ? (grew - end) / 1000 : 0
            printf "%.0f %.0f %d %.1f %.0f\n", ri, re, backlog, drain, pe * 1000 / (grew - start)
        }' "$RUN/rows.samples")
    local ins_s end_s backlog drain db_s created achieved note
    read -r ins_s end_s backlog drain db_s <<<"$stats"
    created=$(stat_col "$dir/stat.csv" 'TotalCallCreated')
    achieved=$(stat_col "$dir/stat.csv" 'CallRate(C)')
    local -a c
    read -ra c <<<"$cpu"
    busy_check "${c[6]}"
    local causes="" dups="" cpu_note="cpu node ${c[0]}%, sipp ${c[4]}%"
    ((rows == complete)) || causes="not complete: $(end_causes "$since")"
    ((rows == distinct)) || dups="$((rows - distinct)) rows for calls already taken by the other node"
    [[ $mode == direct ]] || cpu_note="cpu a/b ${c[0]}%/${c[1]}%, edge ${c[2]}%, sipp ${c[4]}%"
    note=$(join_notes "$hnotes" "$SIPP_NOTE" "$causes" "$dups" "$cpu_note")
    drop_db
    REC_ROWS+=("$(rec_row "$mode" "$REC_RATE" "$achieved" "$created" "$ok" "$rows" "$lost" "$complete" \
        "$ins_s" "$end_s" "$db_s" "$rps" "$backlog" "$drain" "${c[3]}" "${c[5]}" "$note")")
    printf '%s\n%s\n' "$REC_HEADER" "${REC_ROWS[-1]}"
    # Rows over time: the last sample of each second since SIPp started (of every few
    # seconds when the writer took long: about 20 points).
    REC_SERIES+=("$mode: $(awk -v t0="$((t0 / 1000000))" '
        $2 ~ /^[0-9]+$/ { s = int(($1 - t0) / 1000); if (s < 0) s = 0; v[s] = $2 "/" $3; if (s > m) m = s }
        END {
            step = int((m + 19) / 20); if (step < 1) step = 1
            for (i = 0; i <= m; i++) if ((i in v) && (i % step == 0 || i == m))
                printf "%s+%ds %s", (o++ ? ", " : ""), i, v[i]
            print ""
        }' "$RUN/rows.samples")")
    say "rows/ended over time, ${REC_SERIES[-1]}"
}

# ---------------------------------------------------------------- runs
if rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock migrations 2>/dev/null | wc -l)
    say "source: $rev$( ((dirty == 0)) || echo " + uncommitted changes in $dirty file(s)"); binary $BIN"
fi
say "parts: $PARTS; modes: $MODES; $(nproc) cores, pinning $( ((PIN)) && echo "on (cores $CPU_A, $CPU_B)" || echo off); temp dir $TMP"
for part in $PARTS; do
    case $part in
        signalling) for mode in $MODES; do run_signalling "$mode"; done ;;
        ivr)
            n=0
            for level in $LEVELS; do
                n=$((n + 1))
                for mode in $MODES; do run_ivr "$mode" "$level" "$n"; sleep 1; done
            done
            ;;
        records) for mode in $MODES; do run_records "$mode"; done ;;
    esac
done

# ---------------------------------------------------------------- summary
echo
say "summary ($(nproc) cores; direct: node on core $CPU_A, SIPp on core $CPU_B; edge: node a on core $CPU_A, node b on core $CPU_B, Kamailio/SIPp/PostgreSQL unpinned)"
if ((${#SIG_ROWS[@]})); then
    echo
    say "1. signalling, -d 0, $SECS s per rate (CPU in % of one core over SIPp's run)"
    printf '%s\n' "$SIG_HEADER" "${SIG_ROWS[@]}"
    for mode in $MODES; do
        say "   $mode: highest clean rate (all ok, 0 failed, 0 retransmissions): ${BEST_RATE[$mode]:-none} calls/s"
    done
fi
if ((${#IVR_ROWS[@]})); then
    echo
    say "2. IVR calls held ${HOLD_MS} ms with audio both ways (CPU over ${WINDOW} s or less with all calls up)"
    printf '%s\n' "$IVR_HEADER" "${IVR_ROWS[@]}"
    for mode in $MODES; do
        say "   $mode: most concurrent calls held with 0 failures: ${BEST_LEVEL[$mode]:-none}"
    done
fi
if ((${#REC_ROWS[@]})); then
    echo
    say "3. records at $REC_RATE calls/s offered for $REC_SECS s (rows in calls; CPU over SIPp's run)"
    printf '%s\n' "$REC_HEADER" "${REC_ROWS[@]}"
    say "   rows/ended in calls by seconds since SIPp started:"
    printf 'bench:     %s\n' "${REC_SERIES[@]}"
fi
if ((MAX_OTHER > 20)); then
    echo
    say "WARNING: other work on this machine took up to ${MAX_OTHER}% of a core during the measurements"
    say "         (other%): every figure above is skewed by it; rerun on an idle machine"
fi
