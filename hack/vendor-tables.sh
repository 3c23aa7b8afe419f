#!/usr/bin/env bash
# Regenerates the BACnet and CIP vendor-id tables (sensor-agent/src/decoders/vendor-ids/)
# from the packages that publish them: the bacnet-rs crate (crates.io) and pycomm3 (PyPI).
# Needs cargo and pip; run it when the registries have moved on, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
BACNET_RS_VERSION="${BACNET_RS_VERSION:-0.3.2}"
PYCOMM3_VERSION="${PYCOMM3_VERSION:-1.2.16}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && cargo new -q fetch && cd fetch && echo "bacnet-rs = \"=$BACNET_RS_VERSION\"" >> Cargo.toml && cargo fetch -q )
vendor_rs="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"bacnet-rs-$BACNET_RS_VERSION" | head -1)/src/vendor.rs"
pip download -q --no-deps "pycomm3==$PYCOMM3_VERSION" -d "$work"
python3 -m zipfile -e "$work"/pycomm3-*.whl "$work/pycomm3"
mkdir -p sensor-agent/src/decoders/vendor-ids
node hack/vendor-tables.mjs "$vendor_rs" "$BACNET_RS_VERSION" "$work/pycomm3/pycomm3/cip/status_info.py" "$PYCOMM3_VERSION"
npx biome format --write sensor-agent/src/decoders/vendor-ids >/dev/null
