"""CPT 4.0 curriculum: the blueprint, item bank and lessons as validated data."""
