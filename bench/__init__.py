"""payflow's benchmark: throughput and latency as ratios against floors measured in the same run.

`scripts/bench` runs it (`run.py`); `floors.py` is the floor app, `procs.py` starts and
stops what is measured and drives wrk with the Lua scripts in `lua/`, `signing.py`
times signature checks in-process, and `report.py` writes `results/`.
"""
