"""The OCI layer: bundles, config.json, the runc-compatible spec template."""
from qvisor.oci.config import load_bundle, kernel_config_from_spec, read_config
from qvisor.oci.errors import BundleError
from qvisor.oci.spec import default_spec, write_spec

__all__ = ["BundleError", "default_spec", "kernel_config_from_spec", "load_bundle",
           "read_config", "write_spec"]
