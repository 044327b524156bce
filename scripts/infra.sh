#!/usr/bin/env bash
# Project-private local infrastructure for development and tests:
# PostgreSQL and a single-node Apache Kafka (KRaft, broker + controller in one JVM).
#
# Usage: scripts/infra.sh up|down|status|env|reset|<part>-up|<part>-down|kafka-pause|kafka-resume
#        (from any directory)
#   up      install what is missing, start both (idempotent), print the settings
#   down    stop both (PostgreSQL: fast shutdown; Kafka: SIGTERM, SIGKILL after 30 s)
#   status  report each one; exits 0 only when both are running
#   env     print the settings as `export` lines:  eval "$(scripts/infra.sh env)"
#   reset   down, then delete all data and logs (keeps the Kafka jar cache)
#   pg-up, pg-down, kafka-up, kafka-down
#           start or stop one of them (fault tests: `make chaos`)
#   kafka-pause, kafka-resume
#           freeze the broker (SIGSTOP: connections stay open, requests wait unanswered)
#           and thaw it (SIGCONT). For the fault tests' private instance only.
#
# Settings (environment):
#   ET_DATA_DIR               everything lives here (default <repo>/.data, git-ignored)
#   ET_PG_PORT                PostgreSQL port on 127.0.0.1 (default 55432)
#   ET_KAFKA_PORT             Kafka broker port on 127.0.0.1 (default 59092)
#   ET_KAFKA_CONTROLLER_PORT  Kafka KRaft controller port on 127.0.0.1 (default 59093)
#   ET_KAFKA_START_TIMEOUT    seconds to wait for the broker (default 120)
#   ET_PG_BIN                 directory holding initdb/pg_ctl (default: newest /usr/lib/postgresql/*/bin)
#   ET_PG_OS_USER             unprivileged OS user that runs PostgreSQL when invoked as root
#                             (default: postgres if it exists, else a system user et-postgres is created)
#   KAFKA_HEAP_OPTS           Kafka JVM heap (default -Xmx512m -Xms256m)
#
# PostgreSQL: superuser `postgres`, trust authentication, TCP on 127.0.0.1 only, unix socket in the
# data folder. Installed with apt-get (package postgresql) when initdb/pg_ctl are missing.
# Kafka: jars collected by Maven from scripts/kafka/pom.xml into <data>/cache/kafka-libs (re-fetched
# when that pom changes), run with `java -cp '<libs>/*' kafka.Kafka`.
# Layout of <data>: pg/ (cluster, socket), kafka/ (config, data, pid), logs/ (all logs), cache/.
# Progress goes to stderr, the settings to stdout.
set -euo pipefail
umask 022

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd -P)"

DATA_DIR="$(realpath -m "${ET_DATA_DIR:-$REPO_DIR/.data}")"

PG_PORT="${ET_PG_PORT:-55432}"
KAFKA_PORT="${ET_KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${ET_KAFKA_CONTROLLER_PORT:-59093}"
KAFKA_START_TIMEOUT="${ET_KAFKA_START_TIMEOUT:-120}"
KAFKA_STOP_TIMEOUT=30
HOST=127.0.0.1

PG_ROOT="$DATA_DIR/pg"
PGDATA_DIR="$PG_ROOT/data"
PG_SOCKET_DIR="$PG_ROOT/run"
LOG_DIR="$DATA_DIR/logs"
PG_LOG="$LOG_DIR/postgres.log"

KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LIBS="$DATA_DIR/cache/kafka-libs"
KAFKA_ROOT="$DATA_DIR/kafka"
KAFKA_CONF_DIR="$KAFKA_ROOT/config"
KAFKA_DATA="$KAFKA_ROOT/data"
KAFKA_PID_FILE="$KAFKA_ROOT/kafka.pid"
KAFKA_PROPS="$KAFKA_CONF_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_CONF_DIR/log4j2.properties"
KAFKA_TOOLS_LOG4J="$KAFKA_CONF_DIR/tools-log4j2.properties"
KAFKA_OUT="$LOG_DIR/kafka.out"
KAFKA_SERVER_LOG="$LOG_DIR/kafka-server.log"

export DEBIAN_FRONTEND=noninteractive

