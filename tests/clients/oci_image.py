"""Turn a root filesystem directory into an OCI image archive (oci-layout).

The archive is what `ctr images import` (containerd 1.6), `podman load` and
`skopeo copy oci-archive:` read: a tar holding

    oci-layout                 {"imageLayoutVersion": "1.0.0"}
    index.json                 one manifest descriptor, annotated with the ref
    blobs/sha256/<manifest>    application/vnd.oci.image.manifest.v1+json
    blobs/sha256/<config>      application/vnd.oci.image.config.v1+json
    blobs/sha256/<layer>       the rootfs as one gzip-compressed tar layer

Every blob is named by the sha256 of its bytes; the config lists the layer's
diff_id (the sha256 of the *uncompressed* tar). The output is deterministic:
entries are sorted, owners are root, mtimes are fixed, gzip carries no time
stamp. Only the standard library is used.

    python -m tests.clients.oci_image ROOTFS OUT.tar [--ref NAME:TAG]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

# A fixed time for every entry and for the config: the same rootfs gives the
# same digests on every run.
EPOCH = 1700000000
CREATED = "2023-11-14T22:13:20Z"

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class OciImage:
    """What was written: the archive and the digests a client will report."""
    path: Path
    ref: str
    manifest_digest: str
    config_digest: str
    layer_digest: str
    diff_id: str


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _walk(rootfs: Path):
    """(path, arcname) for every entry under rootfs, parents first, sorted."""
    for dirpath, dirnames, filenames in os.walk(rootfs, followlinks=False):
        dirnames.sort()
        rel = os.path.relpath(dirpath, rootfs)
        names = sorted(dirnames + filenames)
        for name in names:
            full = os.path.join(dirpath, name)
            arc = name if rel == "." else os.path.join(rel, name)
            yield full, arc
        # os.walk does not descend into symlinks to directories: they are
        # listed in dirnames and archived as links, which is what we want.


def layer_tar(rootfs: Path) -> bytes:
    """The uncompressed layer: every file under rootfs, owned by root."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for full, arc in _walk(rootfs):
            info = tar.gettarinfo(full, arcname=arc)
            if info is None:    # a socket: an image has none
                continue
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = EPOCH
            if info.isreg():
                with open(full, "rb") as f:
                    tar.addfile(info, f)
            else:   # directory, symlink, hard link, device node, fifo
                tar.addfile(info)
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return out.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = EPOCH
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = EPOCH
    tar.addfile(info)


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build_oci_archive(rootfs: Path | str, out: Path | str,
                      ref: str = "docker.io/library/quark-test:latest", *,
                      cmd: list[str] | None = None, arch: str = "amd64",
                      os_name: str = "linux") -> OciImage:
    """Write an OCI image archive of `rootfs` to `out` and describe it.

    `ref` is the full name a client will know the image by. index.json
    carries it twice: as `io.containerd.image.name` (containerd imports the
    image under exactly that name) and the tag alone as
    `org.opencontainers.image.ref.name` (the OCI layout's own convention,
    used by podman/skopeo and by `ctr import --base-name`).
    """
    rootfs = Path(rootfs)
    out = Path(out)
    if not rootfs.is_dir():
        raise FileNotFoundError(f"rootfs {rootfs} is not a directory")
    raw = layer_tar(rootfs)
    diff_id = _sha256(raw)
    layer = _gzip(raw)
    layer_digest = _sha256(layer)

    config = {
        "created": CREATED,
        "architecture": arch,
        "os": os_name,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd or ["/bin/sh"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": "tests/clients/oci_image.py"}],
    }
    config_bytes = _canonical(config)
    config_digest = _sha256(config_bytes)

    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": len(layer)}],
    }
    manifest_bytes = _canonical(manifest)
    manifest_digest = _sha256(manifest_bytes)

    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "platform": {"architecture": arch, "os": os_name},
            "annotations": {
                "io.containerd.image.name": ref,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _canonical({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", _canonical(index))
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for digest, data in ((manifest_digest, manifest_bytes),
                             (config_digest, config_bytes),
                             (layer_digest, layer)):
            _add_bytes(tar, "blobs/sha256/" + digest.split(":", 1)[1], data)
    os.replace(tmp, out)
    return OciImage(path=out, ref=ref, manifest_digest=manifest_digest,
                    config_digest=config_digest, layer_digest=layer_digest, diff_id=diff_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.clients.oci_image",
                                     description="rootfs directory -> OCI image archive")
    parser.add_argument("rootfs")
    parser.add_argument("out")
    parser.add_argument("--ref", default="docker.io/library/quark-test:latest")
    args = parser.parse_args(argv)
    image = build_oci_archive(args.rootfs, args.out, args.ref)
    print(f"{image.path}: {image.ref} {image.manifest_digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
