"""`python -m bench` (make bench): every benchmark in turn."""
import sys

from bench import bulk, finance_export, ingest_http, payouts, staff_pages

for module in (ingest_http, bulk, staff_pages, payouts, finance_export):
    sys.argv = [module.__name__]
    print(f"== {module.__name__}", flush=True)
    module.main()
