"""Core — what every stage shares, and nothing else: one `Diagnostic` type and one definition of a
source line (`diagnostics`), atomic file output (`files`), a pause of the cyclic collector while a
stage builds many small objects (`gcpause`), the version (`version`).

In: nothing of netdsl. Out: used by every package. May import: the standard library only.
"""
