#!/usr/bin/env bash
# Entry point of the compose service kafka-secure (profile "secure"): the apache/kafka image as
# one KRaft node with a SASL_SSL listener (SCRAM-SHA-512) on 9192, an mTLS controller listener,
# StandardAuthorizer deny-by-default, the users and ACLs of deploy/kafka-acls/acls.txt and the
# pa.* topics (created by the admin: no application principal may create topics).
# Keystores and passwords are compose secrets generated on the host by
# `scripts/kafka-secure.sh certs` (into .kafka-secure/, git-ignored).
set -euo pipefail
S=/run/secrets
K=/opt/kafka
CONF=/tmp/server.properties
secret() { tr -d '\r\n' < "$S/$1"; }
KSPASS="$(secret kafka_keystore_password)"; TSPASS="$(secret kafka_truststore_password)"; ADMIN="$(secret kafka_admin_password)"
cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka-secure:9193
listeners=SASL_SSL://:9192,CONTROLLER://:9193
advertised.listeners=SASL_SSL://kafka-secure:9192
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN";
ssl.keystore.type=PKCS12
ssl.keystore.location=$S/kafka_keystore
ssl.keystore.password=$KSPASS
ssl.key.password=$KSPASS
ssl.truststore.type=PKCS12
ssl.truststore.location=$S/kafka_truststore
ssl.truststore.password=$TSPASS
ssl.endpoint.identification.algorithm=https
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:CN=kafka-broker,O=pa-worker-dev
log.dirs=/tmp/kraft-secure-logs
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
cat > /tmp/admin.properties <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN";
ssl.truststore.type=PEM
ssl.truststore.location=$S/kafka_ca
PROPS
scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN]")
for user in $(awk '!/^[[:space:]]*(#|$)/ { sub(/^User:/, "", $1); print $1 }' /pa/acls.txt | sort -u); do
  f="$S/kafka_password_${user//-/_}"
  [[ -f "$f" ]] && scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(tr -d '\r\n' < "$f")]")
done
"$K/bin/kafka-storage.sh" format --ignore-formatted -t "$("$K/bin/kafka-storage.sh" random-uuid)" -c "$CONF" "${scram[@]}" >/dev/null
"$K/bin/kafka-server-start.sh" "$CONF" &
broker=$!
until "$K/bin/kafka-broker-api-versions.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties >/dev/null 2>&1; do sleep 1; done
awk '!/^[[:space:]]*(#|$)/' /pa/acls.txt | while read -r principal operation type pattern name; do
  "$K/bin/kafka-acls.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties --add \
    --allow-principal "$principal" --operation "$operation" "--$type" "$name" --resource-pattern-type "$pattern" >/dev/null
done
# pa.notices.v1 has pa.reviews.v1's partition count (co-partitioned by member_id)
for topic in pa.requests.v1 pa.determinations.v1 pa.reauth-due.v1 pa.requests.dlq.v1 pa.reviews.v1 \
  pa.reviews.dlq.v1 pa.decision-clock.v1 pa.notices.v1 pa.notices.dlq.v1 pa.determinations.shadow.v1; do
  "$K/bin/kafka-topics.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties \
    --create --if-not-exists --topic "$topic" --partitions 3 --replication-factor 1 >/dev/null
done
"$K/bin/kafka-topics.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties --create \
  --if-not-exists --topic pa.authorizations.v1 --partitions 3 --replication-factor 1 \
  --config cleanup.policy=compact --config min.compaction.lag.ms=3600000 >/dev/null
"$K/bin/kafka-topics.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties --create \
  --if-not-exists --topic pa.request-index.v1 --partitions 3 --replication-factor 1 \
  --config cleanup.policy=compact,delete --config retention.ms=2592000000 >/dev/null
"$K/bin/kafka-topics.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties --create \
  --if-not-exists --topic pa.pends.v1 --partitions 3 --replication-factor 1 \
  --config cleanup.policy=delete --config retention.ms=2592000000 >/dev/null
"$K/bin/kafka-topics.sh" --bootstrap-server kafka-secure:9192 --command-config /tmp/admin.properties --create \
  --if-not-exists --topic pa.pend-store.v1 --partitions 3 --replication-factor 1 \
  --config cleanup.policy=compact --config min.compaction.lag.ms=3600000 >/dev/null
touch /tmp/ready
wait "$broker"
