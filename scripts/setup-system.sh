#!/usr/bin/env bash
# Installs the system packages lambkin needs on Debian, as root. Idempotent: quick when all are present.
set -euo pipefail

packages=(runc tini buildah skopeo debootstrap docker-registry iproute2 curl busybox-static zstd uidmap apache2-utils
          e2fsprogs mount  # mkfs.ext4 and losetup: a sandbox's /tmp is an ext4 file on a loop device
          nftables         # the sandboxes' network rules (nft -j)
          dnsmasq-base iperf3  # the network tests' own DNS server, the network bench's throughput
          postgresql   # the state on PostgreSQL: its binaries in /usr/lib/postgresql/15/bin (tests/postgres.py)
          haproxy      # the load balancer in front of a cluster's nodes (tests/cluster.py, docs/deploy.md)
          chromium     # the console's browser tests (headless, driven by Playwright: tests/e2e/test_console_browser.py)
          debian-archive-keyring  # debootstrap checks bookworm and trixie with it (lambkin runtimes build)
          zip)         # the README's zip flow, as tests/e2e/test_zip_on_runtimes.py runs it
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# npm fetches aws-lambda-ric for the Node.js runtimes (lambkin runtimes build): any node's npm will do, so
# Debian's is installed only where the machine has none (a NodeSource nodejs brings its own).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# docker-registry's packaged service is not wanted: tests and benches start their own on loopback.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
fi
# Nor is Debian's haproxy service (its packaged config balances nothing): the cluster tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet haproxy 2>/dev/null; then
    systemctl stop haproxy || true
fi
# Nor is the cluster Debian's postgresql makes and starts: tests start their own (initdb in a temp directory).
if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | awk '$4 == "online"' | grep -q .; then
    pg_lsclusters -h | awk '$4 == "online" {print $1, $2}' | while read -r version cluster; do
        pg_ctlcluster "$version" "$cluster" stop || true
    done
fi
