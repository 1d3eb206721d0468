"""The memorizing-associations task: the synthetic sequences (:mod:`.data`, task generator
``associations``), training/testing (:mod:`.run`) and its figures (:mod:`.figures`)."""
