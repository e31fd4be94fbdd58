"""lambkin: a self-hosted, AWS Lambda-compatible serverless platform for container images."""

from lambkin.compiled import use_sources_if_stale

__version__ = "0.1.0"

use_sources_if_stale()
