"""A session's life: :mod:`.session` (opened, copied, closed), :mod:`.fork`, :mod:`.exit`."""
