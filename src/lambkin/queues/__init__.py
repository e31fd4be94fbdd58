"""The SQS-compatible queue engine: standard and FIFO queues, visibility, long polling, redrive."""
