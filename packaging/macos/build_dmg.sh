#!/bin/bash
# Build, sign, notarise and staple clippo-desktop.dmg on macOS (not run on Linux: see ../README.md).
#
#   python3 packaging/build.py                 # builds build/dist/clippo-desktop.app (+ .icns)
#   packaging/macos/build_dmg.sh               # unsigned dmg, for local testing
#   CODESIGN_ID="Developer ID Application: NAME (TEAMID)" NOTARY_PROFILE=clippo \
#       packaging/macos/build_dmg.sh           # signed, notarised, stapled dmg
#
# NOTARY_PROFILE is a keychain profile made once with:
#   xcrun notarytool store-credentials clippo --apple-id YOU@example.com --team-id TEAMID
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
APP="$ROOT/build/dist/clippo-desktop.app"
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml")"
ARCH="$(uname -m)"                             # arm64 or x86_64: build once on each
DMG="$ROOT/build/clippo-desktop-$VERSION-macos-$ARCH.dmg"
ENTITLEMENTS="$HERE/entitlements.plist"

[ -d "$APP" ] || { echo "build_dmg: $APP is missing; run python3 packaging/build.py first" >&2; exit 1; }
command -v hdiutil >/dev/null || { echo "build_dmg: hdiutil not found (this script runs on macOS only)" >&2; exit 1; }

if [ -n "${CODESIGN_ID:-}" ]; then
    # Sign inside-out: every Mach-O in the bundle, then the bundle, with the hardened runtime
    # (notarisation requires it) and a secure timestamp.
    find "$APP/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
        xargs -0 -n 20 codesign --force --timestamp --options runtime \
            --entitlements "$ENTITLEMENTS" --sign "$CODESIGN_ID"
    codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
        --sign "$CODESIGN_ID" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

# The dmg: the app plus an /Applications link to drag it onto. (create-dmg, from Homebrew,
# makes a prettier window: create-dmg --volname "Clippo Desktop" --app-drop-link 450 180 ...)
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "Clippo Desktop" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "${CODESIGN_ID:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_ID" "$DMG"
    if [ -n "${NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
        xcrun stapler staple "$DMG"
        xcrun stapler validate "$DMG"
        spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
    fi
fi
echo "build_dmg: wrote $DMG ($(du -h "$DMG" | cut -f1))"
