#!/bin/sh
# /usr/bin/clippo-desktop: start the app installed in /opt/clippo-desktop with all arguments.
# A script rather than a symlink, so the one-folder app always finds its _internal/ folder.
exec /opt/clippo-desktop/clippo-desktop "$@"
