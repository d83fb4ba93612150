"""Stream agents and the outbox relay: thin loops that decode, call a rule or a query, write and send.

One failure policy for every consumer (applied by `agents.failures.Consumer`):

* Each message is decoded with the wire contract (`streams.events`). An undecodable one goes to
  `task-events-dlq` as received, with the headers `error` (why), `source` (topic/partition/offset)
  and `consumer` (the agent). On `task-events`, which four agents read, only `fan_out_updates`
  parks it (it reads every message), so it is parked once; the others log and skip it.
* A transient failure - the database unreachable or too slow, a lock conflict, the broker not
  answering - is retried with backoff (0.1 s doubling to 5 s; a conflict a few times at once) for as
  long as it lasts. The batch is not acknowledged meanwhile, so nothing is dropped; a worker that
  stops meanwhile leaves its offsets uncommitted and the next owner of the partition starts over.
* Any other error is a bug, or a message that breaks a rule: the batch is tried one message at a
  time, and a message that still fails is logged with its topic, partition and offset (and the
  traceback) and dead-lettered like an undecodable one. The worker carries on with the next.

Effects are idempotent (dedupe by event id, unique constraints, re-reading Postgres), so the
retries and redeliveries this policy causes never apply a change twice.
"""
