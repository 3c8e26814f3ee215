#!/usr/bin/env bash
# hotline's one test command (CI runs it through .ci/run).
#
#   scripts/test.sh [extra args for `cargo test --release`]
#
# 1. installs the Debian packages the tests use, if missing
#    (sip-tester, baresip, postgresql, sox, sipvicious, chromium, chromium-driver,
#    fonts-noto-cjk for the pages' Chinese, kamailio and kamailio-postgres-modules for
#    the cluster edge in deploy/kamailio);
# 2. starts a throw-away PostgreSQL on 127.0.0.1 and exports
#    HOTLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/hotline_test
#    (stopped and deleted on exit, failure or ctrl-c);
# 3. cargo build --release --bins, exports HOTLINE_BIN=<target>/release/hotline;
# 4. cargo test --release "$@", and exits with its status.
#
# Environment:
#   CI=true                  failing to install packages or to start PostgreSQL is fatal
#                            (otherwise: a warning, and the tests that need them skip)
#   HOTLINE_TEST_DRY=1       do everything except cargo: set up, check that the database
#                            answers, print the cargo commands, clean up
#   HOTLINE_TEST_POSTGRES_URL  if already set, no PostgreSQL is started; that one is used
#   HOTLINE_TEST_NO_INSTALL=1  never call apt-get
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say()  { printf 'test.sh: %s\n' "$*"; }
warn() { printf 'test.sh: WARNING: %s\n' "$*" >&2; }
is_ci() { [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; }
# A failure that is fatal under CI and only a warning elsewhere.
soft_fail() {
    if is_ci; then
        printf 'test.sh: ERROR: %s (fatal under CI=%s)\n' "$*" "${CI:-}" >&2
        exit 1
    fi
    warn "$* -- continuing; the tests that need it will skip"
}

# ---------------------------------------------------------------- packages
have_initdb() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
# kamailio lives in /usr/sbin, which a normal user's PATH may lack
have_kamailio() { command -v kamailio >/dev/null 2>&1 || [[ -x /usr/sbin/kamailio ]]; }
have_kamailio_pg() { compgen -G '/usr/lib/*/kamailio/modules/db_postgres.so' >/dev/null; }

missing=()
command -v sipp    >/dev/null 2>&1 || missing+=(sip-tester)
command -v baresip >/dev/null 2>&1 || missing+=(baresip)
have_initdb                        || missing+=(postgresql)
command -v sox     >/dev/null 2>&1 || missing+=(sox)
command -v svwar   >/dev/null 2>&1 || missing+=(sipvicious)
command -v chromium     >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing+=(fonts-noto-cjk)
have_kamailio                      || missing+=(kamailio)
have_kamailio_pg                   || missing+=(kamailio-postgres-modules)

if ((${#missing[@]} == 0)); then
    say "packages: all present (sipp, baresip, postgresql, sox, sipvicious, chromium, chromedriver, CJK fonts, kamailio with db_postgres)"
elif [[ "${HOTLINE_TEST_NO_INSTALL:-}" == 1 ]]; then
    soft_fail "missing packages: ${missing[*]} (HOTLINE_TEST_NO_INSTALL=1)"
else
    say "packages: installing ${missing[*]}"
    SUDO=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
        else
            SUDO=(none)
        fi
    fi
    if [[ "${SUDO[*]-}" == none ]]; then
        soft_fail "cannot install ${missing[*]}: not root and no password-less sudo"
    elif ! command -v apt-get >/dev/null 2>&1; then
        soft_fail "cannot install ${missing[*]}: no apt-get on this machine"
    else
        apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
        aptlog=$(mktemp "${TMPDIR:-/tmp}/hotline-apt.XXXXXX")
        if ! "${apt[@]}" update >"$aptlog" 2>&1; then
            tail -n 20 "$aptlog" >&2 || true
            rm -f -- "$aptlog"
            soft_fail "apt-get update failed"
        elif ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >"$aptlog" 2>&1; then
            tail -n 30 "$aptlog" >&2 || true
            rm -f -- "$aptlog"
            soft_fail "apt-get install ${missing[*]} failed"
        else
            rm -f -- "$aptlog"
            say "packages: installed ${missing[*]}"
        fi
    fi
fi

# ---------------------------------------------------------------- PostgreSQL
PGTMP=""
PGDATA_DIR=""
PGBIN=""
PG_STARTED=0
PGUSER_OS=""

# Run a PostgreSQL program as the OS user that owns the cluster (never root),
# from inside the temp dir (postgres must be able to read its cwd).
run_pg() {
    if ((EUID == 0)); then
        (cd "$PGTMP" && runuser -u "$PGUSER_OS" -- "$@")
    else
        (cd "$PGTMP" && "$@")
    fi
}

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if ((PG_STARTED)); then
        say "postgres: stopping"
        run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 20 stop >/dev/null 2>&1 \
            || run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1 \
            || true
    fi
    if [[ -n "$PGTMP" && -d "$PGTMP" ]]; then
        rm -rf -- "$PGTMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Candidate TCP ports: a free one from the kernel if python3 is there, then 55432 and up.
port_candidates() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - <<'EOF' 2>/dev/null || true
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
    fi
    local p
    for ((p = 55432; p < 55452; p++)); do
        # skip ports where something already accepts connections
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
        fi
    done
}

start_postgres() {
    PGBIN=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)
    PGBIN=${PGBIN%/initdb}
    if ((EUID == 0)); then
        if id -u postgres >/dev/null 2>&1; then PGUSER_OS=postgres; else PGUSER_OS=nobody; fi
        PGTMP=$(mktemp -d /tmp/hotline-pg.XXXXXX)   # /tmp: traversable by $PGUSER_OS
    else
        PGUSER_OS=$(id -un)
        PGTMP=$(mktemp -d "${TMPDIR:-/tmp}/hotline-pg.XXXXXX")
    fi
    PGDATA_DIR=$PGTMP/data
    mkdir -p "$PGTMP/sock"
    if ((EUID == 0)); then chown -R "$PGUSER_OS:" "$PGTMP"; fi

    say "postgres: initdb ($PGBIN, as $PGUSER_OS) in $PGTMP"
    if ! run_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 \
            --locale=C --no-sync >"$PGTMP/initdb.log" 2>&1; then
        tail -n 20 "$PGTMP/initdb.log" >&2 || true
        return 1
    fi
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
# added by scripts/test.sh: throw-away test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGTMP/sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    local port tries=0
    while read -r port; do
        [[ -n "$port" ]] || continue
        tries=$((tries + 1))
        ((tries <= 20)) || break
        if run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGTMP/postgres.log" -w -t 30 \
                -o "-p $port" start >/dev/null 2>&1; then
            PG_STARTED=1
            if ! run_pg "$PGBIN/createdb" -h "$PGTMP/sock" -p "$port" -U postgres hotline_test \
                    >"$PGTMP/createdb.log" 2>&1; then
                cat "$PGTMP/createdb.log" >&2 || true
                return 1
            fi
            export HOTLINE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/hotline_test"
            say "postgres: up, HOTLINE_TEST_POSTGRES_URL=$HOTLINE_TEST_POSTGRES_URL"
            return 0
        fi
        # the port may have been taken in the meantime: make sure nothing half-started, retry
        run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    done < <(port_candidates)
    tail -n 20 "$PGTMP/postgres.log" >&2 2>/dev/null || true
    return 1
}

if [[ -n "${HOTLINE_TEST_POSTGRES_URL:-}" ]]; then
    say "postgres: using the given HOTLINE_TEST_POSTGRES_URL=$HOTLINE_TEST_POSTGRES_URL"
elif ! have_initdb; then
    soft_fail "postgres: no /usr/lib/postgresql/*/bin/initdb"
elif ! start_postgres; then
    unset HOTLINE_TEST_POSTGRES_URL
    soft_fail "postgres: could not start the test cluster"
fi

# ---------------------------------------------------------------- cargo
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
target_dir=${CARGO_TARGET_DIR:-target}
[[ "$target_dir" == /* ]] || target_dir=$ROOT/$target_dir
export HOTLINE_BIN=$target_dir/release/hotline

if [[ "${HOTLINE_TEST_DRY:-}" == 1 ]]; then
    say "dry run: HOTLINE_BIN=$HOTLINE_BIN"
    if [[ -n "${HOTLINE_TEST_POSTGRES_URL:-}" ]] && command -v psql >/dev/null 2>&1; then
        say "dry run: psql select 1 ->" \
            "$(psql "$HOTLINE_TEST_POSTGRES_URL" -XAtqc 'select 1' 2>&1)"
    fi
    say "dry run: would run: cargo build --release --bins"
    say "dry run: would run: cargo test --release${*:+ $*}"
    exit 0
fi

say "cargo build --release --bins"
cargo build --release --bins

say "cargo test --release${*:+ $*}"
status=0
cargo test --release "$@" || status=$?
say "cargo test exited with $status"
exit "$status"