log() { printf '[infra] %s\n' "$*" >&2; }
die() {
  printf '[infra] ERROR: %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Is process $1 alive? Read from /proc: works for other users' processes (unlike kill -0),
# and an exited process not yet reaped by its parent (a zombie) does not count.
proc_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ -n "$stat" ] && [ "${stat:0:1}" != Z ] && [ "${stat:0:1}" != X ]
}

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# Our ports lie in Linux's ephemeral range (32768-60999): an outgoing connection may borrow one
# as its local port, and while that socket lingers (TIME-WAIT: 60 s) the server cannot bind it.
# As root, reserve them (net.ipv4.ip_local_reserved_ports) so the kernel never hands them out.
reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur missing="" p r lo hi found
  is_root && [ -w "$f" ] || return 0
  cur="$(cat "$f" 2>/dev/null)" || return 0
  for p in "$@"; do
    found=0
    for r in ${cur//,/ }; do
      lo="${r%-*}" hi="${r#*-}"
      if [ "$p" -ge "$lo" ] && [ "$p" -le "$hi" ]; then found=1; fi
    done
    [ "$found" = 1 ] || missing="$missing${missing:+,}$p"
  done
  [ -n "$missing" ] || return 0
  if printf '%s\n' "${cur:+$cur,}$missing" >"$f" 2>/dev/null; then
    log "reserved port(s) $missing in net.ipv4.ip_local_reserved_ports (not used as outgoing ports)"
  fi
}

# Fail when something already listens on 127.0.0.1:$1.
check_port_unused() {
  if port_open "$1"; then
    die "port $HOST:$1 is already in use by another process; set $2 to a free port"
  fi
}

# Did the server fail to bind because a lingering socket (e.g. a client connection in TIME-WAIT
# that borrowed the port, see reserve_ports) still holds it? $1: log text of the failed attempt.
bind_conflict() { grep -q 'Address already in use' <<<"$1"; }
BIND_RETRIES=5 BIND_RETRY_WAIT=15

check_port_number() {
  case "$2" in
  '' | *[!0-9]*) die "$1 must be a port number, got '$2'" ;;
  esac
}

apt_install() {
  is_root || die "need root to install: $* (run 'sudo apt-get install -y $*' yourself, then retry)"
  command -v apt-get >/dev/null || die "apt-get not found; install $* yourself, then retry"
  log "installing $* with apt-get (output in $LOG_DIR/apt.log) ..."
  mkdir -p "$LOG_DIR"
  if ! { apt-get update && apt-get install -y --no-install-recommends "$@"; } >"$LOG_DIR/apt.log" 2>&1; then
    tail -n 20 "$LOG_DIR/apt.log" >&2 || true
    die "'apt-get install $*' failed (full output: $LOG_DIR/apt.log)"
  fi
}

# ---------------------------------------------------------------- PostgreSQL

PG_BIN=""
find_pg_bin() {
  [ -n "$PG_BIN" ] && return 0
  local d
  if [ -n "${ET_PG_BIN:-}" ]; then
    if [ ! -x "$ET_PG_BIN/initdb" ] || [ ! -x "$ET_PG_BIN/pg_ctl" ]; then
      die "ET_PG_BIN=$ET_PG_BIN has no initdb/pg_ctl"
    fi
    PG_BIN="$ET_PG_BIN"
    return 0
  fi
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      PG_BIN="$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    PG_BIN="$(dirname "$(command -v pg_ctl)")"
    return 0
  fi
  return 1
}

ensure_pg_installed() {
  find_pg_bin && return 0
  if is_root; then
    # The Debian package would otherwise create (and try to start) a system-wide "main" cluster.
    mkdir -p /etc/postgresql-common/createcluster.d
    printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.d/zz-expense-tracker.conf
  fi
  apt_install postgresql postgresql-client
  find_pg_bin || die "PostgreSQL was installed but initdb/pg_ctl are still not found (set ET_PG_BIN)"
}

PG_USER=""
pg_os_user() {
  [ -n "$PG_USER" ] && return 0
  if ! is_root; then
    PG_USER="$(id -un)"
    return 0
  fi
  if [ -n "${ET_PG_OS_USER:-}" ]; then
    PG_USER="$ET_PG_OS_USER"
  elif id -u postgres >/dev/null 2>&1; then
    PG_USER=postgres
  else
    PG_USER=et-postgres
  fi
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    log "creating system user $PG_USER to run PostgreSQL (it refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$PG_USER" || die "could not create user $PG_USER"
  fi
}

# Run a command as the PostgreSQL OS user, from a directory that user can read.
# fd 9 (the lock) is not passed on: a server inheriting it would hold the lock for its lifetime.
as_pg() {
  pg_os_user
  if is_root; then
    (cd "$PG_ROOT" && runuser -u "$PG_USER" -- "$@" 9>&-)
  else
    (cd "$PG_ROOT" && "$@" 9>&-)
  fi
}

