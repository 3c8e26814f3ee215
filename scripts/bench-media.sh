#!/usr/bin/env bash
# Media benchmark for hotline: concurrent calls with audio both ways (on demand, not run by CI).
#
#   scripts/bench-media.sh
#
# Builds the release binary, then for each level L starts a fresh `hotline serve` on
# 127.0.0.1 pinned to one core and has SIPp (../shared/sipp/ivr_uac.xml, pinned to the
# other core) place L calls at L/5 calls/s, so that all L are up after about 5 s. Each
# caller streams a 440 Hz tone, presses "1" (RFC 4733) one second in and hangs up after
# the hold time. While all calls are up it measures hotline's CPU and memory, captures
# hotline's outgoing RTP to work out its pacing, and afterwards counts the digits hotline
# stored. One row per level:
#
#   level        concurrent calls placed (SIPp -l L -m L -r L/5)
#   ok / failed  SIPp's SuccessfulCall(C) / FailedCall(C), last row of its -trace_stat file
#   up           hotline's RTP sockets (even ports of 127.0.0.1:20000-29999; the odd one
#                above each is its RTCP socket) when the window starts, i.e. calls with
#                media up; should equal level
#   cpu%         hotline's utime+stime (/proc/PID/stat, all threads) over the window,
#                as % of one core (100 = one core busy)
#   rss_MiB      VmRSS at the end of the window
#   peak_MiB     VmHWM when the level ends (fresh process per level: the run's peak RSS)
#   p50/p99/max_gap_ms  gaps between consecutive packets of each of hotline's outgoing RTP
#                streams (one per call, told apart by source port) in a capture of the
#                window (dumpcap on lo, udp dst port = SIPp's media port), pooled over all
#                streams; 20 ms is perfect pacing
#   lost         RTP sequence-number gaps in those streams, summed (a packet hotline never
#                sent, or one the capture dropped: see the note column for capture drops)
#   drops        receive-buffer drops on hotline's own UDP sockets (SIP, RTP, RTCP): the "drops"
#                column of /proc/PID/net/udp for the inodes among hotline's fds, sampled
#                every second during the run, max per socket, summed
#   digits/calls call ids with a 'dtmf' '1' event in hotline's call_events / ok
#   note         what may make the row untrustworthy: capture drops, fewer streams
#                captured than calls up, other work on hotline's core, SIPp retransmissions,
#                SIPp hung or killed, hotline died. When calls failed, digits are missing
#                or calls were not up, hotline's end causes, log tail and SIPp's error log
#                are printed under the row.
#
# The window: starts settle s after the ramp-up (default 3 s) and lasts window s (default
# 5 s); both shrink when the hold time leaves no room for them before the first call ends.
#
# Needs: sipp (sip-tester), sox, dumpcap + tshark (wireshark-common, tshark), sqlite3,
# python3, taskset, timeout, awk; two cores for pinning; root (or capture rights) for dumpcap.
#
# Environment (all optional):
#   HOTLINE_BENCH_LEVELS="250 500 1000 2000"  concurrent calls per level (each >= 5)
#   HOTLINE_BENCH_HOLD_MS=20000        SIPp -d: how long each call is held after the digit's
#                                      pause (a call lasts about 1 s + this)
#   HOTLINE_BENCH_SETTLE_S=3 / HOTLINE_BENCH_WINDOW_S=5   measurement window (integers)
#   HOTLINE_BENCH_PORT / HOTLINE_BENCH_SIPP_PORT / HOTLINE_BENCH_MEDIA_PORT
#                                      hotline's SIP port / SIPp's SIP port / SIPp's media
#                                      port (default: free ones; media port uses +0..+3)
#   HOTLINE_BENCH_SERVER_CPU=0 / HOTLINE_BENCH_SIPP_CPU=1   cores to pin to (SIPp, dumpcap
#                                      and the samplers share the second)
#   HOTLINE_BENCH_SCENARIO=path        SIPp caller scenario (default ../shared/sipp/ivr_uac.xml)
#   HOTLINE_BENCH_SKIP_BUILD=1         do not run cargo build
#   HOTLINE_BIN=path                   server binary (default target/release/hotline)
#   HOTLINE_BENCH_KEEP=1               keep the temp dir (per level: hotline.log, bench.db,
#                                      SIPp stat/error files, cap.pcapng, gaps, samples)
#   RUST_LOG                           passed to hotline; default "warn"
#
# Caveat: a machine that is busy with anything else (a build, tests) shows up in every
# column; run it with the machine otherwise idle, and take the median of 3 runs.
set -euo pipefail

# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bench-lib.sh"


LEVELS=${HOTLINE_BENCH_LEVELS:-"250 500 1000 2000"}
HOLD_MS=${HOTLINE_BENCH_HOLD_MS:-20000}
SETTLE=${HOTLINE_BENCH_SETTLE_S:-3}
WINDOW=${HOTLINE_BENCH_WINDOW_S:-5}
SERVER_CPU=${HOTLINE_BENCH_SERVER_CPU:-0}
SIPP_CPU=${HOTLINE_BENCH_SIPP_CPU:-1}
SCENARIO=${HOTLINE_BENCH_SCENARIO:-$ROOT/../shared/sipp/ivr_uac.xml}
RTP_LOW=20000
RTP_HIGH=29999

[[ "$HOLD_MS" =~ ^[1-9][0-9]*$ ]] || die "HOTLINE_BENCH_HOLD_MS must be a positive integer"
[[ "$SETTLE" =~ ^[0-9]+$ ]] || die "HOTLINE_BENCH_SETTLE_S must be an integer"
[[ "$WINDOW" =~ ^[1-9][0-9]*$ ]] || die "HOTLINE_BENCH_WINDOW_S must be a positive integer"
for l in $LEVELS; do
    if ! [[ "$l" =~ ^[1-9][0-9]*$ ]] || ((l < 5)); then
        die "bad level '$l' in HOTLINE_BENCH_LEVELS (integers >= 5)"
    fi
    ((l <= RTP_HIGH - RTP_LOW)) || die "level $l exceeds the RTP port range"
done
[[ -r "$SCENARIO" ]] || die "no SIPp scenario at $SCENARIO"
[[ -d "$ROOT/prompts" ]] || die "no prompts folder at $ROOT/prompts"
command -v sipp >/dev/null 2>&1 || die "sipp not found (Debian: apt-get install sip-tester)"
command -v sox >/dev/null 2>&1 || die "sox not found (Debian: apt-get install sox)"
command -v sqlite3 >/dev/null 2>&1 || die "sqlite3 not found (Debian: apt-get install sqlite3)"
if ! command -v dumpcap >/dev/null 2>&1 || ! command -v tshark >/dev/null 2>&1; then
    die "dumpcap/tshark not found. Debian, non-interactive:
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y tshark"
fi
for tool in python3 taskset timeout awk sort getconf find; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
DTMF_PCAP=$(sed -n 's/.*play_pcap_audio="\([^"]*\)".*/\1/p' "$SCENARIO" | head -n 1)
[[ -z "$DTMF_PCAP" || -r "$DTMF_PCAP" ]] || die "the scenario's DTMF pcap $DTMF_PCAP is missing (sip-tester)"

# Pinning: only if both cores exist.
SERVER_PIN=(taskset -c "$SERVER_CPU")
SIPP_PIN=(taskset -c "$SIPP_CPU")
if ! taskset -c "$SERVER_CPU" true 2>/dev/null || ! taskset -c "$SIPP_CPU" true 2>/dev/null; then
    say "WARNING: cannot pin to cores $SERVER_CPU and $SIPP_CPU; running unpinned"
    SERVER_PIN=()
    SIPP_PIN=()
fi

