#!/usr/bin/env bash
# Build an OCI bundle that runs the host's own programs: an empty rootfs
# holding only mount points, with the host's /usr and /etc (and /bin, /sbin,
# /lib, /lib64 when they are real directories) bind-mounted read-only, and a
# writable tmpfs on /tmp. config.json comes from `quark spec`.
#
# Usage: scripts/build_host_bundle.sh BUNDLE_DIR
#
# On a merged-usr host (Debian 12: /bin -> usr/bin, /lib -> usr/lib, ...) the
# top-level links are recreated in the rootfs as the same relative symlinks,
# so they resolve through the /usr bind mount inside the container; a
# top-level directory that is a real directory on the host gets its own
# read-only bind mount instead.
# Idempotent: re-running rewrites config.json and leaves the rootfs alone.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BUNDLE_DIR" >&2
	exit 2
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUNDLE=$(mkdir -p "$1" && cd "$1" && pwd)
PY=${PY:-$REPO/.venv/bin/python}
ROOTFS=$BUNDLE/rootfs

# The mount points of quark's default mounts, plus /root as a home directory.
mkdir -p "$ROOTFS"/{usr,etc,tmp,proc,dev,sys,root}
chmod 1777 "$ROOTFS/tmp"

# Host top-level directories: "bind" (read-only bind mount) or link to mirror.
binds="/usr /etc"
for top in /bin /sbin /lib /lib64; do
	name=${top#/}
	if [ -L "$top" ]; then
		target=$(readlink "$top")
		if [ "$(readlink "$ROOTFS/$name" 2>/dev/null || true)" != "$target" ]; then
			rm -rf "${ROOTFS:?}/$name"
			ln -s "$target" "$ROOTFS/$name"
		fi
	elif [ -d "$top" ]; then
		[ -L "$ROOTFS/$name" ] && rm -f "$ROOTFS/$name"
		mkdir -p "$ROOTFS/$name"
		binds="$binds $top"
	fi
done

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
(cd "$REPO" && "$PY" -m qvisor.cli spec --bundle "$tmpdir")
"$PY" - "$tmpdir/config.json" $binds <<'EDIT'
import json
import sys

path, binds = sys.argv[1], sys.argv[2:]
with open(path) as f:
    spec = json.load(f)
spec["process"]["args"] = ["/bin/sh", "-c", "echo hello from the host programs; uname -a"]
spec["process"]["terminal"] = False
spec["process"]["env"] = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root", "TERM=xterm", "LANG=C",
]
spec["hostname"] = "quark-host"
# The rootfs holds only mount points; everything writable is on /tmp.
spec["root"] = {"path": "rootfs", "readonly": True}
spec["mounts"] += [{"destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]}
                   for d in binds]
spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "mode=1777", "size=262144k"]})
with open(path, "w") as f:
    f.write(json.dumps(spec, indent="\t") + "\n")
EDIT
install -m 0644 "$tmpdir/config.json" "$BUNDLE/config.json"
echo "bundle ready: $BUNDLE"
