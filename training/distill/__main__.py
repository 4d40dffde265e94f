"""`python -m clippo_desktop.training.distill`: the CLIPPO-Lite recipe (train_lite.py)."""

from .train_lite import main

raise SystemExit(main())
