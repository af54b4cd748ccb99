"""The simulated market: universe, calendars' sessions and the pure numpy price model.

``model`` knows nothing of dates or calendars, ``sessions`` nothing of prices; the ``simulated``
provider joins them.
"""
