"""Long-running work as jobs: requests on ``jobs.requests.v1``, progress on ``jobs.events.v1``."""
