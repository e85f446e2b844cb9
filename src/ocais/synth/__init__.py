"""Synthetic patient sets: generation, privacy/fidelity/utility report and release gate."""
