#!/usr/bin/env bash
# Bridge benchmark for hotline: caller <-> agent pairs relayed through hotline's RTP bridge
# (on demand, not run by CI).
#
#   scripts/bench-bridge.sh
#
# Builds hotline and the agent farm (benches/agent_farm.rs) in release, adds the agents
# with `hotline agents add`, starts one `hotline serve` on 127.0.0.1 pinned to one core
# with a dial plan whose start node is the queue "general" (ring timeout 10 s, no wrap-up,
# long max wait), and starts the farm on the other core: every agent registers with
# digest auth, logs in by dialling *1, then answers every call, streams a tone and counts
# what hotline relays back. For each level L, SIPp (same core as the farm) places L calls
# at L/RAMP calls/s, each holding HOLD s with a 440 Hz tone; while all L pairs are bridged
# the script measures hotline over a steady window. The farm hangs up each agent leg
# HOLD+8 s after answering (the caller has gone by then; the leg is in wrap-up), and the
# next level starts once every agent is available again. One row per level:
#
#   pairs        concurrent caller<->agent pairs asked for (SIPp -l L -m L)
#   bridged      agent legs the farm had up when the window started (should equal pairs)
#   cpu%         hotline's utime+stime (/proc/PID/stat, all threads) over the window, as %
#                of one core
#   cpu%/pair    cpu% / bridged; the target is <= 0.1
#   rss_MiB      VmRSS at the end of the window
#   loss%        farm side, over the window: 1 - packets received / packets expected at
#                50/s per leg (counts what hotline never sent as well as what was lost)
#   seqloss%     farm side: 1 - received / expected from RTP sequence numbers (lost on
#                the way only)
#   silent%      farm side: received frames without the caller's tone, i.e. silence
#                hotline sent because no relayed frame was waiting (SIPp's uneven pacing
#                shows up here, as does any relay loss)
#   failed       SIPp's FailedCall(C)
#   note         what may make the row untrustworthy (other work on hotline's core, ...)
#
# A line "idle" before the levels gives hotline's CPU with all agents registered and
# logged in but no call up.
#
# Needs: sipp (sip-tester), sox, python3, taskset, timeout, awk; two cores for pinning.
#
# Environment (all optional):
#   HOTLINE_BENCH_LEVELS="250 500 1000"   pairs per level
#   HOTLINE_BENCH_AGENTS=N          agents (default: the largest level)
#   HOTLINE_BENCH_RAMP_S=10         seconds over which a level's calls are placed
#   HOTLINE_BENCH_SETTLE_S=5 / HOTLINE_BENCH_WINDOW_S=10   window after the ramp
#   HOTLINE_BENCH_HOLD_S            caller hold time (default ramp+settle+window+5)
#   HOTLINE_BENCH_SERVER_CPU=0 / HOTLINE_BENCH_LOAD_CPU=1   cores (farm and SIPp share
#                                   the second)
#   HOTLINE_BENCH_SKIP_BUILD=1      use already built binaries (HOTLINE_BIN, FARM_BIN)
#   HOTLINE_BENCH_KEEP=1            keep the temp dir (hotline.log, farm.log, SIPp files)
#   RUST_LOG                        passed to hotline; default "warn"
#   CARGO_TARGET_DIR                as for cargo
#
# Caveat: anything else running (a build, tests) shows up in every column, and SIPp and
# the farm share a core: run it on an otherwise idle machine and take the median of 3.
set -euo pipefail

# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench-lib.sh"


