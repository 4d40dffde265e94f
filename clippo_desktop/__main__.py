"""`python -m clippo_desktop` runs the same entry point as the `clippo-desktop` script."""

from clippo_desktop.launcher import main

raise SystemExit(main())
