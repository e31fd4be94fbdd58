"""A sandbox's outward network: addresses, interfaces, NAT and isolation rules, DNS (docs/design/networking.md)."""
