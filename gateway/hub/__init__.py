"""The hub's storage: events from every edge, the edges and their credentials, course
packs and cross-edge statistics, in SQLite or PostgreSQL behind one interface
(`gateway.hub.store.HubStore`; docs/sync.md, "The hub's storage")."""
