"""The users of a secured local cluster: SASL/SCRAM on Kafka with ACLs, HTTP Basic on Pinot.

Passwords are made up at every start and live only in the cluster's private
directory and in :class:`Credentials`, whose ``repr`` shows none of them.

Kafka users (SCRAM-SHA-512 over SASL_PLAINTEXT): ``admin`` (super user),
``feast`` (the store's producer: create, delete, describe and write any
topic), ``pinot`` (Pinot's consumer: read and describe any topic), ``ingest``
(the stream ingester: read any topic and group, write any topic) and
``nobody`` (authenticated, no ACL at all). Pinot users (controller and
broker): ``admin`` and ``feast`` (every permission), ``reader`` (read only).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

__all__ = ["KAFKA_ACLS", "KAFKA_USERS", "PINOT_USERS", "Credentials"]

KAFKA_USERS = ("admin", "feast", "pinot", "ingest", "nobody")
PINOT_USERS = {"admin": "", "feast": "", "reader": "READ"}  # user -> permissions ("": all)
# (user, resource type, operation) with every resource name ("*"); "admin" is a super user.
KAFKA_ACLS = (
    *[("feast", "TOPIC", op) for op in ("CREATE", "DELETE", "DESCRIBE", "WRITE")],
    *[("pinot", "TOPIC", op) for op in ("READ", "DESCRIBE")],
    *[("ingest", "TOPIC", op) for op in ("READ", "DESCRIBE", "WRITE")],
    ("ingest", "GROUP", "READ"),
)


@dataclass(frozen=True)
class Credentials:
    """One password per user and system, made up when the cluster starts."""

    kafka: dict[str, str] = field(repr=False)
    pinot: dict[str, str] = field(repr=False)

    @classmethod
    def made_up(cls) -> Credentials:
        return cls({user: secrets.token_urlsafe(18) for user in KAFKA_USERS},
                   {user: secrets.token_urlsafe(18) for user in PINOT_USERS})

    def pinot_token(self, user: str) -> str:
        """The ``Authorization`` header value of a Pinot user."""
        return "Basic " + base64.b64encode(f"{user}:{self.pinot[user]}".encode()).decode()

    def scram_jaas(self, user: str) -> str:
        """A Java client's ``sasl.jaas.config`` for a Kafka user."""
        return ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{user}" password="{self.kafka[user]}";')

    def kafka_client(self, user: str) -> dict[str, str]:
        """librdkafka settings that log in as a Kafka user."""
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
                "sasl.username": user, "sasl.password": self.kafka[user]}
