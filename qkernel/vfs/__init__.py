"""QKernel's virtual file system.

Modules: abi (guest struct bytes and constants), hostpath (openat2 confined
host access), statinfo, perm (guest-credential checks), file (OpenFile),
hostfile/hostfs (host-backed files), memfs/devices/procfs (in-kernel file
systems), pipe, mounts (mount tree, Location), walk (path resolution),
ops (path operations the syscalls call), fdtable, fscontext, build
(build_vfs from a KernelConfig).
"""
