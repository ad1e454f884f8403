"""``syncd explain PATH``: what syncd knows and would do for one path, changing nothing.

facts.py     the folder, the state (a private copy) and the ignore files, read only
plan.py      the planner's choice now: a dry run scoped to the path, widened when a
             move or a folder delete could be what the path is part of
assemble.py  the pure part: the facts and the plan as one JSON-ready value
gather.py    runs the three in order; the server's part may fail, the rest stands
"""
