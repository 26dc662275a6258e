"""A session's life: :mod:`.session` (opened, copied, closed), :mod:`.fork`, :mod:`.at_exit`."""
