#!/usr/bin/env bash
# Installs what vpclab's lab and tests need, from the distribution's package registry
# (and, for the tests, geckodriver from crates.io). Idempotent: does nothing when
# everything is present.
#
#   scripts/deps.sh            # what the lab needs
#   scripts/deps.sh --tests    # and what only the tests need (the browsers and their drivers)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

tests=0
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
  esac
done

# command -> Debian package
declare -A need=(
  [ip]=iproute2
  [ping]=iputils-ping
  [iperf3]=iperf3
  [curl]=curl
  [python3]=python3
  [dot]=graphviz
  [tcpdump]=tcpdump
  [nft]=nftables
  [iptables]=iptables
  # Site-to-Site VPN: strongSwan (one charon per tunnel, userspace ESP) and BIRD (BGP).
  [charon-systemd]=charon-systemd
  [swanctl]=strongswan-swanctl
  [bird]=bird2
)

# strongSwan's plugins that are files, not commands: userspace ESP over a TUN device
# (this kind of machine has no kernel ESP) and the OpenSSL crypto (Diffie-Hellman).
declare -A need_file=(
  [/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so]=libcharon-extra-plugins
  [/usr/lib/ipsec/plugins/libstrongswan-openssl.so]=libstrongswan-standard-plugins
)

# The console's browser test: Debian's Chromium and its WebDriver, and Debian's Firefox
# ESR (its WebDriver, geckodriver, is installed below).
if ((tests)); then
  need[chromium]=chromium
  need[chromedriver]=chromium-driver
  need[firefox-esr]=firefox-esr
fi

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
for file in "${!need_file[@]}"; do
  [[ -e "$file" ]] || missing+=("${need_file[$file]}")
done

# The aws CLI tests need a virtual environment (Debian splits venv out of python3).
if command -v python3 >/dev/null 2>&1 && ! python3 -m venv --help >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

# The JavaScript client test needs Node.js and npm (netns-tests/clients/js); only when
# there is no node at all, so a Node.js installed otherwise is left alone.
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]} > 0)); then
  if [[ $EUID -ne 0 ]]; then
    echo "deps: missing packages: ${missing[*]}; run as root (sudo) to install them" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # strongSwan and BIRD ship init scripts; vpclab runs its own copies inside its
  # namespaces, so the packages must not start theirs in the host's namespace. A
  # policy-rc.d that refuses every start does that for the length of the install
  # (one the machine already has is left as it is).
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# vpclab deps.sh: no service starts while installing\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  # Units the install may enable, and which of them the machine had enabled already
  # (those are the user's, and stay as they are).
  units=(bird.service strongswan.service)
  was_enabled=()
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    for unit in "${units[@]}"; do
      systemctl is-enabled --quiet "$unit" 2>/dev/null && was_enabled+=("$unit")
    done
  fi
  apt-get update -qq
  status=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  ((made_policy)) && rm -f "$policy"
  ((status == 0)) || exit "$status"
  # Nor at the next boot, where systemd runs: the units this install enabled are
  # disabled again (not stopped: the policy above kept them from starting).
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    for unit in "${units[@]}"; do
      [[ " ${was_enabled[*]} " == *" $unit "* ]] && continue
      systemctl disable "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

# geckodriver, Firefox's WebDriver: Debian does not package it; Mozilla publishes it on
# crates.io. Built from there into target/tools, once (skipped while the pinned version is
# there); unoptimised, which halves the build (about a minute on two cores) and costs a
# test driver nothing.
if ((tests)); then
  geckodriver_version=0.37.1
  geckodriver="$root/target/tools/bin/geckodriver"
  have=$("$geckodriver" --version 2>/dev/null | head -n 1 || true)
  if [[ "$have" != "geckodriver $geckodriver_version" ]]; then
    if ! command -v cargo >/dev/null 2>&1; then
      echo "deps: geckodriver needs cargo on the PATH (cargo install, from crates.io)" >&2
      exit 1
    fi
    echo "deps: installing geckodriver $geckodriver_version from crates.io into target/tools" >&2
    cargo install --quiet --debug --locked --root "$root/target/tools" \
      geckodriver --version "$geckodriver_version"
  fi
fi
