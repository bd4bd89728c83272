"""The edge <-> central protocol: envelopes, outbox/inbox, MQTT transport, broker config."""
