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
