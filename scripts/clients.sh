#!/usr/bin/env bash
# Installs the real clients that netns-tests/tests/clients.rs runs against `vpclab serve`:
# Ansible (with the amazon.aws collection it bundles) from PyPI into target/pyenv, and the
# AWS SDK for JavaScript v3 from npm (netns-tests/clients/js/package-lock.json) into
# target/clients/js. Idempotent, and quick when both are in place already.
set -euo pipefail
cd "$(dirname "$0")/.."

ansible_version=12.3.0 # ansible-core 2.19, amazon.aws 10.1

python=target/pyenv/bin/python
if [[ ! -x $python ]]; then
  python3 -m venv target/pyenv
fi
installed=$("$python" -c 'import importlib.metadata as m; print(m.version("ansible"))' 2>/dev/null || true)
if [[ $installed != "$ansible_version" ]]; then
  echo "clients: installing ansible==$ansible_version into target/pyenv" >&2
  target/pyenv/bin/pip install --quiet --disable-pip-version-check \
    "ansible==$ansible_version" boto3
fi
# The whole output, then its first line: a pipe into `head` would close early and
# ansible-playbook would die of the broken pipe.
version=$(target/pyenv/bin/ansible-playbook --version)
echo "${version%%$'\n'*}"

# npm ci into target/, so no node_modules lands in the tree; again only when the lock
# file changed.
src=netns-tests/clients/js
dst=target/clients/js
if ! cmp -s "$src/package-lock.json" "$dst/package-lock.json" || [[ ! -d $dst/node_modules ]]; then
  echo "clients: npm ci for $src into $dst" >&2
  rm -rf "$dst"
  mkdir -p "$dst"
  cp "$src/package.json" "$src/package-lock.json" "$dst/"
  (cd "$dst" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "node $(node --version), @aws-sdk/client-ec2 $(node -p 'require("./'"$dst"'/node_modules/@aws-sdk/client-ec2/package.json").version')"
