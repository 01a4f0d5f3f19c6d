"""Pure HRV engine: artefact screening, rolling metrics and the calm index."""
