"""Pure rules of the regulation: no I/O, no aiogram, nothing of ours imported."""
