"""What happens inside lambkin, counted: invocations, cold starts, requests, exposed to Prometheus; and
one-minute aggregates for the CloudWatch API."""
