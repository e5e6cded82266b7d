#!/usr/bin/env bash
# Installs the Debian packages that ckpt's build and tests need; a no-op when
# they are all there.  Run as root.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config binutils
  libprotobuf-dev protobuf-compiler
  libnl-3-dev libnl-route-3-dev
  libcap-dev libbsd-dev libnftables-dev nftables
  libgnutls28-dev libaio-dev
  libgtest-dev
  iproute2 util-linux bsdutils procps time bc
  xz-utils pigz perl python3
  sqlite3
  libcap2-bin groff-base man-db
  nginx-light memcached curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
