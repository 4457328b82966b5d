"""pandas' own tests of apply / map / groupby-apply, run with those calls computed by rowpool."""
