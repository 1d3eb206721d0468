"""The cross-modal task (spoken digit, FSDD → MNIST image): MFCC images (:mod:`.audio`), the pools, network
and steps (:mod:`.network`) and training/testing/figures (:mod:`.run`)."""
