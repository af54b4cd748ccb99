"""Option chain snapshots from ``md.options.v1``: stored point in time (:mod:`.store`), consumed
in a group of their own (:mod:`.sink`) and served by ``GET /v1/options/chain`` (:mod:`.routes`).
"""