LEVELS=${HOTLINE_BENCH_LEVELS:-"250 500 1000"}
RAMP=${HOTLINE_BENCH_RAMP_S:-10}
SETTLE=${HOTLINE_BENCH_SETTLE_S:-5}
WINDOW=${HOTLINE_BENCH_WINDOW_S:-10}
HOLD=${HOTLINE_BENCH_HOLD_S:-$((RAMP + SETTLE + WINDOW + 5))}
SERVER_CPU=${HOTLINE_BENCH_SERVER_CPU:-0}
LOAD_CPU=${HOTLINE_BENCH_LOAD_CPU:-1}
RTP_LOW=20000
RTP_HIGH=31999
PASSWORD=bench-secret
FIRST_EXT=1000
max_level=0
for l in $LEVELS; do
    [[ "$l" =~ ^[1-9][0-9]*$ ]] || die "bad level '$l'"
    ((l > max_level)) && max_level=$l
done
AGENTS=${HOTLINE_BENCH_AGENTS:-$max_level}
((AGENTS >= max_level)) || die "$AGENTS agents cannot take $max_level pairs"
((4 * max_level < RTP_HIGH - RTP_LOW)) || die "RTP range too small for $max_level pairs"
((HOLD > RAMP + SETTLE + WINDOW)) || die "hold ${HOLD}s ends before the window does"
for tool in sipp sox python3 taskset timeout awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
# Two sockets per leg on hotline's side, one per leg on the farm's.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

SERVER_PIN=(taskset -c "$SERVER_CPU")
LOAD_PIN=(taskset -c "$LOAD_CPU")
if ! taskset -c "$SERVER_CPU" true 2>/dev/null || ! taskset -c "$LOAD_CPU" true 2>/dev/null; then
    say "WARNING: cannot pin to cores $SERVER_CPU and $LOAD_CPU; running unpinned"
    SERVER_PIN=()
    LOAD_PIN=()
fi

