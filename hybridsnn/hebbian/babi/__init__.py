"""The bAbI question-answering task: stories and vocabulary (:mod:`.data`; the files come from the data
catalog, :mod:`hybridsnn.data.babi`), the QA SNN (:mod:`.network`) and training/testing (:mod:`.run`)."""
