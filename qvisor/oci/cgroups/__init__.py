"""The host cgroup of a container's sandbox process, and linux.resources.

Every container runs in one host process (the sandbox); like runc, quark
places that process in the container's cgroup and writes the limits of
config.json's linux.resources there, so the host enforces them on the whole
VM (guest memory, vCPU threads, QKernel).

The modules, one job each:
- resources: Resources, parsed from linux.resources or `quark update`;
- paths: the container's cgroup path, from linux.cgroupsPath;
- layout: the host's hierarchies (v1, hybrid, v2) and a path's directories;
- files: reading and writing cgroup files;
- tree: making, walking and removing a cgroup's directories;
- v1, v2: writing limits (and freezing, v1) in each cgroup version;
- stats: statistics in runc's `events --stats` shape;
- cgroup: Cgroup, a container's cgroup in every hierarchy.
"""
from qvisor.oci.cgroups.cgroup import Cgroup
from qvisor.oci.cgroups.errors import CgroupError
from qvisor.oci.cgroups.paths import cgroup_path
from qvisor.oci.cgroups.resources import (
    Resources, parse_memory_size, parse_resources, parse_resources_object, parse_update_flags,
    resources_from_update,
)

__all__ = [
    "Cgroup", "CgroupError", "Resources", "cgroup_path", "parse_memory_size",
    "parse_resources", "parse_resources_object", "parse_update_flags", "resources_from_update",
]
