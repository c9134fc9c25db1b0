"""Sync between edge gateways and the hub (docs/sync.md): the wire protocol, the hub's
endpoints, and the edge's client."""
