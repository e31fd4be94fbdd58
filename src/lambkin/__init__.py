"""lambkin: a self-hosted, AWS Lambda-compatible serverless platform for container images."""

__version__ = "0.1.0"
