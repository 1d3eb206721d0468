"""sym-STDP (Hao et al. 2020): configuration table, network on the GeNN model layer, readouts, training
procedure, frozen inference, checkpoints and figures (docs/sym_stdp.md)."""
