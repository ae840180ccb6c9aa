"""quark's benchmarks (`make bench`): ratios against native and runc, in one run."""
