"""Engines that run the load: the embedded local one (:func:`tokenaudit.ingest.load_events`) and, with the
``dask`` extra, a Dask cluster (:mod:`tokenaudit.engines.dask`). Both give the same events, byte for byte."""
