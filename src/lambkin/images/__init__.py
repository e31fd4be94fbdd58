"""OCI images: content store, manifests and tags, pulls, archive import, layer unpacking, overlay roots."""
