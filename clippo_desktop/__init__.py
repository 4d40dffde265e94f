"""clippo-desktop: offline photo search with one pixel encoder (CLIPPO).

The repository's top-level folders (engine/, app/, training/, resources/) install as
subpackages of this namespace, so `clippo_desktop.engine` can never collide with a
different distribution's `engine` package.
"""

__version__ = "0.1.0"
