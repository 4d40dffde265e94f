"""`python -m clippo_desktop.training.distill`: see run.py."""

from .run import main

raise SystemExit(main())
