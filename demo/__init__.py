"""A synthetic ESF project bank for tests, benchmarks and demos: a page generator and a local site."""
