#!/bin/sh
# Generated from event_driven/split/rabbitmq_permissions.py by `python -m harness.deploy`: do not edit by hand.
# The broker's users, as definitions RabbitMQ loads at its first boot (so it creates no guest user):
# api, monitor, alerting, notification (passwords RABBITMQ_API_PASSWORD, RABBITMQ_MONITOR_PASSWORD, RABBITMQ_ALERTING_PASSWORD, RABBITMQ_NOTIFICATION_PASSWORD), each allowed
# on the namespace "monitoring" what its process needs, and the operators' administrator $RABBITMQ_USER
# ($RABBITMQ_PASSWORD; default monitoring), which no process uses. Then it starts the server as the image does
# (its arguments: docker-entrypoint.sh rabbitmq-server).
set -eu
for variable in RABBITMQ_USER RABBITMQ_PASSWORD RABBITMQ_API_PASSWORD RABBITMQ_MONITOR_PASSWORD RABBITMQ_ALERTING_PASSWORD RABBITMQ_NOTIFICATION_PASSWORD; do
  eval "value=\${$variable:-}"
  if [ -z "$value" ]; then echo "load-definitions: $variable is not set" >&2; exit 1; fi
  case "$value" in
    *[!A-Za-z0-9_-]*) echo "load-definitions: $variable may hold letters, digits, - and _ only" >&2; exit 1 ;;
  esac
done
umask 077
mkdir -p /tmp/rabbitmq-definitions/conf.d
sed -e "s/@RABBITMQ_USER@/$RABBITMQ_USER/g" -e "s/@RABBITMQ_PASSWORD@/$RABBITMQ_PASSWORD/g" -e "s/@RABBITMQ_API_PASSWORD@/$RABBITMQ_API_PASSWORD/g" -e "s/@RABBITMQ_MONITOR_PASSWORD@/$RABBITMQ_MONITOR_PASSWORD/g" -e "s/@RABBITMQ_ALERTING_PASSWORD@/$RABBITMQ_ALERTING_PASSWORD/g" -e "s/@RABBITMQ_NOTIFICATION_PASSWORD@/$RABBITMQ_NOTIFICATION_PASSWORD/g" > /tmp/rabbitmq-definitions/definitions.json <<'DEFINITIONS'
{
 "vhosts": [
  {
   "name": "/"
  }
 ],
 "users": [
  {
   "name": "api",
   "password": "@RABBITMQ_API_PASSWORD@",
   "tags": []
  },
  {
   "name": "monitor",
   "password": "@RABBITMQ_MONITOR_PASSWORD@",
   "tags": []
  },
  {
   "name": "alerting",
   "password": "@RABBITMQ_ALERTING_PASSWORD@",
   "tags": []
  },
  {
   "name": "notification",
   "password": "@RABBITMQ_NOTIFICATION_PASSWORD@",
   "tags": []
  },
  {
   "name": "@RABBITMQ_USER@",
   "password": "@RABBITMQ_PASSWORD@",
   "tags": [
    "administrator"
   ]
  }
 ],
 "permissions": [
  {
   "user": "api",
   "vhost": "/",
   "configure": "^(monitoring[.]events|monitoring[.]replies|monitoring[.]inbox[.].+)$",
   "write": "^(monitoring[.]events|monitoring[.]inbox[.].+)$",
   "read": "^(monitoring[.]replies|monitoring[.]inbox[.].+)$"
  },
  {
   "user": "monitor",
   "vhost": "/",
   "configure": "^(monitoring[.]events|monitoring[.]dead-letter|monitoring[.]replies|(monitoring[.]monitor|monitoring[.]monitor-reads)([.].+)?)$",
   "write": "^(monitoring[.]dead-letter|monitoring[.]replies|(monitoring[.]monitor|monitoring[.]monitor-reads)([.].+)?|monitoring[.]events)$",
   "read": "^(monitoring[.]events|monitoring[.]dead-letter|(monitoring[.]monitor|monitoring[.]monitor-reads)([.].+)?)$"
  },
  {
   "user": "alerting",
   "vhost": "/",
   "configure": "^(monitoring[.]events|monitoring[.]dead-letter|monitoring[.]replies|(monitoring[.]alerting|monitoring[.]alerting-reads)([.].+)?)$",
   "write": "^(monitoring[.]dead-letter|monitoring[.]replies|(monitoring[.]alerting|monitoring[.]alerting-reads)([.].+)?|monitoring[.]events)$",
   "read": "^(monitoring[.]events|monitoring[.]dead-letter|(monitoring[.]alerting|monitoring[.]alerting-reads)([.].+)?)$"
  },
  {
   "user": "notification",
   "vhost": "/",
   "configure": "^(monitoring[.]events|monitoring[.]dead-letter|monitoring[.]replies|(monitoring[.]notification|monitoring[.]notification-reads)([.].+)?)$",
   "write": "^(monitoring[.]dead-letter|monitoring[.]replies|(monitoring[.]notification|monitoring[.]notification-reads)([.].+)?)$",
   "read": "^(monitoring[.]events|monitoring[.]dead-letter|(monitoring[.]notification|monitoring[.]notification-reads)([.].+)?)$"
  },
  {
   "user": "@RABBITMQ_USER@",
   "vhost": "/",
   "configure": ".*",
   "write": ".*",
   "read": ".*"
  }
 ],
 "topic_permissions": [
  {
   "user": "api",
   "vhost": "/",
   "exchange": "monitoring.events",
   "write": "^(rpc[.]monitor[.][a-z_]+|rpc[.]alerting[.][a-z_]+|rpc[.]notification[.][a-z_]+)$",
   "read": "^$"
  },
  {
   "user": "monitor",
   "vhost": "/",
   "exchange": "monitoring.events",
   "write": "^(check[.]completed)$",
   "read": "^(rpc[.]monitor[.]create_target|rpc[.]monitor[.]delete_target|rpc[.]monitor[.]ingest_result|rpc[.]monitor[.]list_targets|rpc[.]monitor[.]get_target|rpc[.]monitor[.]list_results|rpc[.]monitor[.]check_target)$"
  },
  {
   "user": "alerting",
   "vhost": "/",
   "exchange": "monitoring.events",
   "write": "^(alert[.]opened|alert[.]resolved)$",
   "read": "^(check[.]completed|rpc[.]alerting[.]list_alerts)$"
  },
  {
   "user": "notification",
   "vhost": "/",
   "exchange": "monitoring.events",
   "write": "^$",
   "read": "^(alert[.]opened|alert[.]resolved|rpc[.]notification[.]list_notifications)$"
  }
 ]
}
DEFINITIONS
for conf in /etc/rabbitmq/conf.d/*.conf; do
  if [ -f "$conf" ]; then cp "$conf" /tmp/rabbitmq-definitions/conf.d/; fi
done
echo "load_definitions = /tmp/rabbitmq-definitions/definitions.json" > /tmp/rabbitmq-definitions/conf.d/90-definitions.conf
if [ "$(id -u)" = 0 ]; then chown -R rabbitmq:rabbitmq /tmp/rabbitmq-definitions; fi
export RABBITMQ_CONFIG_FILES=/tmp/rabbitmq-definitions/conf.d
exec "$@"
