"""Development, test and benchmark tooling; not part of the deployed app."""
