# Shared by the benchmark scripts (sourced, not run): where things are, messages, the
# release binary, and readings from /proc. Each script sets `set -euo pipefail` itself.
# shellcheck shell=bash

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

# BIN and CLK_TCK are for the scripts that source this file.
target_dir=${CARGO_TARGET_DIR:-target}
[[ "$target_dir" == /* ]] || target_dir=$ROOT/$target_dir
# shellcheck disable=SC2034
BIN=${HOTLINE_BIN:-$target_dir/release/hotline}
# shellcheck disable=SC2034
CLK_TCK=$(getconf CLK_TCK)

# utime+stime of a process (all its threads), in clock ticks: fields 14 and 15 of
# /proc/PID/stat, split after the last ')' since the command name may contain spaces.
proc_ticks() {
    local s
    s=$(<"/proc/$1/stat") || return 1
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}

# A /proc/PID/status value in kB: proc_status_kb PID VmRSS (or VmHWM).
proc_status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Busy ticks (all but idle and iowait) of one CPU, from /proc/stat.
cpu_busy_ticks() {
    awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

now_ns() { date +%s%N; }

# A port free for both UDP and TCP on 127.0.0.1 (hotline listens on both); $1 if no python3.
free_port() {
    python3 - 2>/dev/null <<'PY' || echo "$1"
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit(1)
PY
}

# Column value of the last row of a SIPp -trace_stat file (';'-separated, header row first).
stat_col() {
    awk -F';' -v col="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        NF > 1  { last = $0 }
        END {
            if (!c || last == "") { print "?"; exit }
            split(last, f, ";"); print f[c]
        }' "$1" 2>/dev/null || echo "?"
}

# A throw-away PostgreSQL cluster in DIR/pg (fsync on, as in production; socket in
# DIR/pgsock, log DIR/pg.log), run as postgres (or nobody) when the script runs as root,
# which is why DIR itself is handed to that user. Sets PG_URL to its `postgres` database
# and PG_PID to the postmaster's pid; pg_stop (from the cleanup trap) stops it.
PG_DIR=""
PG_BIN=""
PG_OS_USER=""
PG_PID=""
pg_run() {
    if ((EUID == 0)); then (cd "$PG_DIR" && runuser -u "$PG_OS_USER" -- "$@"); else (cd "$PG_DIR" && "$@"); fi
}
pg_start() {
    PG_BIN=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1) || return 1
    PG_BIN=${PG_BIN%/initdb}
    if ((EUID == 0)); then
        if id -u postgres >/dev/null 2>&1; then PG_OS_USER=postgres; else PG_OS_USER=nobody; fi
        chown "$PG_OS_USER:" "$1"
    else
        PG_OS_USER=$(id -un)
    fi
    PG_DIR=$1
    mkdir -p "$1/pgsock"
    ((EUID != 0)) || chown "$PG_OS_USER:" "$1/pgsock"
    pg_run "$PG_BIN/initdb" -D "$1/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null 2>&1 || return 1
    printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 100\n" \
        "$1/pgsock" >>"$1/pg/postgresql.conf"
    local port
    port=$(free_port 55532)
    pg_run "$PG_BIN/pg_ctl" -D "$1/pg" -l "$1/pg.log" -w -t 30 -o "-p $port" start >/dev/null || return 1
    PG_PID=$(head -n 1 "$1/pg/postmaster.pid")
    # shellcheck disable=SC2034  # for the scripts that source this file
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
pg_stop() {
    [[ -n "$PG_PID" ]] || return 0
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR/pg" -m fast -w -t 20 stop >/dev/null 2>&1 || true
    PG_PID=""
}

# The call records of the database at URL (sqlite:// or postgres://), those that arrived
# at or after SINCE_MS (default all): "rows complete first_arrival last_end", complete
# meaning answered and ended caller_bye (a SIPp call that went as planned); times in ms.
calls_read_back() {
    local q="SELECT COUNT(*), COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL \
             AND end_cause = 'caller_bye' THEN 1 ELSE 0 END), 0), \
             COALESCE(MIN(arrived_at),0), \
             COALESCE(MAX(CASE WHEN end_cause = 'caller_bye' THEN ended_at END),0) FROM calls \
             WHERE arrived_at >= ${2:-0}"
    case $1 in
        sqlite://*) sqlite3 -separator ' ' "${1#sqlite://}" "$q" ;;
        *) psql "$1" -XAtq -F ' ' -c "$q" ;;
    esac
}
# Records per second from calls_read_back's "complete first_arrival last_end": complete
# rows over the span of the records' own times ("-" if the span is empty).
calls_rate() {
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > a) printf "%.0f", n / ((b - a) / 1000); else print "-" }'
}

# The temp dir $TMP: kept (and where said) with HOTLINE_BENCH_KEEP=1, else removed.
keep_or_remove_tmp() {
    if [[ "${HOTLINE_BENCH_KEEP:-}" == 1 ]]; then
        say "kept $TMP"
    else
        rm -rf -- "$TMP"
    fi
}

# The script's `cleanup` on exit, and the usual exit codes on signals (so it runs then too).
trap_cleanup() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}
