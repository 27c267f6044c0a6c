"""HyperDrive engine: parameter spaces, samplers, early termination, the sweep driver."""
