"""What ntrk keeps: the run log, sidecars, git notes, and the derived index and stat cache."""
