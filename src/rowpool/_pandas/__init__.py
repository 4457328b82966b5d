"""Everything that knows pandas: the DataFrame source, the pandas result sinks and their assembly,
the worker's pandas-like rows and chunk frames, the DataFrame jobs (``calls``), ``raw``/
``result_type`` (``replay``), ``rowpool.map``, pandas' ``engine=`` hook and the accessors.

Importing this package imports no pandas: the worker-side module (``rows``) imports it only when
a row or chunk needs a pandas object, so a worker running a plain numeric or string frame never
imports pandas. The other modules are imported by the parent, where pandas is loaded anyway.
"""
