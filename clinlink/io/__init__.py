"""Reading notes and report tables, writing annotations (JSONL, Parquet, CSV, FHIR, OMOP, BioC, PubTator, BRAT, DocBin), rendering."""