# The PostgreSQL user must be able to reach $DATA_DIR: add the search (x) bit for others on any
# ancestor directory that lacks it (e.g. a clone under /root). Nothing becomes listable or readable.
ensure_pg_can_reach_data() {
  is_root || return 0
  runuser -u "$PG_USER" -- test -x "$DATA_DIR" 2>/dev/null && return 0
  local d="$DATA_DIR"
  while [ "$d" != "/" ]; do
    if [ "$(stat -c %A "$d" | cut -c10)" != "x" ] && [ "$(stat -c %A "$d" | cut -c10)" != "t" ]; then
      log "adding o+x (search only) to $d so that user $PG_USER can reach $DATA_DIR"
      chmod o+x "$d"
    fi
    d="$(dirname "$d")"
  done
  runuser -u "$PG_USER" -- test -x "$DATA_DIR" ||
    die "user $PG_USER cannot reach $DATA_DIR; set ET_DATA_DIR to a directory it can reach"
}

# pid of the running postmaster of our cluster, or nothing.
pg_pid() {
  local pidfile="$PGDATA_DIR/postmaster.pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(head -n1 "$pidfile" 2>/dev/null || true)"
  case "$pid" in '' | *[!0-9]*) return 0 ;; esac
  if proc_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "postgres" ]; then
    echo "$pid"
  fi
}

pg_running() { [ -n "$(pg_pid)" ]; }

