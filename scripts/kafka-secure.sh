#!/usr/bin/env bash
# The local Apache Kafka broker of scripts/kafka.sh (same Maven-built jars, KRaft, one node), with
# security on: a SASL_SSL listener (SCRAM-SHA-512, TLS 1.2+, mutual TLS optional), an SSL
# controller listener that requires the broker's own certificate, StandardAuthorizer with
# deny-by-default ACLs, the ACLs of deploy/kafka-acls/acls.txt applied at every start.
# Its own ports and folder: the plain broker (127.0.0.1:9092/9093, .kafka/) is never touched.
#
#   scripts/kafka-secure.sh up      generate what is missing, start (idempotent), apply the ACLs
#   scripts/kafka-secure.sh down    stop the broker started here (by its pid file only)
#   scripts/kafka-secure.sh status  print running/stopped
#   scripts/kafka-secure.sh reset   down, then delete the folder (CA, keys, passwords, data)
#   scripts/kafka-secure.sh certs   generate only, and copy what the compose profile "secure"
#                                   mounts as secrets into .kafka-secure/compose/
#
# Generated into KAFKA_SECURE_HOME_DIR (.kafka-secure/, git-ignored, mode 0700), never committed:
#   tls/ca.crt, ca.key                 a throw-away CA (openssl, EC P-256, 30 days)
#   tls/broker.p12, truststore.p12     the broker's keystore (SAN IP:127.0.0.1, DNS:localhost and
#                                      DNS:kafka-secure, the compose service) and
#                                      truststore (keytool), for both listeners
#   tls/client-<user>.crt/.key         client certificates signed by the CA, for the mutual TLS option
#   secrets/<user>.password            one SCRAM-SHA-512 password per principal of acls.txt, and admin
#   secrets/admin.properties           client config of the super user (Kafka's Java tools)
# SCRAM users are created when the data folder is formatted (kafka-storage format --add-scram).
#
# Environment: KAFKA_SECURE_PORT (9192), KAFKA_SECURE_CONTROLLER_PORT (9193),
# KAFKA_SECURE_HOME_DIR (.kafka-secure), KAFKA_SECURE_MTLS (none | requested | required: client
# certificates on the SASL_SSL listener; the principal stays the SASL user).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$ROOT/deploy/kafka/lib"
ACLS="${KAFKA_ACLS_FILE:-$ROOT/deploy/kafka-acls/acls.txt}"
STATE="${KAFKA_SECURE_HOME_DIR:-$ROOT/.kafka-secure}"
PORT="${KAFKA_SECURE_PORT:-9192}"
CPORT="${KAFKA_SECURE_CONTROLLER_PORT:-9193}"
MTLS="${KAFKA_SECURE_MTLS:-none}"
TLS="$STATE/tls"
SECRETS="$STATE/secrets"
PIDFILE="$STATE/broker.pid"
CONF="$STATE/server.properties"
LOG="$STATE/broker.out"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
DAYS=30
BROKER_DN="CN=kafka-broker,O=pa-worker-dev"

case "$MTLS" in none|requested|required) ;; *) echo "kafka-secure: KAFKA_SECURE_MTLS must be none, requested or required" >&2; exit 2 ;; esac

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
need() { command -v "$1" >/dev/null || { echo "kafka-secure: $1 is required" >&2; exit 1; }; }

principals() {  # the SASL users: admin and every principal of the ACL file
  echo admin
  awk '!/^[[:space:]]*(#|$)/ { sub(/^User:/, "", $1); print $1 }' "$ACLS" | sort -u
}

password() {  # the password of user $1, created once (hex: no quoting problems anywhere)
  local f="$SECRETS/$1.password"
  [[ -s "$f" ]] || openssl rand -hex 24 > "$f"
  cat "$f"
}

sign() {  # sign: NAME SUBJECT EXTENSIONS -> tls/NAME.key, tls/NAME.crt
  local name="$1" subj="$2" ext="$3"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TLS/$name.key" -out "$TLS/$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$TLS/$name.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial \
    -days "$DAYS" -sha256 -out "$TLS/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$TLS/$name.csr"
}

