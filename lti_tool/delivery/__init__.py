"""The outbound door: what the tool tells LMSs and LRSs, and the promise it keeps.

The practice engine records learning events (events.py) and grades (scores.py) as outbox
rows in the same transaction as the change they report; the worker (worker.py) delivers
them: grades to the LMS gradebook over LTI AGS (ags.py), statements to each LRS over xAPI
(xapi.py, rendered by render.py, to the destinations of destinations.py). Every call out
goes through one outbound policy (outbound.py); LRS passwords are sealed (sealed.py).
The state machine and the operator's view are in outbox.py, the backoffs in retry.py.

The guarantees:

- **Never lost.** An event is committed with what it reports, or neither is. An
  undelivered row is never deleted: it is retried (grades a dozen times, statements
  forever, retry.py) or parked as failed with its reason until an operator retries it
  (``cpt-lti outbox retry``). Only delivered rows are purged, after
  ``outbox.retention_days``. A worker that dies mid-delivery leaves a lease that runs out,
  and the row is delivered again.
- **Never duplicated.** A statement's id is fixed when the event is queued, and each copy
  for each LRS has a dedupe key (statement id @ destination); the statement's JSON is
  rendered once and frozen on the row, so a retry resends the same bytes and the LRS drops
  a repeat. A grade resent after a crash carries its original timestamp, so the
  gradebook keeps one score.
- **In order per destination.** One worker at a time owns an LRS's oldest rows and sends
  them in queue order; a learner's statements reach each LRS in the order they happened.

This package imports nothing: the engine imports events.py and scores.py, which need only
the models, so answering a question never loads requests or pylti1p3.
"""
