//! The embedded MQTT broker (rumqttd) with per-agent credentials, topic ACLs and a bridge. Not built yet: see the swarm issue.
