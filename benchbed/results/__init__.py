"""Results: the typed record and its one builder / validating reader, the results folder, tables, exports,
comparison with published records, provenance, the run log."""
