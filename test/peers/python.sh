#!/usr/bin/env bash
# Prints the Python interpreter of a virtual environment holding the peers
# some tests run that Debian does not package, installed from PyPI at the
# versions requirements.txt pins: asyncua (an OPC UA server and client),
# bacpypes3 (a BACnet/IP device and client), cpppo and pycomm3 (an
# EtherNet/IP target and client), c104 (lib60870's IEC 104 server and
# client), python-snap7 2.x (the Snap7 C library's S7 server and client;
# 3.x replaced it with Python of its own), yadnp3 (opendnp3's DNP3
# outstation and master) and xknx (a KNXnet/IP client).
# Cached outside the repository, keyed by that file's hash, as the control
# plane is. Prints nothing (and says why on stderr) where it cannot be made:
# those tests then skip, saying so.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
key="$(sha256sum "$here/requirements.txt" | cut -c1-16)"
dir="${HARK_CACHE:-$HOME/.cache/hark}/peers/python-$key"
if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import asyncua, bacpypes3, cpppo, pycomm3, c104, snap7, opendnp3, xknx' 2>/dev/null; then
  echo "$dir/bin/python"
  exit 0
fi
python="$(command -v python3 || true)"
if [ -z "$python" ]; then
  echo "peers: no python3 on PATH; the peer tests that need it will skip" >&2
  exit 0
fi
rm -rf "$dir"
if "$python" -m venv "$dir" >&2 && "$dir/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2; then
  echo "$dir/bin/python"
else
  rm -rf "$dir"
  echo "peers: could not install $here/requirements.txt from PyPI; the peer tests that need it will skip" >&2
fi
