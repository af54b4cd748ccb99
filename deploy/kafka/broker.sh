#!/usr/bin/env bash
# The compose stack's Kafka: one KRaft node (broker + controller) that requires SASL/SCRAM and
# enforces ACLs. Run by deploy/compose.yml as the apache/kafka image's command.
#
#  - Clients: SASL_PLAINTEXT on :9092 (SCRAM-SHA-512), reachable on the compose "backend"
#    network only (internal: no host port, no route out).
#  - Controller: PLAINTEXT on 127.0.0.1:9093, inside this container only. Its principal,
#    User:ANONYMOUS, is a super user because the broker registers with the controller before any
#    ACL is loaded; nothing outside the container can reach that listener.
#  - Authorization: StandardAuthorizer, deny by default (allow.everyone.if.no.acl.found=false);
#    User:admin is the super user. Per-service users and ACLs: kafka-init (init.sh).
#
# The admin password comes from the compose secret kafka_admin_password. The admin's SCRAM
# credential is written when the log directory is formatted, i.e. on the first start of an empty
# kafka-data volume; changing the secret later does not change it (see deploy/README.md).
set -euo pipefail

KAFKA_HOME=/opt/kafka
DATA_DIR=/var/lib/kafka/data
CONF_DIR=/tmp/kafka  # holds the admin password: a tmpfs in compose, never the data volume
: "${CLUSTER_ID:?set CLUSTER_ID (kafka-storage.sh random-uuid)}"

admin_password=$(< /run/secrets/kafka_admin_password)
if [[ ! "$admin_password" =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
  echo "kafka_admin_password: need 16+ characters from [A-Za-z0-9_-] (openssl rand -hex 24)" >&2
  exit 2
fi
jaas="org.apache.kafka.common.security.scram.ScramLoginModule required"
jaas+=" username=\"admin\" password=\"${admin_password}\";"

umask 077
mkdir -p "$CONF_DIR"
cat > "$CONF_DIR/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaas}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS
log.dirs=${DATA_DIR}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics come from topic-init (sextant_common.channels): a typo'd name must fail.
auto.create.topics.enable=false
PROPERTIES

# For the health check and operator tools (kafka-topics.sh --command-config ...).
cat > "$CONF_DIR/admin.properties" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=${jaas}
PROPERTIES

if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
  "$KAFKA_HOME/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" \
    --config "$CONF_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${admin_password}]"
fi
exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONF_DIR/server.properties"
