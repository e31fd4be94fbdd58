"""EventBridge: buses, rules, targets, event patterns and delivery of events to functions and queues."""
