"""`python -m clippo_desktop.training.distill`: the whole CLIPPO-Lite recipe (recipe.py)."""

from .recipe import main

raise SystemExit(main())
