"""HTTP front-door event formats: API Gateway payload 2.0 and 1.0, ALB targets, and their response mapping."""
