"""What operators run and watch beside the product's own flow: the admin console's
services (admin.py), erasure and purging (privacy.py), metrics for /health and /metrics
(metrics.py), logging with request ids (logs.py) and migrations driven from code
(migrate.py). The practice engine imports none of it; the delivery worker purges through
privacy.py and reports outbox health through metrics.py."""
