#!/usr/bin/env bash
# opsradar local stack, no Docker: Kafka (KRaft, jars from Maven Central), PostgreSQL 15,
# Prometheus and Alertmanager (Debian packages), all on 127.0.0.1.
#
#   bash deploy/stack.sh up       install what is missing, start what is not running, wait for health
#   bash deploy/stack.sh down     stop what this script started (state stays on disk)
#   bash deploy/stack.sh status   one line per service; exit 0 if all run, 3 if any is stopped
#   bash deploy/stack.sh install  only install what is missing (packages, Kafka jars)
#   bash deploy/stack.sh worker   also start one opsradar worker (what `make demo` uses), scraped
#                                 by Prometheus; `down` stops it with the rest
#   bash deploy/stack.sh stop|start|kill SERVICE   one service (kafka, postgres, prometheus,
#                                 alertmanager): stop cleanly, start and wait until healthy, or
#                                 SIGKILL it (kafka only); what the fault drills (tests/faults) do;
#                                 `stop worker` stops the worker alone (a new `make demo` run)
#   bash deploy/stack.sh tls-up   only Kafka and Postgres, with TLS on (see "TLS" below); `down`
#                                 stops them. OPSRADAR_STACK_TLS=1 turns TLS on for `up` too
#   bash deploy/stack.sh tls-certs  only generate the TLS certificates (a CA, broker, Postgres)
#
# All state lives in ONE directory, ${OPSRADAR_STACK_DIR:-<repo>/.stack} (git-ignored):
#   kafka/{libs,data,logs,server.properties,kafka.pid}   postgres/{data,run,postgres.log}
#   prometheus/{data,targets,prometheus.yml,prometheus.pid,prometheus.log}
#   alertmanager/{data,alertmanager.pid,alertmanager.log}
# Remove the directory (after `down`) for a clean slate.
#
# Meant for a Debian bookworm machine as root, where only Debian packages, PyPI and Maven Central
# are reachable. Nothing here prompts, so it also runs in CI (no stdin).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$REPO/deploy"
STATE="${OPSRADAR_STACK_DIR:-$REPO/.stack}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)" # absolute: it goes into config files and process command lines

# Ports: the defaults are also in streams/settings.py; change both together.
KAFKA_PORT="${OPSRADAR_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${OPSRADAR_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${OPSRADAR_PG_PORT:-55432}"
PROM_PORT="${OPSRADAR_PROMETHEUS_PORT:-19090}"
AM_PORT="${OPSRADAR_ALERTMANAGER_PORT:-19094}"
HOST=127.0.0.1

# How long `up` waits for each service to become healthy (seconds).
TIMEOUT="${OPSRADAR_STACK_TIMEOUT:-90}"

PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=opsradar # superuser, password and database all "opsradar" (see streams/settings.py)
PG_DB=opsradar
VENV_PY="$REPO/.venv/bin/python"

KAFKA_DIR="$STATE/kafka"
PG_DIR="$STATE/postgres"
PROM_DIR="$STATE/prometheus"
AM_DIR="$STATE/alertmanager"

# Broker JVM: small heap and one GC thread; this is a 2-core machine shared with Postgres,
# Prometheus and the Python workers. Same shape as upstream's kafka-run-class.sh otherwise.
KAFKA_JVM_OPTS=(-Xms256m -Xmx768m -XX:+UseSerialGC -XX:ActiveProcessorCount=1
  -Djava.awt.headless=true)
# Override as one space-separated string, e.g. OPSRADAR_KAFKA_JVM_OPTS="-Xms1g -Xmx1g".
if [[ -n "${OPSRADAR_KAFKA_JVM_OPTS:-}" ]]; then
  read -r -a KAFKA_JVM_OPTS <<<"$OPSRADAR_KAFKA_JVM_OPTS"
fi

# ---------------------------------------------------------------------------------------------
# helpers

log() { printf '%s\n' "stack: $*" >&2; }
die() { printf '%s\n' "stack: ERROR: $*" >&2; exit 1; }

# Last lines of a log file, indented, for error messages.
tail_log() {
  local f="$1"
  if [[ -s "$f" ]]; then
    printf '  --- last lines of %s ---\n' "$f" >&2
    tail -n 25 "$f" | sed 's/^/  | /' >&2
  else
    printf '  (log %s is empty or missing)\n' "$f" >&2
  fi
}

# True if something accepts TCP connections on $HOST:$1 (bash's /dev/tcp: no nc/ss needed).
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# True if pid $1 is alive and its command line contains every further argument. A pid file can
# outlive its process and the pid can be reused by an unrelated one: never trust the bare number.
pid_matches() {
  local pid="$1" cmd needle
  shift
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  for needle in "$@"; do
    [[ "$cmd" == *"$needle"* ]] || return 1
  done
}