# ---------------------------------------------------------------- build
FARM=${FARM_BIN:-}
if [[ "${HOTLINE_BENCH_SKIP_BUILD:-}" != 1 ]]; then
    say "cargo build --release (hotline, agent_farm)"
    # The farm's path has a hash in it: take it from cargo's own report.
    FARM=$(nice -n 10 cargo build --release --bin hotline --bench agent_farm \
        --message-format=json-render-diagnostics |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "agent_farm" and m.get("executable"):
        print(m["executable"])')
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"
[[ -n "$FARM" && -x "$FARM" ]] || die "no agent farm binary (set FARM_BIN with HOTLINE_BENCH_SKIP_BUILD=1)"

# Free ports on 127.0.0.1: hotline SIP (UDP+TCP), SIPp SIP, SIPp media (even, +0..+3).
read -r PORT SIPP_PORT MEDIA_PORT < <(python3 - "$RTP_LOW" "$RTP_HIGH" <<'EOF'
import socket, sys
low, high = int(sys.argv[1]), int(sys.argv[2])
held = []
def grab(tcp=False, span=1):
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        p = u.getsockname()[1]
        if (span > 1 and p % 2) or low <= p <= high + span:
            u.close(); continue
        socks = [u]
        try:
            for k in range(1, span):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); socks.append(s)
                s.bind(("127.0.0.1", p + k))
            if tcp:
                t = socket.socket(); socks.append(t); t.bind(("127.0.0.1", p))
        except OSError:
            for s in socks: s.close()
            continue
        held.extend(socks)
        return p
print(grab(tcp=True), grab(), grab(span=4))
EOF
)

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hotline-bench-bridge.XXXXXX")
SERVER_PID=""
FARM_PID=""
SIPP_PID=""
stop_bg() {      # stop_bg PID: TERM, up to 5 s, then KILL
    local pid=$1 i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_farm() {    # closing its stdin makes it print its summary and exit
    [[ -n "$FARM_PID" ]] || return 0
    exec 3>&- || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$FARM_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_bg "$FARM_PID"
    FARM_PID=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    stop_bg "$SIPP_PID"
    stop_farm
    stop_bg "$SERVER_PID"
    keep_or_remove_tmp
    exit "$rc"
}
trap_cleanup

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
server_alive() { [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; }
# key=value from the farm's last line starting with $1.
farm_field() { awk -v kind="$1" -v k="$2" '$1 == kind { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print v + 0 }' "$TMP/farm.log"; }
farm_rtp() { grep '^rtp ' "$TMP/farm.log" | tail -n 1; }
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
available() { "$BIN" agents --database "$DB" list --json | grep -o '"state":"available"' | wc -l; }
wait_for() {     # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
    local limit=$1 what=$2 end=$((SECONDS + $1))
    shift 2
    until "$@"; do
        ((SECONDS < end)) || die "$what: not within ${limit} s"
        server_alive || { tail -n 20 "$TMP/hotline.log" >&2; die "hotline died ($what)"; }
        sleep 0.5
    done
}

# ---------------------------------------------------------------- set-up
DB="sqlite://$TMP/bench.db"
mkdir -p "$TMP/plans"
cp "$ROOT/tests/fixtures/queue-plan.toml" "$TMP/plans/bench.toml"
cat >"$TMP/queues.toml" <<'EOF'
[queues.general]
strategy = "longest_idle"
ring_timeout_secs = 10
max_wait_secs = 600
wrap_up_secs = 0
announce_every_secs = 600
EOF
# The caller: INVITE, ACK, a looped tone (headerless u-law), hold -d ms, BYE.
cat >"$TMP/caller.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bridge_uac">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <nop><action><exec rtp_stream="caller-audio.ul,-1,0"/></action></nop>
  <pause/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
EOF
sox -n -r 8000 -c 1 -t ul "$TMP/caller-audio.ul" synth 10 sine 440 vol 0.3

if rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    say "source: $rev; hotline SIP 127.0.0.1:$PORT (core $SERVER_CPU), farm + SIPp (core $LOAD_CPU)"
fi
say "levels: $LEVELS; $AGENTS agents; ramp ${RAMP}s, hold ${HOLD}s, window ${WINDOW}s; temp dir $TMP"

"$BIN" migrate --database "$DB" >/dev/null
say "adding $AGENTS agents (hotline agents add, 2 at a time)"
t0=$SECONDS
# shellcheck disable=SC2016  # $0 and $1 are sh -c's arguments, expanded there
seq "$FIRST_EXT" $((FIRST_EXT + AGENTS - 1)) |
    HOTLINE_AGENT_PASSWORD=$PASSWORD xargs -P 2 -I{} sh -c \
        '"$0" agents --database "$1" add --id {} --name "Agent {}" --queue general >/dev/null 2>&1 ||
         "$0" agents --database "$1" add --id {} --name "Agent {}" --queue general >/dev/null' \
        "$BIN" "$DB"
say "agents added in $((SECONDS - t0)) s"

RUST_LOG=${RUST_LOG:-warn} "${SERVER_PIN[@]}" "$BIN" serve \
    --sip-listen "127.0.0.1:$PORT" \
    --rtp-ports "$RTP_LOW-$RTP_HIGH" \
    --database "$DB" \
    --dialplans "$TMP/plans" \
    --queues "$TMP/queues.toml" \
    --prompts "$ROOT/prompts" \
    --ring-delay-ms 0 \
    --drain-secs 0 \
    </dev/null >"$TMP/hotline.log" 2>&1 &
SERVER_PID=$!     # taskset execs the binary: this is hotline's own pid
wait_for 30 "hotline listening" grep -q 'listening on' "$TMP/hotline.log"

mkfifo "$TMP/farm.in"
FARM_PASSWORD=$PASSWORD "${LOAD_PIN[@]}" "$FARM" --server "127.0.0.1:$PORT" \
    --first "$FIRST_EXT" --count "$AGENTS" --hangup-after-secs $((HOLD + 8)) \
    <"$TMP/farm.in" >"$TMP/farm.log" 2>"$TMP/farm.err" &
FARM_PID=$!
exec 3>"$TMP/farm.in"     # held open: the farm runs until it is closed
t0=$SECONDS
farm_ready() { (($(farm_field farm ready) + $(farm_field farm failed) >= AGENTS)); }
wait_for 120 "agents logged in (farm)" farm_ready
failed_agents=$(farm_field farm failed)
((failed_agents == 0)) || { head -n 20 "$TMP/farm.err" >&2; die "$failed_agents agents failed to log in"; }
all_available() { (($(available) >= AGENTS)); }
wait_for 60 "agents available (hotline agents list)" all_available
say "$AGENTS agents registered and available in $((SECONDS - t0)) s"

# ---------------------------------------------------------------- idle
sleep 2
c0=$(proc_ticks "$SERVER_PID"); w0=$(now_ms)
sleep 5
c1=$(proc_ticks "$SERVER_PID"); w1=$(now_ms)
idle_cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((w1 - w0)) 'BEGIN { printf "%.1f", 100 * d / hz / (ms / 1000) }')
idle_rss=$(awk -v k="$(proc_status_kb "$SERVER_PID" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')

table_row() { printf '%6s %8s %6s %9s %8s %7s %9s %8s %7s  %s\n' "$@"; }
header=$(table_row pairs bridged cpu% cpu%/pair rss_MiB loss% seqloss% silent% failed note)
rows=("$(table_row idle 0 "$idle_cpu" - "$idle_rss" - - - - "$AGENTS agents logged in, no calls")")

# ---------------------------------------------------------------- levels
run=0
for level in $LEVELS; do
    run=$((run + 1))
    dir=$TMP/$run-L$level
    mkdir -p "$dir"
    ln -s ../caller-audio.ul "$dir/caller-audio.ul"
    note=()
    rate=$(( (level + RAMP - 1) / RAMP ))
    limit=$((RAMP + HOLD + 60))
    ended0=$(farm_field farm ended)
    say "level $level: $rate calls/s, hold ${HOLD}s"
    t_start=$(now_ms)
    (cd "$dir" && exec timeout -k 5 "$limit" "${LOAD_PIN[@]}" sipp "127.0.0.1:$PORT" \
        -sf "$TMP/caller.xml" -s bench -i 127.0.0.1 -p "$SIPP_PORT" \
        -mi 127.0.0.1 -mp "$MEDIA_PORT" \
        -r "$rate" -l "$level" -m "$level" -d $((HOLD * 1000)) \
        -buff_size 4194304 -nostdin -timeout "$((limit - 5))s" \
        -trace_stat -stf stat.csv -fd 1 -trace_err \
        </dev/null >sipp.out 2>sipp.err) &
    SIPP_PID=$!

    # The window: after the ramp and the settle time, once every pair is bridged (or at
    # the latest start that still ends before the first caller hangs up).
    sleep $((RAMP + SETTLE))
    latest=$((t_start + (HOLD - WINDOW - 2) * 1000))
    while (($(farm_field farm calls) < level && $(now_ms) < latest)); do sleep 0.2; done
    bridged=$(farm_field farm calls)
    server_alive || note+=("hotline died before the window")
    r0=$(farm_rtp)
    c0=$(proc_ticks "$SERVER_PID" || echo 0); k0=$(cpu_busy_ticks "$SERVER_CPU"); w0=$(now_ms)
    sleep "$WINDOW"
    c1=$(proc_ticks "$SERVER_PID" || echo "$c0"); k1=$(cpu_busy_ticks "$SERVER_CPU"); w1=$(now_ms)
    sleep 1.1      # the farm's next per-second line covers the window's end
    r1=$(farm_rtp)
    rss=$(proc_status_kb "$SERVER_PID" VmRSS)
    (( (w1 - t_start) / 1000 < HOLD )) || note+=("window overran the first hang-up")

    # SIPp: until every call is done (it can hang at exit after its last call).
    done_since=""
    while kill -0 "$SIPP_PID" 2>/dev/null; do
        ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
        failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
        if [[ "$ok" =~ ^[0-9]+$ && "$failed" =~ ^[0-9]+$ ]] && ((ok + failed >= level)); then
            [[ -n "$done_since" ]] || done_since=$SECONDS
            ((SECONDS - done_since < 3)) || { kill -TERM "$SIPP_PID" 2>/dev/null || true; break; }
        fi
        sleep 0.5
    done
    wait "$SIPP_PID" 2>/dev/null || true
    SIPP_PID=""
    ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    retrans=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
    [[ "$retrans" == 0 || "$retrans" == "?" ]] || note+=("$retrans SIPp retransmissions")

    # Legs end HOLD+8 s after their answer; then every agent is free for the next level.
    legs_done() { (($(farm_field farm calls) == 0)); }
    wait_for 60 "agent legs hung up" legs_done
    wait_for 30 "agents available again" all_available
    legs=$(( $(farm_field farm ended) - ended0 ))
    ((legs == level)) || note+=("$legs agent legs in this level")

    cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((w1 - w0)) 'BEGIN { printf "%.1f", 100 * d / hz / (ms / 1000) }')
    per=$(awk -v c="$cpu" -v n="$bridged" 'BEGIN { if (n > 0) printf "%.3f", c / n; else print "-" }')
    other=$(awk -v d=$((k1 - k0 - (c1 - c0))) -v hz="$CLK_TCK" -v ms=$((w1 - w0)) 'BEGIN { printf "%.0f", 100 * d / hz / (ms / 1000) }')
    ((other <= 10)) || note+=("core $SERVER_CPU ${other}% busy with other work")
    read -r loss seqloss silent < <(awk \
        -v rx0="$(field "$r0" rx)" -v rx1="$(field "$r1" rx)" \
        -v e0="$(field "$r0" exp)" -v e1="$(field "$r1" exp)" \
        -v s0="$(field "$r0" seq_exp)" -v s1="$(field "$r1" seq_exp)" \
        -v l0="$(field "$r0" loud)" -v l1="$(field "$r1" loud)" 'BEGIN {
            rx = rx1 - rx0; e = e1 - e0; s = s1 - s0; l = l1 - l0
            printf "%.3f %.3f %.2f\n", (e > 0 ? 100 * (1 - rx / e) : 0), (s > 0 ? 100 * (1 - rx / s) : 0), (rx > 0 ? 100 * (1 - l / rx) : 0) }')
    [[ "$bridged" == "$level" ]] || note+=("$bridged of $level bridged at window start")
    notes=""
    for n in "${note[@]}"; do notes+="${notes:+; }$n"; done
    row=$(table_row "$level" "$bridged" "$cpu" "$per" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$loss" "$seqloss" "$silent" "$failed" "$notes")
    rows+=("$row")
    printf '\n%s\n%s\n' "$header" "$row"
    if [[ "$failed" != 0 ]]; then
        shopt -s nullglob
        for f in "$dir"/*_errors.log; do
            say "level $level: SIPp errors ($(wc -l <"$f") lines), first ones:"
            head -n 10 "$f" | sed 's/^/    /'
        done
        shopt -u nullglob
    fi
    sleep 2
done

stop_farm
summary=$(grep '^summary ' "$TMP/farm.log" || true)
echo
say "summary (hold ${HOLD}s, window ${WINDOW}s; hotline pinned to core $SERVER_CPU):"
printf '%s\n' "$header"
printf '%s\n' "${rows[@]}"
say "farm, all calls: ${summary#summary }"
if grep -qiE 'warn|error' "$TMP/hotline.log"; then
    say "hotline.log warnings/errors (first 10):"
    grep -iE 'warn|error' "$TMP/hotline.log" | head -n 10 | sed 's/^/    /'
fi
[[ ! -s "$TMP/farm.err" ]] || { say "farm stderr (first 10):"; head -n 10 "$TMP/farm.err" | sed 's/^/    /'; }
