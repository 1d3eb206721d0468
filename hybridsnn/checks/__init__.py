"""Validation at the boundary, one module per kind of value, shared by every system.

* :mod:`hybridsnn.checks.values` — counts, rates, probabilities and other numbers given as flags
  (argparse ``type=`` callables that refuse NaN, inf, zero counts and out-of-range values);
* :mod:`hybridsnn.checks.paths` — output folders, output files, run names, input files;
* :mod:`hybridsnn.checks.arrays` — arrays from users' files and from checkpoints (numeric, non-empty, finite);
* :mod:`hybridsnn.checks.flags` — flags that depend on each other (a flag the chosen task does not read).

Every check raises :class:`hybridsnn.errors.UserError` (or argparse's type error, which the command line turns
into the same one line ``hybridsnn: error: ...``) naming the offending flag or file, its value, and what is
allowed.
"""
