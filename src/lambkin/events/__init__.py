"""Event sources: SQS pollers for event source mappings and builders of event payloads."""
