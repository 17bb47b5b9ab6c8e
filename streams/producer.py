"""The aiokafka producer side: acks=all, idempotent, batches awaited as a whole."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, UnknownError, UnsupportedVersionError

from metrics_core.errors import BrokerUnavailable
from streams.kafka_admin import broker_error, kafka_bootstrap
from streams.kafka_security import PLAINTEXT, KafkaOptions

log = logging.getLogger(__name__)

Message = tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]


class KafkaSender:
    """`await sender.send_batch([(topic, partition, key, value, headers), ...])` — all or raise.

    acks=all and idempotent; a broker without InitProducerId (Tansu) gets a plain acks=all
    producer instead — duplicates a retry could write are de-duplicated by event_id anyway.
    `security`: aiokafka's security arguments (streams/kafka_security.py: `client_options`).
    """

    def __init__(self, kafka_url: str, client_id: str = "pulse", security: KafkaOptions = PLAINTEXT) -> None:
        self._bootstrap = kafka_bootstrap(kafka_url)
        self._client_id = client_id
        self._security = security
        self._producer = self._make(idempotent=True)

    def _make(self, idempotent: bool) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=5,
            max_request_size=4 * 1024 * 1024,
            **self._security,
        )

    async def start(self) -> None:
        try:
            try:
                await self._producer.start()
            except (UnknownError, UnsupportedVersionError):
                await self._producer.stop()
                log.warning("broker %s has no idempotent producers; using acks=all alone", self._bootstrap)
                self._producer = self._make(idempotent=False)
                await self._producer.start()
        except KafkaError as exc:
            await self._producer.stop()
            error = await broker_error(self._bootstrap, self._security, exc)
            raise type(error)(f"cannot start the Kafka producer: {error}") from exc

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_batch(self, messages: Sequence[Message]) -> None:
        try:
            futures = [
                await self._producer.send(
                    topic, value=value, key=key, partition=partition, headers=headers or None
                )
                for topic, partition, key, value, headers in messages
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise BrokerUnavailable(f"Kafka did not take {len(messages)} messages: {exc}") from exc
