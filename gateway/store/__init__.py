"""The store: the one place that reads and writes the SQLite database.

One `Store` wraps one connection. Open one per request, per worker and per
command; keep write transactions short with `Store.write()`.
"""

from gateway.store.records import (
    CertificateRecord,
    EnrollmentRecord,
    InboundRecord,
    LearnerRecord,
    OutboxRecord,
    UssdSessionRecord,
)
from gateway.store.schema_check import SchemaError
from gateway.store.store import Store, default_db_path

__all__ = [
    "CertificateRecord",
    "EnrollmentRecord",
    "InboundRecord",
    "LearnerRecord",
    "OutboxRecord",
    "SchemaError",
    "Store",
    "UssdSessionRecord",
    "default_db_path",
]
