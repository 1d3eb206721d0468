"""sym-STDP (Hao et al. 2020): configuration table, network on the GeNN model layer, readouts, checkpoints."""