read_pid() { [[ -s "$1" ]] && head -n 1 "$1" || true; }

# Start a command in the background as a daemon: its own session (setsid) so a Ctrl-C or a
# process-group kill aimed at the caller (make, pytest) does not take the service down, stdin
# from /dev/null, output appended to a log. The wrapper writes its own pid and then execs the
# command, so the pid file holds the service's real pid (setsid may or may not fork).
spawn() {
  local pidfile="$1" logfile="$2"
  shift 2
  rm -f "$pidfile"
  # 9>&-: the daemon must not inherit the stack lock (see "subcommands").
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "could not start $1 (no pid file written)"
}

# Stop a process we started: check its command line first, SIGTERM, wait, then SIGKILL.
stop_pid() {
  local name="$1" pidfile="$2" grace="$3"
  shift 3
  local pid
  pid="$(read_pid "$pidfile")"
  if [[ -z "$pid" ]]; then
    return 0
  fi
  if ! pid_matches "$pid" "$@"; then
    log "$name: pid $pid from $pidfile is gone or is not ours; removing the stale pid file"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while pid_matches "$pid" "$@"; do
    if ((SECONDS >= deadline)); then
      log "$name: pid $pid still running after ${grace}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$name: stopped (pid $pid)"
}

# Wait until "$@" succeeds; on timeout print the service's log and fail.
wait_for() {
  local name="$1" logfile="$2" pidfile="$3"
  shift 3
  local deadline=$((SECONDS + TIMEOUT)) pid
  until "$@" >/dev/null 2>&1; do
    pid="$(read_pid "$pidfile")"
    if [[ -n "$pidfile" && -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$logfile"
      die "$name exited during start-up (pid $pid); see $logfile"
    fi
    if ((SECONDS >= deadline)); then
      tail_log "$logfile"
      die "$name did not become healthy within ${TIMEOUT}s; see $logfile"
    fi
    sleep 0.3
  done
  log "$name: healthy ($(elapsed)s after 'up' started)"
}

# Refuse to start a service whose port is taken by something else: the health check would
# otherwise talk to the stranger and report success.
require_free_port() {
  local name="$1" port="$2"
  if port_open "$port"; then
    die "$name: port $HOST:$port is already in use by a process this script did not start" \
      "(see: ss -ltnp 'sport = :$port'). Stop that process, or move $name with the" \
      "OPSRADAR_*_PORT variables at the top of deploy/stack.sh."
  fi
}

# Seconds (1 decimal) since the script started, for the "healthy after" lines.
T_START="${EPOCHREALTIME/[.,]/}"
elapsed() {
  local now="${EPOCHREALTIME/[.,]/}"
  printf '%d.%d' $(((now - T_START) / 1000000)) $((((now - T_START) / 100000) % 10))
}

print_line() { printf '%-13s %-7s %-17s %s\n' "$1" "$2" "$3" "$4"; }

# ---------------------------------------------------------------------------------------------
# installation (only what is missing)

APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  # Debian packages start their daemons in postinst (prometheus on :9090, alertmanager on :9093,
  # postgresql's main cluster on :5432). We run our own instances, so forbid service starts for
  # the duration of the install with a temporary policy-rc.d (honoured by invoke-rc.d and
  # deb-systemd-invoke), unless the machine already has one (Docker images do).
  local policy=/usr/sbin/policy-rc.d ours=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    ours=1
  fi
  log "apt-get install $*"
  local rc=0
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  if ((ours == 1)); then rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
}

# Belt and braces: if a package's own service got started or enabled anyway (systemd machine
# without policy-rc.d, or an earlier manual install), stop and disable it. Only the Debian units,
# never our processes.
disable_debian_services() {
  local unit
  for unit in "$@"; do
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    elif [[ -x "/etc/init.d/$unit" ]]; then
      "/etc/init.d/$unit" stop >/dev/null 2>&1 || true
      update-rc.d "$unit" disable >/dev/null 2>&1 || true
    fi
  done
}

AM_BIN=""
find_alertmanager() {
  # Debian names the binary prometheus-alertmanager; upstream tarballs call it alertmanager.
  AM_BIN="$(command -v prometheus-alertmanager || command -v alertmanager || true)"
}

install_missing() {
  local pkgs=() after=()
  command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
  if [[ ! -x "$PG_BIN/initdb" || ! -x "$PG_BIN/pg_ctl" ]]; then
    pkgs+=(postgresql-15)
    after+=(postgresql)
  fi
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    pkgs+=(prometheus)
    after+=(prometheus)
  fi
  find_alertmanager
  if [[ -z "$AM_BIN" ]]; then
    pkgs+=(prometheus-alertmanager)
    after+=(prometheus-alertmanager)
  fi
  if ((${#pkgs[@]} > 0)); then
    apt_install "${pkgs[@]}"
    if ((${#after[@]} > 0)); then disable_debian_services "${after[@]}"; fi
    find_alertmanager
  fi
  command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is missing"
  id postgres >/dev/null 2>&1 || die "OS user 'postgres' is missing (it comes with postgresql-15)"
  install_kafka_jars
}

# Kafka jars: copied from Maven Central (via ~/.m2) into $KAFKA_DIR/libs. Re-copied only when the
# libs dir is empty or deploy/kafka/pom.xml changed since the last copy (hash marker). Note that a
# Kafka version change may need a fresh data dir: newer storage formats are not readable by older
# brokers.
install_kafka_jars() {
  local libs="$KAFKA_DIR/libs" marker="$KAFKA_DIR/libs/.pom.sha256" want have=""
  want="$(sha256sum "$DEPLOY/kafka/pom.xml" | cut -d' ' -f1)"
  [[ -s "$marker" ]] && have="$(cat "$marker")"
  if [[ "$want" == "$have" ]] && compgen -G "$libs/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  log "kafka: copying jars from Maven (deploy/kafka/pom.xml) into $libs"
  rm -rf "$libs"
  mkdir -p "$libs"
  if ! mvn -q -B -f "$DEPLOY/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" >"$KAFKA_DIR/mvn.log" 2>&1; then
    tail_log "$KAFKA_DIR/mvn.log"
    die "kafka: mvn dependency:copy-dependencies failed"
  fi
  echo "$want" >"$marker"
}

# ---------------------------------------------------------------------------------------------
# Kafka

KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/logs/kafka.out" # stdout/stderr of the JVM; log4j writes logs/server.log
KAFKA_CONF="$KAFKA_DIR/server.properties"

kafka_running() { pid_matches "$(read_pid "$KAFKA_PIDFILE")" kafka.Kafka "$KAFKA_CONF"; }

# Health = the broker answers a Kafka metadata request and lists itself (it is unfenced), and the
# group coordinator answers (creates __consumer_offsets), i.e. a consumer group could join now.
# Falls back to a bare TCP check when the project venv (aiokafka) is not there yet.
kafka_healthy() {
  if [[ ! -x "$VENV_PY" ]]; then
    port_open "$KAFKA_PORT"
    return
  fi
  port_open "$KAFKA_PORT" || return 1
  "$VENV_PY" - "$HOST:$KAFKA_PORT" <<'PY'
import asyncio, sys
from aiokafka.client import AIOKafkaClient, CoordinationType

async def main(bootstrap: str) -> int:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        if not metadata.brokers():
            return 1
        await asyncio.wait_for(
            client.coordinator_lookup(CoordinationType.GROUP, "opsradar-stack-healthcheck"), 5
        )
        return 0
    except Exception:
        return 1
    finally:
        await client.close()

sys.exit(asyncio.run(main(sys.argv[1])))
PY
}

kafka_up() {
  local data="$KAFKA_DIR/data" logs="$KAFKA_DIR/logs"
  if kafka_running; then
    return 0
  fi
  require_free_port kafka "$KAFKA_PORT"
  require_free_port kafka-controller "$KAFKA_CONTROLLER_PORT"
  if tls_enabled; then require_free_port kafka-tls "$KAFKA_TLS_PORT"; fi
  mkdir -p "$data" "$logs"

  # Render the template: absolute data dir, ports (if overridden).
  sed -e "s#@KAFKA_DATA_DIR@#$data#" \
    -e "s#127.0.0.1:19092#$HOST:$KAFKA_PORT#g" \
    -e "s#127.0.0.1:19093#$HOST:$KAFKA_CONTROLLER_PORT#g" \
    "$DEPLOY/kafka/server.properties" >"$KAFKA_CONF"
  kafka_tls_configure # no-op unless OPSRADAR_STACK_TLS=1

  local java_common=(-cp "$KAFKA_DIR/libs/*" "-Dkafka.logs.dir=$logs"
    "-Dlog4j2.configurationFile=$DEPLOY/kafka/log4j2.properties")

  # Format the storage once. meta.properties is what the broker itself checks; the cluster id is
  # kept so a half-finished format can be redone with the same id. --standalone makes this node
  # the single voter of a dynamic quorum (controller.quorum.bootstrap.servers);
  # --ignore-formatted keeps a rerun harmless.
  if [[ ! -s "$data/meta.properties" ]]; then
    local cid_file="$KAFKA_DIR/cluster.id"
    if [[ ! -s "$cid_file" ]]; then
      java -Xmx256m "${java_common[@]}" kafka.tools.StorageTool random-uuid >"$cid_file.tmp"
      mv "$cid_file.tmp" "$cid_file"
    fi
    log "kafka: formatting $data (cluster id $(cat "$cid_file"))"
    if ! java -Xmx256m "${java_common[@]}" kafka.tools.StorageTool format --standalone \
      --ignore-formatted -t "$(cat "$cid_file")" -c "$KAFKA_CONF" >"$logs/format.log" 2>&1; then
      tail_log "$logs/format.log"
      die "kafka: storage format failed"
    fi
  fi

  log "kafka: starting"
  spawn "$KAFKA_PIDFILE" "$KAFKA_LOG" \
    java "${KAFKA_JVM_OPTS[@]}" "${java_common[@]}" kafka.Kafka "$KAFKA_CONF"
}

kafka_wait() { wait_for kafka "$KAFKA_DIR/logs/server.log" "$KAFKA_PIDFILE" kafka_healthy; }

kafka_down() {
  # A single-node broker's controlled shutdown takes a few seconds; give it time to flush.
  stop_pid kafka "$KAFKA_PIDFILE" 30 kafka.Kafka "$KAFKA_CONF"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL 15: a private cluster in $PG_DIR/data, run as the OS user postgres (the server
# refuses to run as root). pg_ctl daemonises it and writes postmaster.pid, which is our pid file.

PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run" # unix socket dir, private to this cluster
PG_LOG="$PG_DIR/postgres.log"

as_postgres() { runuser -u postgres -- "$@"; }

pg_pid() { [[ -r "$PG_DATA/postmaster.pid" ]] && head -n 1 "$PG_DATA/postmaster.pid" || true; }
pg_running() { pid_matches "$(pg_pid)" postgres "$PG_DATA"; }
pg_healthy() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -d postgres -U "$PG_USER"; }

# The postgres user must be able to reach $PG_DIR: make each blocking parent dir o+x
# (traverse only, not readable), e.g. when the state dir is under /root.
pg_make_traversable() {
  local d="$PG_DIR"
  while [[ "$d" != "/" ]]; do
    d="$(dirname "$d")"
    if ! as_postgres test -x "$d"; then
      log "postgres: making $d traversable (o+x) for the postgres user"
      chmod o+x "$d"
    fi
  done
}

pg_init() {
  mkdir -p "$PG_DIR" "$PG_RUN"
  chown postgres:postgres "$PG_DIR" "$PG_RUN"
  chmod 700 "$PG_DIR"
  chmod 755 "$PG_RUN"
  pg_make_traversable
  ((${#PG_RUN} < 90)) || die "postgres: socket dir path $PG_RUN is too long for a unix socket"

  if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
    log "postgres: initdb $PG_DATA"
    rm -rf "$PG_DATA"
    local pwfile="$PG_DIR/.pwfile"
    printf '%s\n' opsradar >"$pwfile"
    chown postgres:postgres "$pwfile"
    chmod 600 "$pwfile"
    # Local socket and 127.0.0.1 both "trust": this is a throwaway cluster for tests and the demo,
    # bound to loopback only, so any local user may connect as any role without a password.
    # The opsradar role still gets the password "opsradar" so password-carrying URLs
    # (streams/settings.py) keep working if someone switches host auth to scram-sha-256.
    if ! as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=trust -E UTF8 --locale=C.UTF-8 \
      >"$PG_DIR/initdb.log" 2>&1; then
      rm -f "$pwfile"
      tail_log "$PG_DIR/initdb.log"
      die "postgres: initdb failed"
    fi
    rm -f "$pwfile"
    # Our settings live in their own file, rewritten on every `up` (see pg_up).
    echo "include_if_exists = 'opsradar.conf'" >>"$PG_DATA/postgresql.conf"
  fi
}

pg_up() {
  if pg_running; then
    return 0
  fi
  require_free_port postgres "$PG_PORT"
  pg_init
  # Test-speed settings: no fsync / full-page writes / synchronous commit. A crash of the machine
  # can lose or corrupt this cluster's data; that is acceptable for a local test stack.
  cat >"$PG_DATA/opsradar.conf" <<EOF
# Written by deploy/stack.sh on every 'up'; edit the script, not this file.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
EOF
  pg_tls_configure # ssl = on and TLS-only host connections if OPSRADAR_STACK_TLS=1
  chown postgres:postgres "$PG_DATA/opsradar.conf"
  touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
  log "postgres: starting"
  # -w: pg_ctl itself waits until the server accepts connections (or fails); -t bounds it.
  if ! as_postgres "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" \
    >"$PG_DIR/pg_ctl.log" 2>&1 9>&-; then
    tail_log "$PG_LOG"
    die "postgres: pg_ctl start failed; see $PG_LOG"
  fi
}

pg_wait() {
  wait_for postgres "$PG_LOG" "" pg_healthy
  # The database is created once, after the first start (initdb only makes postgres/template*).
  local exists
  exists="$("$PG_BIN/psql" -h "$PG_RUN" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAq \
    -c "select 1 from pg_database where datname = '$PG_DB'")"
  if [[ "$exists" != 1 ]]; then
    log "postgres: creating database $PG_DB"
    "$PG_BIN/createdb" -h "$PG_RUN" -p "$PG_PORT" -U "$PG_USER" -O "$PG_USER" "$PG_DB"
  fi
}

pg_down() {
  pg_running || return 0
  local pid
  pid="$(pg_pid)"
  # -m fast: disconnect clients and shut down cleanly (checkpoint), no waiting for sessions.
  if ! as_postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 30 >/dev/null 2>&1; then
    log "postgres: fast shutdown did not finish in 30s, trying immediate"
    as_postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 10 >/dev/null 2>&1 || true
  fi
  log "postgres: stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------------
# Prometheus: config rendered from deploy/prometheus/prometheus.yml with absolute paths; the
# rules stay in the repo (deploy/prometheus/rules/*.yml), the targets dir is runtime state.

PROM_PIDFILE="$PROM_DIR/prometheus.pid"
PROM_LOG="$PROM_DIR/prometheus.log"
PROM_CONF="$PROM_DIR/prometheus.yml"

prom_running() { pid_matches "$(read_pid "$PROM_PIDFILE")" prometheus "$PROM_CONF"; }
prom_healthy() { curl -fsS -o /dev/null "http://$HOST:$PROM_PORT/-/ready"; }

prom_render() {
  mkdir -p "$PROM_DIR/data" "$PROM_DIR/targets"
  sed -e "s#\"rules/\*\.yml\"#\"$DEPLOY/prometheus/rules/*.yml\"#" \
    -e "s#\"targets/\*\.json\"#\"$PROM_DIR/targets/*.json\"#" \
    -e "s#127.0.0.1:19094#$HOST:$AM_PORT#g" \
    -e "s#127.0.0.1:19090#$HOST:$PROM_PORT#g" \
    "$DEPLOY/prometheus/prometheus.yml" >"$PROM_CONF.tmp"
  mv "$PROM_CONF.tmp" "$PROM_CONF"
}

# promtool gives a readable message for a broken config or rule file; Prometheus would just exit.
prom_check() {
  promtool check config "$PROM_CONF" >"$PROM_DIR/promtool.log" 2>&1
}

prom_up() {
  prom_render
  if prom_running; then
    # Already running: reload so new/changed rule files and config are picked up (no restart).
    if prom_check; then
      curl -fsS -X POST -o /dev/null "http://$HOST:$PROM_PORT/-/reload" ||
        log "prometheus: reload failed (see $PROM_LOG)"
    else
      tail_log "$PROM_DIR/promtool.log"
      log "prometheus: WARNING: config/rules invalid, kept the running config"
    fi
    return 0
  fi
  require_free_port prometheus "$PROM_PORT"
  if ! prom_check; then
    tail_log "$PROM_DIR/promtool.log"
    die "prometheus: promtool check config $PROM_CONF failed"
  fi
  log "prometheus: starting"
  # --web.enable-lifecycle: POST /-/reload (used above) and /-/quit.
  # --web.enable-admin-api: tests may delete series between runs; loopback only.
  spawn "$PROM_PIDFILE" "$PROM_LOG" prometheus \
    --config.file="$PROM_CONF" \
    --storage.tsdb.path="$PROM_DIR/data" \
    --storage.tsdb.retention.time=7d \
    --web.listen-address="$HOST:$PROM_PORT" \
    --web.enable-lifecycle \
    --web.enable-admin-api \
    --log.level=warn
}

prom_wait() { wait_for prometheus "$PROM_LOG" "$PROM_PIDFILE" prom_healthy; }
prom_down() { stop_pid prometheus "$PROM_PIDFILE" 20 prometheus "$PROM_CONF"; }

# ---------------------------------------------------------------------------------------------
# Alertmanager: config straight from the repo (no paths to render), clustering off.

AM_PIDFILE="$AM_DIR/alertmanager.pid"
AM_LOG="$AM_DIR/alertmanager.log"
AM_CONF="$DEPLOY/alertmanager/alertmanager.yml"

# Matched on the state directory only, not on $AM_CONF: the config path is the checkout's, and a
# worktree sharing another checkout's stack (OPSRADAR_STACK_DIR) must still see its Alertmanager.
am_running() { pid_matches "$(read_pid "$AM_PIDFILE")" alertmanager "$AM_DIR/data"; }
am_healthy() { curl -fsS -o /dev/null "http://$HOST:$AM_PORT/-/ready"; }

am_check() {
  ! command -v amtool >/dev/null 2>&1 || amtool check-config "$AM_CONF" >"$AM_DIR/amtool.log" 2>&1
}

am_up() {
  mkdir -p "$AM_DIR/data"
  [[ -s "$AM_CONF" ]] || die "alertmanager: $AM_CONF is missing"
  if am_running; then
    if am_check; then
      curl -fsS -X POST -o /dev/null "http://$HOST:$AM_PORT/-/reload" ||
        log "alertmanager: reload failed (see $AM_LOG)"
    else
      tail_log "$AM_DIR/amtool.log"
      log "alertmanager: WARNING: $AM_CONF invalid, kept the running config"
    fi
    return 0
  fi
  require_free_port alertmanager "$AM_PORT"
  if ! am_check; then
    tail_log "$AM_DIR/amtool.log"
    die "alertmanager: amtool check-config $AM_CONF failed"
  fi
  find_alertmanager
  [[ -n "$AM_BIN" ]] || die "alertmanager binary not found (run: bash deploy/stack.sh install)"
  log "alertmanager: starting"
  # --cluster.listen-address= (empty) turns off the gossip cluster, which would otherwise bind
  # 0.0.0.0:9094 and wait for peers.
  spawn "$AM_PIDFILE" "$AM_LOG" "$AM_BIN" \
    --config.file="$AM_CONF" \
    --storage.path="$AM_DIR/data" \
    --web.listen-address="$HOST:$AM_PORT" \
    --cluster.listen-address= \
    --log.level=warn
}

am_wait() { wait_for alertmanager "$AM_LOG" "$AM_PIDFILE" am_healthy; }
am_down() { stop_pid alertmanager "$AM_PIDFILE" 20 alertmanager "$AM_DIR/data"; }

# ---------------------------------------------------------------------------------------------
# The demo's opsradar worker: default settings (OPSRADAR_* from the environment), web port 16066,
# announced to Prometheus through a file_sd target file.

WORKER_DIR="$STATE/worker"
WORKER_PIDFILE="$WORKER_DIR/worker.pid"
WORKER_LOG="$WORKER_DIR/worker.log"
WORKER_PORT="${OPSRADAR_WEB_PORT:-16066}"
WORKER_TARGET="$PROM_DIR/targets/worker-$WORKER_PORT.json"

worker_running() { pid_matches "$(read_pid "$WORKER_PIDFILE")" streams worker; }
worker_healthy() { curl -fsS -o /dev/null "http://$HOST:$WORKER_PORT/metrics"; }

worker_up() {
  mkdir -p "$WORKER_DIR" "$PROM_DIR/targets"
  if ! worker_running; then
    require_free_port worker "$WORKER_PORT"
    log "worker: starting"
    (
      cd "$REPO"
      export OPSRADAR_DATA_DIR="$WORKER_DIR/data"
      spawn "$WORKER_PIDFILE" "$WORKER_LOG" "$VENV_PY" -m streams worker --web-port "$WORKER_PORT"
    )
  fi
  printf '[{"targets": ["%s:%s"], "labels": {"worker": "worker-%s"}}]\n' \
    "$HOST" "$WORKER_PORT" "$WORKER_PORT" >"$WORKER_TARGET.tmp"
  mv "$WORKER_TARGET.tmp" "$WORKER_TARGET"
  wait_for worker "$WORKER_LOG" "$WORKER_PIDFILE" worker_healthy
}

worker_down() {
  stop_pid worker "$WORKER_PIDFILE" 60 streams worker
  rm -f "$WORKER_TARGET"
}

# ---------------------------------------------------------------------------------------------
# TLS (opt-in: OPSRADAR_STACK_TLS=1, or the tls-up subcommand). Certificates come from openssl:
# a throwaway CA and one server certificate each for the broker and Postgres, both for
# 127.0.0.1 and localhost, in $STATE/tls/. Kafka gets a SASL_SSL listener (SASL/PLAIN, user
# "opsradar", password in tls/kafka-client.password) on $KAFKA_TLS_PORT beside its PLAINTEXT
# one (kept for the health check and the broker's own traffic); Postgres gets ssl = on and
# refuses host connections without TLS (the unix socket stays open for this script).
# Clients: OPSRADAR_KAFKA_SECURITY_PROTOCOL=SASL_SSL, OPSRADAR_KAFKA_SSL_CAFILE=tls/ca.crt,
# OPSRADAR_DATABASE_SSLMODE=verify-full, OPSRADAR_DATABASE_SSL_ROOT_CERT=tls/ca.crt (README).

TLS_DIR="$STATE/tls"
KAFKA_TLS_PORT="${OPSRADAR_KAFKA_TLS_PORT:-19097}"
TLS_DAYS=365

tls_enabled() { [[ "${OPSRADAR_STACK_TLS:-0}" == 1 ]]; }

# A server certificate signed by the CA, valid for 127.0.0.1 and localhost.
tls_server_cert() {
  local name="$1" cn="$2"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
    >"$TLS_DIR/$name.ext"
  openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -days "$TLS_DAYS" -extfile "$TLS_DIR/$name.ext" \
    -out "$TLS_DIR/$name.crt" 2>/dev/null
  rm -f "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
}

# Generate what is missing (idempotent): CA, broker and Postgres certificates, the broker's
# PKCS12 keystore and its password, the SASL password of the client user. All of it is made
# again when a certificate expires within a day.
tls_certs() {
  if [[ -s "$TLS_DIR/ca.crt" && -s "$TLS_DIR/broker.p12" && -s "$TLS_DIR/postgres.crt" &&
    -s "$TLS_DIR/kafka-client.password" ]] &&
    openssl x509 -checkend 86400 -noout -in "$TLS_DIR/broker.crt" >/dev/null 2>&1 &&
    openssl x509 -checkend 86400 -noout -in "$TLS_DIR/postgres.crt" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  log "tls: generating a CA and server certificates in $TLS_DIR"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" -days "$TLS_DAYS" \
    -subj "/CN=opsradar local stack CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  tls_server_cert broker opsradar-kafka
  tls_server_cert postgres opsradar-postgres
  openssl rand -hex 16 >"$TLS_DIR/keystore.password"
  openssl rand -hex 16 >"$TLS_DIR/kafka-client.password"
  openssl pkcs12 -export -in "$TLS_DIR/broker.crt" -inkey "$TLS_DIR/broker.key" \
    -certfile "$TLS_DIR/ca.crt" -name broker -out "$TLS_DIR/broker.p12" \
    -passout "file:$TLS_DIR/keystore.password"
  chmod 600 "$TLS_DIR"/*.key "$TLS_DIR"/*.password "$TLS_DIR/broker.p12"
  # The CA certificate is public: clients (any user) read it to verify the servers.
  chmod 711 "$TLS_DIR"
  chmod 644 "$TLS_DIR/ca.crt"
}

# Called by kafka_up on the rendered server.properties: add the SASL_SSL listener.
kafka_tls_configure() {
  tls_enabled || return 0
  tls_certs
  local listener="SASL_SSL://$HOST:$KAFKA_TLS_PORT" pw user_pw
  pw="$(cat "$TLS_DIR/keystore.password")"
  user_pw="$(cat "$TLS_DIR/kafka-client.password")"
  sed -i -e "s#^listeners=.*#&,$listener#" -e "s#^advertised.listeners=.*#&,$listener#" \
    -e "s#^listener.security.protocol.map=.*#&,SASL_SSL:SASL_SSL#" "$KAFKA_CONF"
  chmod 600 "$KAFKA_CONF" # it is about to hold the keystore and SASL passwords
  cat >>"$KAFKA_CONF" <<PROPERTIES

# TLS (deploy/stack.sh kafka_tls_configure): SASL/PLAIN over TLS for clients.
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$pw
ssl.key.password=$pw
ssl.client.auth=none
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_opsradar="$user_pw";
PROPERTIES
}

PG_HBA_TLS_LINE="hostnossl all all all reject # opsradar-tls: TLS required (deploy/stack.sh)"

# Called by pg_up after opsradar.conf is written: ssl = on, and no host connection without TLS.
# Without TLS the marker line is removed again, so one state dir can be started either way.
pg_tls_configure() {
  local hba="$PG_DATA/pg_hba.conf"
  sed -i '/# opsradar-tls: /d' "$hba"
  tls_enabled || return 0
  tls_certs
  # The server reads its key as the postgres user and refuses one others can read.
  install -o postgres -g postgres -m 600 "$TLS_DIR/postgres.key" "$PG_DIR/server.key"
  install -o postgres -g postgres -m 644 "$TLS_DIR/postgres.crt" "$PG_DIR/server.crt"
  cat >>"$PG_DATA/opsradar.conf" <<CONF
ssl = on
ssl_cert_file = '$PG_DIR/server.crt'
ssl_key_file = '$PG_DIR/server.key'
CONF
  sed -i "1i $PG_HBA_TLS_LINE" "$hba"
}

kafka_tls_wait() {
  tls_enabled || return 0
  wait_for kafka-tls "$KAFKA_DIR/logs/server.log" "$KAFKA_PIDFILE" port_open "$KAFKA_TLS_PORT"
}

# Kafka and Postgres only, TLS on: what the TLS integration test starts on its own ports.
cmd_tls_up() {
  export OPSRADAR_STACK_TLS=1
  install_missing
  tls_certs
  kafka_up
  pg_up
  pg_wait
  kafka_wait
  kafka_tls_wait
  log "tls-up in $(elapsed)s; certificates in $TLS_DIR"
}

# ---------------------------------------------------------------------------------------------
# subcommands

cmd_status() {
  local down=0
  _status_line() {
    local name="$1" addr="$2" running="$3" pid="$4"
    if [[ "$running" == yes ]]; then
      print_line "$name" running "$addr" "(pid $pid)"
    else
      print_line "$name" stopped "$addr" ""
      down=1
    fi
  }
  _status_line kafka "$HOST:$KAFKA_PORT" "$(kafka_running && echo yes || echo no)" \
    "$(read_pid "$KAFKA_PIDFILE")"
  _status_line postgres "$HOST:$PG_PORT" "$(pg_running && echo yes || echo no)" "$(pg_pid)"
  _status_line prometheus "$HOST:$PROM_PORT" "$(prom_running && echo yes || echo no)" \
    "$(read_pid "$PROM_PIDFILE")"
  _status_line alertmanager "$HOST:$AM_PORT" "$(am_running && echo yes || echo no)" \
    "$(read_pid "$AM_PIDFILE")"
  # The worker is optional (only the demo starts one): report it without counting it as down.
  if worker_running; then
    print_line worker running "$HOST:$WORKER_PORT" "(pid $(read_pid "$WORKER_PIDFILE"))"
  fi
  # LSB convention: 3 = "program is not running".
  return $((down == 1 ? 3 : 0))
}

cmd_up() {
  install_missing
  # Start everything first, then wait: the four start in parallel (Kafka's JVM is the slow one).
  kafka_up
  pg_up
  prom_up
  am_up
  pg_wait
  prom_wait
  am_wait
  kafka_wait
  kafka_tls_wait
  log "up in $(elapsed)s; state in $STATE"
  cmd_status
}

cmd_down() {
  # Reverse order: the worker (it writes), Prometheus/Alertmanager (they only read), then the
  # data services.
  worker_down
  am_down
  prom_down
  kafka_down
  pg_down
  cmd_status >/dev/null || true
}

# One service, for the fault drills: a crash is a SIGKILL of the broker (no controlled shutdown);
# Postgres is stopped cleanly (pg_ctl) since clients see the same refused connections either way.
cmd_one() {
  local action="$1" service="${2:-}"
  case "$action:$service" in
    stop:kafka) kafka_down ;;
    stop:postgres) pg_down ;;
    stop:prometheus) prom_down ;;
    stop:alertmanager) am_down ;;
    stop:worker) worker_down ;;
    start:kafka) kafka_up && kafka_wait ;;
    start:postgres) pg_up && pg_wait ;;
    start:prometheus) prom_up && prom_wait ;;
    start:alertmanager) am_up && am_wait ;;
    kill:kafka)
      local pid
      pid="$(read_pid "$KAFKA_PIDFILE")"
      kafka_running || die "kafka is not running"
      kill -KILL "$pid"
      # The command line vanishes before the sockets close (the kernel frees memory first):
      # wait for the process and its listener to be gone, or `start` would find the port taken.
      local deadline=$((SECONDS + 30))
      while kill -0 "$pid" 2>/dev/null || port_open "$KAFKA_PORT"; do
        ((SECONDS < deadline)) || die "kafka: pid $pid or its port outlived SIGKILL by 30s"
        sleep 0.1
      done
      rm -f "$KAFKA_PIDFILE"
      log "kafka: killed (pid $pid)"
      ;;
    *) usage ;;
  esac
}

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

# up/down/install of the same state dir are serialised (make up in one shell, a test fixture
# in another): the second caller waits for the first and then finds everything running.
# status takes no lock. Daemons are started with fd 9 closed so they never hold it.
lock() {
  exec 9>"$STATE/.stack.lock"
  flock -w "$((TIMEOUT * 2))" 9 || die "another 'stack.sh' holds $STATE/.stack.lock"
}

case "${1:-}" in
  up) lock && cmd_up ;;
  down) lock && cmd_down ;;
  status) cmd_status ;;
  install) lock && install_missing ;;
  worker) lock && cmd_up && worker_up && cmd_status ;;
  stop | start | kill) lock && cmd_one "$1" "${2:-}" ;;
  tls-up) lock && cmd_tls_up ;;
  tls-certs) lock && tls_certs ;;
  *) usage ;;
esac