tls() {
  # Regenerated when missing or expiring within a day (the broker restarts with the new ones).
  if [[ -f "$TLS/broker.p12" ]] && openssl x509 -checkend 86400 -noout -in "$TLS/broker.crt" >/dev/null \
    && openssl x509 -noout -ext subjectAltName -in "$TLS/broker.crt" | grep -q "DNS:kafka-secure"; then
    return 0
  fi
  if running; then
    echo "kafka-secure: the certificates are missing or expiring; stop the broker first (scripts/kafka-secure.sh down)" >&2
    exit 1
  fi
  echo "kafka-secure: generating a CA, the broker's keystore and client certificates (openssl, keytool)" >&2
  rm -rf "$TLS"; mkdir -p "$TLS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$DAYS" -sha256 \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" -subj "/O=pa-worker-dev/CN=pa-worker local dev CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  sign broker "/O=pa-worker-dev/CN=kafka-broker" "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kafka-secure
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth"
  local user
  for user in $(principals); do
    [[ "$user" == admin ]] && continue
    sign "client-$user" "/O=pa-worker-dev/CN=$user" "keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  done
  local kspass tspass
  kspass="$(password keystore)"; tspass="$(password truststore)"
  openssl pkcs12 -export -in "$TLS/broker.crt" -inkey "$TLS/broker.key" -certfile "$TLS/ca.crt" \
    -name broker -out "$TLS/broker.p12" -passout "pass:$kspass"
  rm -f "$TLS/broker.key"  # only in the keystore from here on
  keytool -importcert -noprompt -alias pa-worker-dev-ca -file "$TLS/ca.crt" \
    -keystore "$TLS/truststore.p12" -storetype PKCS12 -storepass "$tspass" >/dev/null 2>&1
  chmod 600 "$TLS"/*
}

write_config() {
  local kspass tspass admin
  kspass="$(password keystore)"; tspass="$(password truststore)"; admin="$(password admin)"
  mkdir -p "$STATE/data"
  (umask 077; cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=SASL_SSL://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=SASL_SSL://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS/broker.p12
ssl.keystore.password=$kspass
ssl.key.password=$kspass
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS/truststore.p12
ssl.truststore.password=$tspass
ssl.enabled.protocols=TLSv1.3,TLSv1.2
ssl.endpoint.identification.algorithm=https
listener.name.controller.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=$MTLS
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:$BROKER_DN
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
  cat > "$SECRETS/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.crt
PROPS
  # With mutual TLS the listener asks the tools for a certificate too: they present the broker's
  # own (its EKU includes clientAuth); the principal stays User:admin, the SASL user.
  if [[ "$MTLS" != none ]]; then cat >> "$SECRETS/admin.properties" <<PROPS
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS/broker.p12
ssl.keystore.password=$kspass
ssl.key.password=$kspass
PROPS
  fi
  )
  cat > "$STATE/log4j2.properties" <<'L4J'
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir:-.kafka-secure}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
L4J
}

java_run() {
  java -Xms64m -Xmx256m -Djava.awt.headless=true -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
    -Dkafka.logs.dir="$STATE/tools" -cp "$LIB/*" "$@"
}

format() {
  [[ -f "$STATE/data/meta.properties" ]] && return 0
  local cid user args=()
  for user in $(principals); do
    args+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(password "$user")]")
  done
  cid="$(java_run kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  java_run kafka.tools.StorageTool format -t "$cid" -c "$CONF" "${args[@]}" >"$STATE/format.out" 2>&1 \
    || { cat "$STATE/format.out" >&2; exit 1; }
  principals > "$STATE/data/.scram-users"
}

add_new_users() {  # principals added to acls.txt after the folder was formatted
  local user
  for user in $(principals); do
    grep -qx "$user" "$STATE/data/.scram-users" && continue
    java_run kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$PORT" --command-config "$SECRETS/admin.properties" \
      --alter --entity-type users --entity-name "$user" \
      --add-config "SCRAM-SHA-512=[password=$(password "$user")]" >/dev/null
    echo "$user" >> "$STATE/data/.scram-users"
  done
}

apply_acls() {
  java_run "$ROOT/deploy/kafka-acls/ApplyAcls.java" --bootstrap-server "127.0.0.1:$PORT" \
    --command-config "$SECRETS/admin.properties" "$ACLS"
}

up() {
  if running && port_open; then
    echo "kafka-secure: already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT (SASL_SSL)"
    return 0
  fi
  if port_open; then echo "kafka-secure: 127.0.0.1:$PORT is taken by another process" >&2; exit 1; fi
  need java; need openssl; need keytool
  "$ROOT/scripts/kafka.sh" jars
  mkdir -p "$STATE" "$SECRETS" "$STATE/tools"; chmod 700 "$STATE" "$SECRETS"
  tls
  write_config
  format
  rm -f "$STATE/server.log"
  JAVA_OPTS="" setsid bash -c "exec java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
      -Dkafka.logs.dir='$STATE' -Dlog4j2.configurationFile='$STATE/log4j2.properties' \
      -cp '$LIB/*' kafka.Kafka '$CONF'" >"$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  local waited=0
  until port_open && grep -q "Kafka Server started" "$STATE/server.log" 2>/dev/null; do
    if ! running; then echo "kafka-secure: broker exited during start; last lines of its output:" >&2; tail -20 "$LOG" "$STATE/server.log" >&2 2>/dev/null || true; exit 1; fi
    if (( waited >= START_TIMEOUT * 2 )); then echo "kafka-secure: broker did not answer within ${START_TIMEOUT}s" >&2; down; exit 1; fi
    sleep 0.5; waited=$((waited + 1))
  done
  add_new_users
  apply_acls >&2 || { echo "kafka-secure: applying $ACLS failed" >&2; down; exit 1; }
  echo "kafka-secure: up (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT (SASL_SSL, SCRAM-SHA-512, mTLS $MTLS), CA ${TLS#$ROOT/}/ca.crt, passwords in ${SECRETS#$ROOT/}/"
}

down() {
  if ! [[ -f "$PIDFILE" ]]; then echo "kafka-secure: not running"; return 0; fi
  local pid; pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "kafka-secure: pid $pid ignored SIGTERM for 30s, sending SIGKILL" >&2; kill -KILL "$pid" || true; fi
  fi
  rm -f "$PIDFILE"
  echo "kafka-secure: stopped"
}

certs() {
  need openssl; need keytool
  mkdir -p "$STATE" "$SECRETS"; chmod 700 "$STATE" "$SECRETS"
  tls
  local user c="$STATE/compose"
  for user in $(principals) keystore truststore; do password "$user" >/dev/null; done
  # Compose mounts file secrets as they are: readable copies for the containers' users, inside
  # the 0700 folder.
  rm -rf "$c"; mkdir -p "$c"
  cp "$TLS/broker.p12" "$c/kafka_keystore"; cp "$TLS/truststore.p12" "$c/kafka_truststore"; cp "$TLS/ca.crt" "$c/kafka_ca"
  cp "$SECRETS/keystore.password" "$c/kafka_keystore_password"
  cp "$SECRETS/truststore.password" "$c/kafka_truststore_password"
  cp "$SECRETS/admin.password" "$c/kafka_admin_password"
  cp "$SECRETS/pa-worker.password" "$c/kafka_password_pa_worker"
  chmod 444 "$c"/*
  echo "kafka-secure: compose secrets in ${c#$ROOT/}/ (docker compose -f deploy/compose/compose.yaml --profile secure up)"
}

case "${1:-}" in
  up) up ;;
  certs) certs ;;
  down) down ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"))"; else echo "stopped"; exit 3; fi ;;
  reset) down; rm -rf "$STATE" ;;
  *) echo "usage: $0 up|down|status|reset|certs" >&2; exit 2 ;;
esac