pg_ready() {
  "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

write_pg_conf() {
  local socket_dirs="$PG_SOCKET_DIR"
  # Unix socket paths are limited to 107 bytes; fall back to TCP only when the folder is too deep.
  if [ $((${#PG_SOCKET_DIR} + 20)) -gt 100 ]; then socket_dirs=""; fi
  cat >"$PGDATA_DIR/expense-tracker.conf" <<EOF
# Written by scripts/infra.sh on every 'up'; edits are overwritten.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$socket_dirs'
max_connections = 300
shared_buffers = 128MB
fsync = on
# dev/test data: a crash may lose the last few commits, never corrupts
synchronous_commit = off
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF
  chmod 644 "$PGDATA_DIR/expense-tracker.conf"
  if is_root; then chown "$PG_USER:" "$PGDATA_DIR/expense-tracker.conf"; fi
}

pg_up() {
  ensure_pg_installed
  pg_os_user
  mkdir -p "$PG_ROOT" "$LOG_DIR"
  if is_root; then
    if [ "$(stat -c %U "$PG_ROOT")" != "$PG_USER" ] ||
      { [ -d "$PGDATA_DIR" ] && [ "$(stat -c %U "$PGDATA_DIR")" != "$PG_USER" ]; }; then
      chown -R "$PG_USER:" "$PG_ROOT"
    fi
    touch "$PG_LOG"
    chown "$PG_USER:" "$PG_LOG"
  fi
  chmod 700 "$PG_ROOT"
  ensure_pg_can_reach_data

  if pg_running; then
    if pg_ready; then
      log "PostgreSQL already running (pid $(pg_pid), $HOST:$PG_PORT)"
      return 0
    fi
    log "PostgreSQL running (pid $(pg_pid)) but not ready on $HOST:$PG_PORT; restarting it"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 >/dev/null || true
  fi

  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in $PGDATA_DIR ($("$PG_BIN/postgres" --version))"
    rm -rf "$PGDATA_DIR"
    as_pg mkdir -p "$PGDATA_DIR" "$PG_SOCKET_DIR"
    if ! as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=trust >"$LOG_DIR/initdb.log" 2>&1; then
      tail -n 20 "$LOG_DIR/initdb.log" >&2 || true
      rm -rf "$PGDATA_DIR"
      die "initdb failed (log: $LOG_DIR/initdb.log)"
    fi
    # trust, but only over the socket in the data folder and loopback
    cat >"$PGDATA_DIR/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
host    all       all   ::1/128       trust
EOF
    printf "\ninclude_if_exists = 'expense-tracker.conf'\n" >>"$PGDATA_DIR/postgresql.conf"
    if is_root; then chown "$PG_USER:" "$PGDATA_DIR/pg_hba.conf" "$PGDATA_DIR/postgresql.conf"; fi
  fi
  as_pg mkdir -p "$PG_SOCKET_DIR"
  write_pg_conf

  if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    # left by a crash or a machine restart; its pid may now belong to another process, which
    # would make postgres refuse to start
    log "removing stale $PGDATA_DIR/postmaster.pid"
    rm -f "$PGDATA_DIR/postmaster.pid"
  fi
  check_port_unused "$PG_PORT" ET_PG_PORT
  local attempt size i
  for ((attempt = 1; ; attempt++)); do
    log "starting PostgreSQL on $HOST:$PG_PORT (log: $PG_LOG)"
    size="$(stat -c %s "$PG_LOG" 2>/dev/null || echo 0)"
    as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 90 >"$LOG_DIR/pg_ctl.log" 2>&1 && break
    if [ "$attempt" -lt "$BIND_RETRIES" ] && ! port_open "$PG_PORT" &&
      bind_conflict "$(tail -c +"$((size + 1))" "$PG_LOG")"; then
      log "port $PG_PORT is still held by a lingering connection; retrying in ${BIND_RETRY_WAIT}s"
      sleep "$BIND_RETRY_WAIT"
      continue
    fi
    cat "$LOG_DIR/pg_ctl.log" >&2 || true
    tail -n 20 "$PG_LOG" >&2 || true
    die "PostgreSQL did not start (log: $PG_LOG)"
  done
  for i in $(seq 1 60); do
    pg_ready && break
    sleep 0.5
  done
  pg_ready || {
    tail -n 20 "$PG_LOG" >&2 || true
    die "PostgreSQL started but pg_isready does not report it ready on $HOST:$PG_PORT (log: $PG_LOG)"
  }
  log "PostgreSQL ready (pid $(pg_pid))"
}

pg_down() {
  if ! pg_running; then
    log "PostgreSQL is not running"
    return 0
  fi
  find_pg_bin || die "pg_ctl not found (set ET_PG_BIN)"
  log "stopping PostgreSQL (pid $(pg_pid))"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 >/dev/null ||
    die "pg_ctl stop failed (log: $PG_LOG)"
}

# --------------------------------------------------------------------- Kafka

JAVA=""
find_java() {
  [ -n "$JAVA" ] && return 0
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null; then
    JAVA="$(command -v java)"
  else
    apt_install openjdk-17-jre-headless
    JAVA="$(command -v java)" || die "java not found after installing it"
  fi
  local major
  major="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
  case "$major" in
  1.* | 9 | 1[0-6]) die "Kafka needs Java 17 or newer; $JAVA is Java $major (set JAVA_HOME)" ;;
  esac
}

pom_hash() { sha256sum "$KAFKA_POM" | cut -d' ' -f1; }

ensure_kafka_libs() {
  local want have="" tmp
  want="$(pom_hash)"
  [ -f "$KAFKA_LIBS/.pom.sha256" ] && have="$(cat "$KAFKA_LIBS/.pom.sha256")"
  if [ "$want" = "$have" ] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || apt_install maven
  mkdir -p "$DATA_DIR/cache" "$LOG_DIR"
  tmp="$DATA_DIR/cache/kafka-libs.tmp"
  rm -rf "$tmp"
  log "fetching the Kafka jars with Maven (scripts/kafka/pom.xml; log: $LOG_DIR/maven.log) ..."
  if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" </dev/null >"$LOG_DIR/maven.log" 2>&1; then
    tail -n 30 "$LOG_DIR/maven.log" >&2 || true
    rm -rf "$tmp"
    die "Maven could not fetch the Kafka jars (log: $LOG_DIR/maven.log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "Maven ran but no kafka_2.13 jar arrived in $tmp"
  printf '%s\n' "$want" >"$tmp/.pom.sha256"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log "Kafka jars ready in $KAFKA_LIBS: $(cd "$KAFKA_LIBS" && echo kafka_2.13-*.jar) and $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in all"
}

# pid of our broker, or nothing. Removes a stale pid file.
kafka_pid() {
  local pid
  [ -f "$KAFKA_PID_FILE" ] || return 0
  pid="$(cat "$KAFKA_PID_FILE" 2>/dev/null || true)"
  case "$pid" in '' | *[!0-9]*)
    rm -f "$KAFKA_PID_FILE"
    return 0
    ;;
  esac
  if proc_alive "$pid" &&
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$KAFKA_PROPS"; then
    echo "$pid"
  else
    rm -f "$KAFKA_PID_FILE"
  fi
}

kafka_running() { [ -n "$(kafka_pid)" ]; }

# Run one of Kafka's command-line tools (main class + args) against our jars.
kafka_tool() {
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

write_kafka_conf() {
  mkdir -p "$KAFKA_CONF_DIR" "$KAFKA_DATA" "$LOG_DIR"
  cat >"$KAFKA_PROPS" <<EOF
# Written by scripts/infra.sh on every 'up'; edits are overwritten.
# Single-node KRaft: this process is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DATA
metadata.log.dir=$KAFKA_DATA

# one broker: replication factor 1 everywhere
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# fewer internal partitions than the defaults (50): quicker first consumer group and restarts
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=3
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=48
EOF
  cat >"$KAFKA_LOG4J" <<'EOF'
# Broker logging: everything to a size-rolled file in the data folder's logs/.
status = warn
name = kafka-broker
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/kafka-server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/kafka-server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$KAFKA_TOOLS_LOG4J" <<'EOF'
# Command-line tools: warnings and errors only, to stderr.
status = warn
name = kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

new_cluster_id() {
  # A Kafka Uuid: 16 random bytes, base64url without padding (22 characters), not starting with '-'.
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [ "${id:0:1}" != "-" ] && [ ${#id} -eq 22 ] && break
  done
  echo "$id"
}

# Ready = the listener accepts connections and the broker serves metadata (topic listing).
kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  timeout 60 "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" --list \
    >/dev/null 2>>"$LOG_DIR/kafka-readiness.log"
}

# Start the broker JVM detached: own session, no terminal, stdio to a file. The wrapper shell
# writes its pid and then becomes the JVM (exec), so the pid file names the broker itself.
kafka_spawn() {
  log "starting Kafka on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT; log: $KAFKA_SERVER_LOG)"
  rm -f "$KAFKA_PID_FILE"
  : >"$KAFKA_OUT"
  # shellcheck disable=SC2086,SC2016
  setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' infra-kafka "$KAFKA_PID_FILE" \
    "$JAVA" ${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
    </dev/null >>"$KAFKA_OUT" 2>&1 9>&- &
  disown $! 2>/dev/null || true
}

kafka_up() {
  local start=1
  find_java
  if kafka_running; then
    if port_open "$KAFKA_PORT"; then
      log "Kafka already running (pid $(kafka_pid), $HOST:$KAFKA_PORT)"
      return 0
    fi
    log "Kafka process $(kafka_pid) is up but its port $KAFKA_PORT is closed; waiting for it"
    start=0
  fi
  ensure_kafka_libs

  if [ "$start" = 1 ]; then
    check_port_unused "$KAFKA_PORT" ET_KAFKA_PORT
    check_port_unused "$KAFKA_CONTROLLER_PORT" ET_KAFKA_CONTROLLER_PORT
    write_kafka_conf
    if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
      local cid
      cid="$(new_cluster_id)"
      log "formatting Kafka storage in $KAFKA_DATA (cluster id $cid)"
      if ! kafka_tool kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$KAFKA_PROPS" \
        >"$LOG_DIR/kafka-format.log" 2>&1; then
        cat "$LOG_DIR/kafka-format.log" >&2 || true
        die "formatting Kafka storage failed (log: $LOG_DIR/kafka-format.log)"
      fi
    fi
  fi

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) pid="" attempt=1 size=0 out
  if [ "$start" = 1 ]; then
    size="$(stat -c %s "$KAFKA_SERVER_LOG" 2>/dev/null || echo 0)"
    kafka_spawn
  fi
  : >"$LOG_DIR/kafka-readiness.log"
  while :; do
    [ -z "$pid" ] && pid="$(kafka_pid)"
    if [ -n "$pid" ] && ! proc_alive "$pid"; then
      rm -f "$KAFKA_PID_FILE"
      out="$(cat "$KAFKA_OUT" 2>/dev/null; tail -c +"$((size + 1))" "$KAFKA_SERVER_LOG" 2>/dev/null)"
      if [ "$attempt" -lt "$BIND_RETRIES" ] && bind_conflict "$out" &&
        ! port_open "$KAFKA_PORT" && ! port_open "$KAFKA_CONTROLLER_PORT"; then
        log "a Kafka port is still held by a lingering connection; retrying in ${BIND_RETRY_WAIT}s"
        sleep "$BIND_RETRY_WAIT"
        attempt=$((attempt + 1)) pid=""
        deadline=$((SECONDS + KAFKA_START_TIMEOUT))
        size="$(stat -c %s "$KAFKA_SERVER_LOG" 2>/dev/null || echo 0)"
        kafka_spawn
        continue
      fi
      tail -n 30 "$KAFKA_OUT" "$KAFKA_SERVER_LOG" >&2 2>/dev/null || true
      die "Kafka exited during start-up; see $KAFKA_SERVER_LOG and $KAFKA_OUT"
    fi
    if [ -n "$pid" ] && kafka_ready; then break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$KAFKA_SERVER_LOG" >&2 2>/dev/null || true
      die "Kafka not ready on $HOST:$KAFKA_PORT after ${KAFKA_START_TIMEOUT}s (still running as pid ${pid:-?}); see $KAFKA_SERVER_LOG, $KAFKA_OUT and $LOG_DIR/kafka-readiness.log"
    fi
    sleep 1
  done
  log "Kafka ready (pid $pid)"
}

kafka_down() {
  local pid i
  pid="$(kafka_pid)"
  if [ -z "$pid" ]; then
    log "Kafka is not running"
    return 0
  fi
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < KAFKA_STOP_TIMEOUT * 2; i++)); do
    proc_alive "$pid" || break
    sleep 0.5
  done
  if proc_alive "$pid"; then
    log "Kafka did not stop within ${KAFKA_STOP_TIMEOUT}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
      proc_alive "$pid" || break
      sleep 0.5
    done
  fi
  rm -f "$KAFKA_PID_FILE"
}

# ------------------------------------------------------------------ commands

print_env() {
  printf 'export ET_PG_URL=postgres://postgres@%s:%s\n' "$HOST" "$PG_PORT"
  printf 'export DATABASE_URL=postgres://postgres@%s:%s/postgres\n' "$HOST" "$PG_PORT"
  printf 'export KAFKA_BROKERS=%s:%s\n' "$HOST" "$KAFKA_PORT"
}

# One infra.sh at a time per data folder (e.g. parallel make targets).
take_lock() {
  mkdir -p "$DATA_DIR"
  exec 9>"$DATA_DIR/.infra.lock"
  if command -v flock >/dev/null; then
    flock -w 300 9 || die "another scripts/infra.sh holds $DATA_DIR/.infra.lock"
  fi
}

cmd_up() {
  check_port_number ET_PG_PORT "$PG_PORT"
  check_port_number ET_KAFKA_PORT "$KAFKA_PORT"
  check_port_number ET_KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
  take_lock
  reserve_ports "$PG_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
  pg_up
  kafka_up
  print_env
}

cmd_down() {
  take_lock
  local rc=0
  kafka_down || rc=1
  pg_down || rc=1
  return $rc
}

cmd_status() {
  local rc=0 pid
  pid="$(pg_pid)"
  if [ -n "$pid" ]; then
    find_pg_bin || true
    if [ -n "$PG_BIN" ] && pg_ready; then
      echo "postgres: running (pid $pid, $HOST:$PG_PORT, data $PGDATA_DIR)"
    else
      echo "postgres: starting or not ready (pid $pid, $HOST:$PG_PORT)"
      rc=3
    fi
  else
    echo "postgres: not running"
    rc=3
  fi
  pid="$(kafka_pid)"
  if [ -n "$pid" ]; then
    if port_open "$KAFKA_PORT"; then
      echo "kafka:    running (pid $pid, $HOST:$KAFKA_PORT, data $KAFKA_DATA)"
    else
      echo "kafka:    starting or not ready (pid $pid, $HOST:$KAFKA_PORT)"
      rc=3
    fi
  else
    echo "kafka:    not running"
    rc=3
  fi
  return $rc
}

cmd_reset() {
  cmd_down
  log "deleting data and logs in $DATA_DIR (keeping the jar cache in $DATA_DIR/cache)"
  rm -rf "$PG_ROOT" "$KAFKA_ROOT" "$LOG_DIR"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) print_env ;;
reset) cmd_reset ;;
pg-up) take_lock; reserve_ports "$PG_PORT"; pg_up ;;
pg-down) take_lock; pg_down ;;
kafka-up) take_lock; reserve_ports "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; kafka_up ;;
kafka-down) take_lock; kafka_down ;;
kafka-pause | kafka-resume)
  pid="$(kafka_pid)"
  [ -n "$pid" ] || die "Kafka is not running (data folder $DATA_DIR)"
  if [ "$1" = kafka-pause ]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
  log "Kafka (pid $pid) ${1#kafka-}d"
  ;;
-h | --help | help) usage ;;
*)
  usage
  exit 2
  ;;
esac
