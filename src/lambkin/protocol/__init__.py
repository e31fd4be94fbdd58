"""AWS wire protocols driven by botocore's service models: routing, parsing, validation, serialization, SigV4."""
