"""The one Dagster Definitions object of the pipeline.

Extraction assets (group `salesforce_raw`), the event-log models, mining and report assets are
added here as they are built (issues 3 to 6); until then the code location loads with no assets.
"""

from dagster import Definitions

defs = Definitions()
