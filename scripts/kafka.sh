#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) for development,
# demo, benchmarks and tests. Jars come from Maven Central via deploy/kafka/pom.xml.
#
#   scripts/kafka.sh up      start (idempotent) and wait until the broker answers
#   scripts/kafka.sh down    stop the broker started here (by its pid file only)
#   scripts/kafka.sh status  print running/stopped
#   scripts/kafka.sh jars    resolve the jars only
#   scripts/kafka.sh reset   down, then delete the data directory
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HOME_DIR (.kafka).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/deploy/kafka/pom.xml"
LIB="$ROOT/deploy/kafka/lib"
STATE="${KAFKA_HOME_DIR:-$ROOT/.kafka}"
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
PIDFILE="$STATE/broker.pid"
CONF="$STATE/server.properties"
LOG="$STATE/broker.out"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

jars() {
  # The stamp is the pom's checksum, so a changed pom re-resolves.
  local stamp="$LIB/.pom.sha256" want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  command -v mvn >/dev/null || { echo "kafka: Maven (mvn) is required to fetch the broker jars" >&2; exit 1; }
  echo "kafka: resolving broker jars from Maven Central (deploy/kafka/pom.xml)..." >&2
  rm -rf "$LIB"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB" >&2
  echo "$want" > "$stamp"
}

running() {
  [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

java_run() {
  java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
    -cp "$LIB/*" "$@"
}

write_config() {
  mkdir -p "$STATE/data"
  cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$STATE/data
num.partitions=6
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
log.segment.bytes=104857600
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
  cat > "$STATE/log4j2.properties" <<'L4J'
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir:-.kafka}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
L4J
}

up() {
  if running; then
    if port_open; then echo "kafka: already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; return 0; fi
  fi
  if port_open; then
    echo "kafka: 127.0.0.1:$PORT is taken by another process; not starting a second broker" >&2; exit 1
  fi
  command -v java >/dev/null || { echo "kafka: Java 17+ is required" >&2; exit 1; }
  jars
  write_config
  if [[ ! -f "$STATE/data/meta.properties" ]]; then
    local cid
    cid="$(java_run kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java_run kafka.tools.StorageTool format -t "$cid" -c "$CONF" >"$STATE/format.out" 2>&1 \
      || { cat "$STATE/format.out" >&2; exit 1; }
  fi
  # setsid: the broker outlives this script and ignores the caller's terminal signals.
  JAVA_OPTS="" setsid bash -c "exec java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
      -Dkafka.logs.dir='$STATE' -Dlog4j2.configurationFile='$STATE/log4j2.properties' \
      -cp '$LIB/*' kafka.Kafka '$CONF'" >"$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  local waited=0
  until port_open && grep -q "Kafka Server started" "$STATE/server.log" 2>/dev/null; do
    if ! running; then echo "kafka: broker exited during start; last lines of its output:" >&2; tail -20 "$LOG" "$STATE/server.log" >&2 2>/dev/null || true; exit 1; fi
    if (( waited >= START_TIMEOUT * 2 )); then echo "kafka: broker did not answer within ${START_TIMEOUT}s" >&2; down; exit 1; fi
    sleep 0.5; waited=$((waited + 1))
  done
  echo "kafka: up (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT, data in ${STATE#$ROOT/}/data"
}

down() {
  if ! [[ -f "$PIDFILE" ]]; then echo "kafka: not running"; return 0; fi
  local pid; pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "kafka: pid $pid ignored SIGTERM for 30s, sending SIGKILL" >&2; kill -KILL "$pid" || true; fi
  fi
  rm -f "$PIDFILE"
  echo "kafka: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"))"; else echo "stopped"; exit 3; fi ;;
  jars) jars ;;
  reset) down; rm -rf "$STATE/data" ;;
  *) echo "usage: $0 up|down|status|jars|reset" >&2; exit 2 ;;
esac
