"""How one execution environment runs: runc bundles, cgroups, network namespaces, output capture."""
