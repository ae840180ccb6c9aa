#!/usr/bin/env bash
# Build the example OCI bundle: a busybox rootfs and a config.json from `quark spec`.
# Usage: scripts/build_busybox_bundle.sh [BUNDLE_DIR]   (default bundles/busybox)
# Idempotent: re-running changes only what is missing or out of date.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUNDLE=${1:-$REPO/bundles/busybox}
BUSYBOX=${BUSYBOX:-/bin/busybox}
PY=${PY:-$REPO/.venv/bin/python}
ROOTFS=$BUNDLE/rootfs

if [ ! -x "$BUSYBOX" ]; then
	echo "build_busybox_bundle: $BUSYBOX missing (apt-get install busybox-static)" >&2
	exit 1
fi
# A dynamic busybox would need its libc in the rootfs: insist on the static one.
if command -v readelf >/dev/null && readelf -l "$BUSYBOX" | grep -q 'INTERP'; then
	echo "build_busybox_bundle: $BUSYBOX is dynamically linked; install busybox-static" >&2
	exit 1
fi

mkdir -p "$ROOTFS"/{bin,tmp,etc,proc,dev,sys,root,home}
chmod 1777 "$ROOTFS/tmp"
chmod 0700 "$ROOTFS/root"

if ! cmp -s "$BUSYBOX" "$ROOTFS/bin/busybox"; then
	install -m 0755 "$BUSYBOX" "$ROOTFS/bin/busybox"
fi
# Relative links so they resolve inside the container's root.
for applet in $("$ROOTFS/bin/busybox" --list); do
	[ "$applet" = busybox ] && continue
	[ -L "$ROOTFS/bin/$applet" ] || ln -sfn busybox "$ROOTFS/bin/$applet"
done

# write_if_changed FILE: stdin becomes FILE unless FILE already has that content.
write_if_changed() {
	local tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else chmod 0644 "$tmp"; mv "$tmp" "$1"; fi
}
write_if_changed "$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
write_if_changed "$ROOTFS/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo quark | write_if_changed "$ROOTFS/etc/hostname"

# config.json: quark's template (the same as `runc spec`), made to print and exit.
tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
(cd "$REPO" && "$PY" -m qvisor.cli spec --bundle "$tmpdir")
"$PY" - "$tmpdir/config.json" <<'EDIT'
import json
import sys

path = sys.argv[1]
with open(path) as f:
    spec = json.load(f)
spec["process"]["args"] = ["/bin/sh", "-c", "echo hello from quark; uname -a"]
spec["process"]["terminal"] = False
with open(path, "w") as f:
    f.write(json.dumps(spec, indent="\t") + "\n")
EDIT
write_if_changed "$BUNDLE/config.json" <"$tmpdir/config.json"
echo "bundle ready: $BUNDLE"
