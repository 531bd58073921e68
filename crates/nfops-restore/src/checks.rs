//! Integrity checks of a live environment (filled in by the checks slice).
