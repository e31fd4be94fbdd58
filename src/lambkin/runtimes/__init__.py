"""Managed runtimes: Lambda's runtime identifiers built as OCI images from Debian's own packages."""