# Three free ports on 127.0.0.1: hotline's SIP port (UDP and TCP: it listens on both),
# SIPp's SIP port (UDP), and an even SIPp media port P with P..P+3 free (SIPp also binds
# P+2 for video; +1/+3 are the RTCP neighbours). None inside hotline's RTP range.
free_ports() {
    python3 - "$RTP_LOW" "$RTP_HIGH" <<'EOF'
import socket, sys
low, high = int(sys.argv[1]), int(sys.argv[2])
held, out = [], []
def grab(tcp_too=False, span=1):
    for _ in range(200):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        p = u.getsockname()[1]
        if span > 1 and p % 2:
            u.close(); continue
        if low <= p <= high + span:
            u.close(); continue
        socks = [u]
        try:
            for k in range(1, span):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p + k))
            if tcp_too:
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", p))
        except OSError:
            for s in socks: s.close()
            continue
        held.extend(socks)          # keep them until all three are chosen
        return p
    raise SystemExit(1)
print(grab(tcp_too=True), grab(), grab(span=4))
EOF
}
read -r p_sip p_sipp p_media < <(free_ports || echo "15060 15070 16000")
PORT=${HOTLINE_BENCH_PORT:-$p_sip}
SIPP_PORT=${HOTLINE_BENCH_SIPP_PORT:-$p_sipp}
MEDIA_PORT=${HOTLINE_BENCH_MEDIA_PORT:-$p_media}
[[ "$PORT" != "$SIPP_PORT" ]] || die "hotline and SIPp would share port $PORT"

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hotline-bench-media.XXXXXX")
SERVER_PID=""
SIPP_PID=""
CAP_PID=""
SAMPLER_PID=""
stop_bg() {      # stop_bg PID: TERM, up to 5 s, then KILL; reaps it
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
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do       # up to 10 s for a graceful stop (--drain-secs 0)
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
    stop_bg "$SAMPLER_PID"
    stop_bg "$CAP_PID"
    stop_bg "$SIPP_PID"          # timeout(1) passes TERM on to sipp
    stop_server
    keep_or_remove_tmp
    exit "$rc"
}
trap_cleanup

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
sleep_until_ms() { local d=$(( $1 - $(now_ms) )); ((d <= 0)) || sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"; }
server_alive() { [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }


# hotline's UDP sockets, one line each: "local_port inode drops". /proc/PID/net/udp lists
# every IPv4 UDP socket of the network namespace (SIPp's too), so keep only the inodes
# that are among hotline's fds. (hotline binds 127.0.0.1 only: no need for udp6.)
# This works: the last column of /proc/PID/net/udp is the socket's drop count (checked
# with an unread socket: it counts). /proc/net/snmp does not: Udp InErrors/RcvbufErrors
# are system-wide, and SIPp never reads its media port, so nearly every packet hotline
# sends there is dropped and counted (250 calls held 8 s: RcvbufErrors +112,494 while
# hotline's own sockets dropped 0). The level's snmp.txt keeps that delta for reference.
# `ss -uanm` would also do per socket, but this is cheaper to sample.
hotline_udp() {
    local pid=$1
    { find "/proc/$pid/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null || true; } |
        awk -v table="/proc/$pid/net/udp" '
            function hex(s,   i, n) {
                n = 0
                for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
                return n
            }
            { gsub(/[^0-9]/, ""); want[$0] = 1 }
            END {
                while ((getline line < table) > 0) {
                    n = split(line, f, " ")
                    if (!(f[10] in want)) continue
                    split(f[2], a, ":")
                    print hex(a[2]), f[10], f[n]
                }
            }'
}

# Udp counters (system-wide) from /proc/net/snmp: "InErrors RcvbufErrors".
snmp_udp() {
    awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else print $(c["InErrors"]), $(c["RcvbufErrors"]) }' /proc/net/snmp
}

# Per-stream inter-packet gaps and sequence gaps of a capture of hotline's outgoing RTP.
# Prints "p50_ms p99_ms max_ms lost streams packets" ("- - - - 0 0" if no RTP).
rtp_gaps() {
    tshark -r "$1" -o rtp.heuristic_rtp:TRUE -T fields \
        -e udp.srcport -e frame.time_relative -e rtp.seq 2>/dev/null |
        python3 -c '
import sys
last = {}            # source port -> (time s, seq)
gaps = []
lost = 0
packets = 0
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    if len(f) < 3 or not f[0] or not f[2]:
        continue     # not decoded as RTP
    port, t, seq = f[0], float(f[1]), int(f[2].split(",")[0])
    packets += 1
    if port in last:
        lt, ls = last[port]
        gaps.append((t - lt) * 1000.0)
        d = (seq - ls) & 0xFFFF
        if 1 < d < 0x8000:       # forward jump: d-1 packets missing (reordering ignored)
            lost += d - 1
    last[port] = (t, seq)
if not gaps:
    print("- - - - 0", packets)
    sys.exit()
gaps.sort()
def pct(p):          # nearest rank
    i = max(1, -(-len(gaps) * p // 100))
    return gaps[int(i) - 1]
print("%.1f %.1f %.1f %d %d %d" % (pct(50), pct(99), gaps[-1], lost, len(last), packets))
'
}

# ---------------------------------------------------------------- build
if [[ "${HOTLINE_BENCH_SKIP_BUILD:-}" != 1 ]]; then
    say "cargo build --release"
    cargo build --release
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"

# Caller audio: headerless u-law (rtp_stream would send a WAV header as audio); the
# scenario loops it, 25 s is longer than any call needs anyway.
sox -n -r 8000 -c 1 -t ul "$TMP/caller-audio.ul" synth 25 sine 440 vol 0.3

start_server() {     # start_server DIR
    local dir=$1
    RUST_LOG=${RUST_LOG:-warn} "${SERVER_PIN[@]}" "$BIN" serve \
        --sip-listen "127.0.0.1:$PORT" \
        --rtp-ports "$RTP_LOW-$RTP_HIGH" \
        --database "sqlite://$dir/bench.db" \
        --ring-delay-ms 0 \
        --drain-secs 0 \
        --prompts "$ROOT/prompts" \
        </dev/null >"$dir/hotline.log" 2>&1 &
    SERVER_PID=$!      # taskset execs the binary: this is hotline's own pid

    # Ready when one SIPp call (built-in uac, no media, no digit) completes: at most 40
    # tries of <= 3 s each, and 60 s in all.
    mkdir -p "$dir/probe"
    local try deadline=$((SECONDS + 60))
    for ((try = 1; try <= 40 && SECONDS < deadline; try++)); do
        server_alive || { tail -n 30 "$dir/hotline.log" >&2; die "hotline exited during start-up"; }
        if (cd "$dir/probe" && timeout -k 1 3 sipp "127.0.0.1:$PORT" -sn uac -i 127.0.0.1 -p "$SIPP_PORT" \
                -m 1 -d 0 -nostdin -timeout 2s -recv_timeout 2000 -max_retrans 2 \
                </dev/null >/dev/null 2>&1); then
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$dir/hotline.log" >&2
    die "hotline did not complete a test call within 60 s"
}

if rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock migrations 2>/dev/null | wc -l)
    say "source: $rev$( ((dirty == 0)) || echo " + uncommitted changes in $dirty file(s)")"
fi
say "binary $BIN; hotline SIP 127.0.0.1:$PORT (core $SERVER_CPU), SIPp SIP :$SIPP_PORT media :$MEDIA_PORT (core $SIPP_CPU)"
say "levels: $LEVELS; hold ${HOLD_MS} ms; temp dir $TMP"
table_row() { printf '%6s %6s %6s %6s %6s %8s %8s %6s %6s %6s %6s %6s %12s  %s\n' "$@"; }
header=$(table_row level ok failed up cpu% rss_MiB peak_MiB p50_ms p99_ms max_ms lost drops digits/calls note)
rows=()
run=0

# ---------------------------------------------------------------- levels
for level in $LEVELS; do
    run=$((run + 1))
    dir=$TMP/$run-L$level               # a level may be listed twice
    mkdir -p "$dir"
    ln -s ../caller-audio.ul "$dir/caller-audio.ul"
    note=()

    # Timing, in ms from SIPp's start: the last call is placed at ramp, the first one
    # hangs up at about first_end (1 s to the digit, then the hold). The window must fit
    # in between, with 1 s to spare for late set-ups and early hang-ups.
    rate=$((level / 5))
    ramp=$(( (level - 1) * 1000 / rate ))
    first_end=$((1000 + HOLD_MS))
    room=$((first_end - ramp - 1000))
    win=$WINDOW
    settle=$SETTLE
    if ((settle * 1000 + win * 1000 > room)); then
        win=$(( (room - 500) / 1000 ))
        ((win <= WINDOW)) || win=$WINDOW
        ((win >= 1)) || die "level $level: hold ${HOLD_MS} ms leaves no 1 s window with all calls up (ramp ${ramp} ms)"
        settle_ms=$((room - win * 1000))
        ((settle_ms <= SETTLE * 1000)) || settle_ms=$((SETTLE * 1000))
    else
        settle_ms=$((settle * 1000))
    fi
    call_ms=$((ramp + first_end + 2000))             # until the last BYE is answered
    sipp_limit=$(( call_ms / 1000 + 30 ))            # SIPp's own -timeout (s)
    hard_limit=$((sipp_limit + 15))                  # timeout(1) backstop (s)

    say "level $level: starting hotline; $rate calls/s, window ${win} s from $(( (ramp + settle_ms) / 1000 )).$(( (ramp + settle_ms) % 1000 / 100 )) s"
    start_server "$dir"
    snmp0=$(snmp_udp)

    # In the background, so that the window can be measured while it runs and so that
    # ctrl-c / TERM reach the cleanup trap at once.
    t_start=$(now_ms)
    (cd "$dir" && exec timeout -k 5 "$hard_limit" "${SIPP_PIN[@]}" sipp "127.0.0.1:$PORT" \
        -sf "$SCENARIO" -s hotline -i 127.0.0.1 -p "$SIPP_PORT" \
        -mi 127.0.0.1 -mp "$MEDIA_PORT" \
        -r "$rate" -l "$level" -m "$level" -d "$HOLD_MS" \
        -buff_size 4194304 -nostdin -timeout "${sipp_limit}s" \
        -trace_stat -stf stat.csv -fd 1 -trace_err \
        </dev/null >sipp.out 2>sipp.err) &
    SIPP_PID=$!

    # Drops sampler: every second until told to stop (or the run's hard limit), pinned
    # with SIPp; lines "inode drops" for sockets that dropped anything.
    (
        for ((i = 0; i < hard_limit + 30; i++)); do
            hotline_udp "$SERVER_PID" | awk '$3 > 0 { print $2, $3 }' >>"$dir/drops.samples" || true
            sleep 1
        done
    ) &
    SAMPLER_PID=$!
    taskset -pc "$SIPP_CPU" "$SAMPLER_PID" >/dev/null 2>&1 || true

    # ---- the window
    sleep_until_ms $((t_start + ramp + settle_ms))
    if ! server_alive; then
        note+=("hotline died before the window")
    fi
    # Calls with media up = hotline's sockets in its RTP range. SIPp starts placing calls a
    # little after it is started: wait (0.2 s steps) for all of them, but not past the
    # last start that still ends the window before the first call hangs up.
    latest=$((t_start + first_end - 500 - win * 1000))
    for ((i = 0; i < 100; i++)); do
        up=$(hotline_udp "$SERVER_PID" | awk -v lo="$RTP_LOW" -v hi="$RTP_HIGH" '$1 >= lo && $1 <= hi && $1 % 2 == 0' | wc -l)
        ((up < level && $(now_ms) < latest)) || break
        sleep 0.2
    done
    "${SIPP_PIN[@]}" dumpcap -q -i lo -f "udp dst port $MEDIA_PORT" -s 64 -B 64 \
        -a "duration:$win" -w "$dir/cap.pcapng" </dev/null >/dev/null 2>"$dir/dumpcap.err" &
    CAP_PID=$!
    for ((i = 0; i < 30; i++)); do                    # up to 3 s for the capture to start
        [[ -s "$dir/cap.pcapng" ]] && break
        kill -0 "$CAP_PID" 2>/dev/null || break
        sleep 0.1
    done
    w0=$(now_ms)
    c0=$(proc_ticks "$SERVER_PID" || echo 0)
    k0=$(cpu_busy_ticks "$SERVER_CPU")
    sleep "$win"
    c1=$(proc_ticks "$SERVER_PID" || echo "$c0")
    k1=$(cpu_busy_ticks "$SERVER_CPU")
    w1=$(now_ms)
    rss_kb=$(proc_status_kb "$SERVER_PID" VmRSS)
    for ((i = 0; i < 100; i++)); do                   # dumpcap stops itself; 10 s at most
        kill -0 "$CAP_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_bg "$CAP_PID"
    CAP_PID=""
    if (( w1 - t_start > first_end )); then
        note+=("window overran the first hang-up")
    fi

    # ---- the rest of the run. SIPp 3.6 sometimes completes every call and then hangs
    # at exit (waiting on its media threads): once its stat file has shown all calls done
    # for 3 s, SIGTERM it (it still writes its final stats). Judged from the stat file,
    # not from its exit code.
    sipp_deadline=$((SECONDS + hard_limit + 10))
    done_since=""
    termed=0
    while kill -0 "$SIPP_PID" 2>/dev/null && ((SECONDS < sipp_deadline)); do
        s_ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
        s_failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
        if [[ "$s_ok" =~ ^[0-9]+$ && "$s_failed" =~ ^[0-9]+$ ]] && ((s_ok + s_failed >= level)); then
            [[ -n "$done_since" ]] || done_since=$SECONDS
            if ((termed == 0 && SECONDS - done_since >= 3)); then
                kill -TERM "$SIPP_PID" 2>/dev/null || true     # timeout(1) passes it on
                termed=1
                note+=("sipp hung after its last call: SIGTERM")
            fi
        fi
        sleep 0.5
    done
    sipp_rc=0
    if kill -0 "$SIPP_PID" 2>/dev/null; then
        note+=("sipp still running at the deadline: killed")
        stop_bg "$SIPP_PID"
    else
        wait "$SIPP_PID" || sipp_rc=$?
    fi
    SIPP_PID=""
    case $sipp_rc in
        0 | 1 | 143) ;;                 # 1: some call failed; 143: our SIGTERM; counts say
        124 | 137) note+=("sipp killed by timeout after ${hard_limit} s") ;;
        *) note+=("sipp exit $sipp_rc") ;;
    esac
    stop_bg "$SAMPLER_PID"
    SAMPLER_PID=""
    snmp1=$(snmp_udp)
    peak_kb=$(proc_status_kb "$SERVER_PID" VmHWM)
    server_alive || note+=("hotline died")
    stop_server                                        # SIGTERM; --drain-secs 0

    # ---- results
    ok=$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')
    failed=$(stat_col "$dir/stat.csv" 'FailedCall(C)')
    retrans=$(stat_col "$dir/stat.csv" 'Retransmissions(C)')
    [[ "$retrans" == 0 || "$retrans" == "?" ]] || note+=("$retrans SIP retransmissions")
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((w1 - w0)) \
        'BEGIN { if (ms <= 0) print "?"; else printf "%.1f", 100 * d / hz / (ms / 1000) }')
    # Anything else that ran on hotline's core in the window (a build, tests) skews
    # every column: flag it when it took more than 10% of the core.
    other=$(awk -v d=$((k1 - k0 - (c1 - c0))) -v hz="$CLK_TCK" -v ms=$((w1 - w0)) \
        'BEGIN { if (ms <= 0) print 0; else printf "%.0f", 100 * d / hz / (ms / 1000) }')
    ((other <= 10)) || note+=("core $SERVER_CPU ${other}% busy with other work")
    rtp_gaps "$dir/cap.pcapng" >"$dir/gaps.txt" || echo "? ? ? ? 0 0" >"$dir/gaps.txt"
    read -r p50 p99 gmax lost streams _packets <"$dir/gaps.txt"
    [[ "$streams" == "$up" ]] || note+=("$streams RTP streams captured")
    # dumpcap's own drops (kernel buffer / interface): they would show up as "lost".
    capdrop=$(sed -n "s/.*received\/dropped on interface '[^']*': [0-9]*\/\([0-9]*\).*/\1/p" "$dir/dumpcap.err" | head -n 1)
    [[ -z "$capdrop" || "$capdrop" == 0 ]] || note+=("capture dropped $capdrop")
    drops=$(awk '{ if ($2 > m[$1]) m[$1] = $2 } END { s = 0; for (k in m) s += m[k]; print s }' \
        "$dir/drops.samples" 2>/dev/null || echo "?")
    read -r e0 r0 <<<"$snmp0"
    read -r e1 r1 <<<"$snmp1"
    echo "system-wide Udp InErrors +$((e1 - e0)) RcvbufErrors +$((r1 - r0)) (mostly SIPp's unread media port)" >"$dir/snmp.txt"
    digits=$(sqlite3 -readonly "$dir/bench.db" \
        "SELECT count(DISTINCT call_id) FROM call_events WHERE kind='dtmf' AND detail='1'" 2>"$dir/sqlite.err" || echo "?")
    sqlite3 -readonly "$dir/bench.db" \
        "SELECT coalesce(end_cause, '(open)'), count(*) FROM calls GROUP BY 1 ORDER BY 2 DESC" \
        >"$dir/end-causes.txt" 2>>"$dir/sqlite.err" || true
    [[ "$up" == "$level" ]] || note+=("media up on $up of $level calls at window start")

    notes=""
    for n in "${note[@]}"; do notes+="${notes:+; }$n"; done
    row=$(table_row "$level" "$ok" "$failed" "$up" "$cpu" "$(mib "$rss_kb")" "$(mib "$peak_kb")" \
        "$p50" "$p99" "$gmax" "$lost" "$drops" "$digits/$ok" "$notes")
    rows+=("$row")
    printf '\n%s\n%s\n' "$header" "$row"
    # Evidence when something is off: hotline's end causes, its warnings, SIPp's errors.
    if [[ "$failed" != 0 || "$digits" != "$ok" || "$up" != "$level" ]]; then
        say "level $level: hotline's calls by end cause (probe call included):"
        sed 's/^/    /' "$dir/end-causes.txt"
        say "level $level: last lines of hotline.log:"
        tail -n 10 "$dir/hotline.log" | sed 's/^/    /'
        shopt -s nullglob
        for f in "$dir"/*_errors.log; do
            say "level $level: $(wc -l <"$f") lines in SIPp's $(basename "$f"); first ones:"
            head -n 10 "$f" | sed 's/^/    /'
        done
        shopt -u nullglob
    fi
    [[ "${HOTLINE_BENCH_KEEP:-}" == 1 ]] || rm -f -- "$dir/cap.pcapng"
    sleep 1                                             # let sockets and TIME_WAITs settle
done

echo
say "summary (hold ${HOLD_MS} ms; gaps over hotline's outgoing RTP, 20 ms is perfect):"
printf '%s\n' "$header"
printf '%s\n' "${rows[@]}"
