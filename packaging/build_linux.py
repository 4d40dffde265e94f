"""Linux artefacts from the PyInstaller folder: a tarball and a .deb built with dpkg-deb.

.deb layout: the app in /opt/clippo-desktop, a launcher script /usr/bin/clippo-desktop, the
desktop entry, hicolor icons (256/128/48 px PNG + scalable SVG) and AppStream metainfo. Its
Depends are computed, not guessed: every shared library the bundled binaries and Qt plugins
need (ELF NEEDED) that PyInstaller left out (glibc, libGL/EGL, X11/xcb, fontconfig...) is mapped
to its Debian package with `dpkg -S`; libc6's minimum is the newest GLIBC_x.y symbol version used.

The tarball holds the same folder plus share/ and install-user.sh (menu entry + ~/.local/bin).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

APP = "clippo-desktop"
METAINFO = "io.github.clippo_desktop.metainfo.xml"
# Used when dpkg cannot tell (a library missing on the build host): Debian's package names.
FALLBACK_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3",
    "libwayland-cursor.so.0": "libwayland-cursor0", "libwayland-egl.so.1": "libwayland-egl1",
}
# Always required even if no ELF names them: Qt dlopen()s these (platform plugin, GL).
ALWAYS = ["libxcb-cursor0", "libxkbcommon-x11-0", "libegl1", "libgl1", "libfontconfig1"]


def _elf_files(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    yield path


def system_libraries(app_dir: Path) -> tuple[set[str], str]:
    """(sonames needed but not bundled, newest GLIBC_x.y version referenced)."""
    bundled = {p.name for p in app_dir.rglob("*")}
    needed: set[str] = set()
    glibc = (2, 17)
    for elf in _elf_files(app_dir):
        out = subprocess.run(["readelf", "-d", "-V", "-W", str(elf)], capture_output=True, text=True).stdout
        needed.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
        for major, minor in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", out):
            glibc = max(glibc, (int(major), int(minor)))
    return {n for n in needed if n not in bundled}, f"{glibc[0]}.{glibc[1]}"


def _ldconfig_paths() -> dict[str, str]:
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    paths: dict[str, str] = {}
    for soname, arch, path in re.findall(r"^\s*(\S+) \(([^)]*)\) => (\S+)", out, re.M):
        if "x86-64" in arch:
            paths.setdefault(soname, path)
    return paths


def _package_of(path: str) -> str | None:
    for candidate in {path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/", 1),
                      path.replace("/lib/", "/usr/lib/", 1)}:
        res = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if res.returncode == 0 and ":" in res.stdout:
            return res.stdout.split(":", 1)[0].strip()
    return None


def _debian_name(soname: str) -> str:
    """Debian's library package naming: libfoo-bar.so.3 -> libfoo-bar3, libfoo2.so.0 -> libfoo2-0."""
    stem, _, major = soname.partition(".so.")
    major = major.split(".")[0]
    return (stem + ("-" if stem[-1:].isdigit() else "") + major).lower().replace("_", "-")


def debian_depends(app_dir: Path) -> tuple[list[str], list[str]]:
    """(Depends entries, warnings) for the bundled app folder."""
    sonames, glibc = system_libraries(app_dir)
    where = _ldconfig_paths()
    packages, warnings = set(ALWAYS), []
    for soname in sorted(sonames):
        pkg = _package_of(where[soname]) if soname in where else None
        if pkg is None:
            pkg = FALLBACK_PACKAGES.get(soname) or _debian_name(soname)
            warnings.append(f"{soname}: not on this build host; assuming package {pkg}")
        if pkg and not pkg.startswith("libc6"):
            packages.add(pkg)
    return [f"libc6 (>= {glibc})", *sorted(packages)], warnings


def _copy(src: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def install_share(share: Path, icons: dict[str, Path], packaging: Path) -> None:
    """desktop entry, icons and AppStream metainfo under a `share/` folder (deb or tarball)."""
    linux = packaging / "linux"
    _copy(linux / f"{APP}.desktop", share / "applications" / f"{APP}.desktop")
    _copy(linux / METAINFO, share / "metainfo" / METAINFO)
    for px in (256, 128, 48):
        _copy(icons[f"png{px}"], share / "icons" / "hicolor" / f"{px}x{px}" / "apps" / f"{APP}.png")
    _copy(icons["svg"], share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP}.svg")


def strip_debug_info(app_dir: Path) -> int:
    """`strip --strip-debug` the binaries that carry DWARF (the interpreter built here, hnswlib
    compiled here: ~30 MB). Wheels' vendored libs (*.libs/, patched by auditwheel) are left
    alone: stripping patchelf-edited files can corrupt them. Returns bytes saved."""
    saved = 0
    for elf in _elf_files(app_dir):
        if any(part.endswith(".libs") for part in elf.parts):
            continue
        sections = subprocess.run(["readelf", "-S", "-W", str(elf)], capture_output=True, text=True).stdout
        if ".debug_info" not in sections:
            continue
        before = elf.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(elf)], check=True)
        saved += before - elf.stat().st_size
    return saved


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build_deb(app_dir: Path, out_dir: Path, version: str, icons: dict[str, Path],
              packaging: Path, compression: str = "xz") -> tuple[Path, list[str]]:
    stage = out_dir / "deb-root"
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(app_dir, stage / "opt" / APP, symlinks=True)
    _copy(packaging / "linux" / f"{APP}.sh", stage / "usr" / "bin" / APP, 0o755)
    install_share(stage / "usr" / "share", icons, packaging)
    doc = stage / "usr" / "share" / "doc" / APP
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "clippo-desktop is licensed under Apache-2.0. It bundles third-party software (Python,\n"
        "Qt via PySide6 under LGPL-3.0, ONNX Runtime under MIT, GNU Unifont, ...): see\n"
        f"/opt/{APP}/_internal/licenses/ for every licence text and THIRD_PARTY_NOTICES.md.\n")
    depends, warnings = debian_depends(app_dir)
    control = (packaging / "linux" / "control.in").read_text()
    control = (control.replace("@VERSION@", version).replace("@DEPENDS@", ", ".join(depends))
               .replace("@INSTALLED_SIZE_KIB@", str(folder_size(stage) // 1024 + 1)))
    (stage / "DEBIAN").mkdir()
    (stage / "DEBIAN" / "control").write_text(control)
    _copy(packaging / "linux" / "postrm", stage / "DEBIAN" / "postrm", 0o755)
    for path in stage.rglob("*"):  # dpkg wants sane modes whatever the umask was
        if path.is_dir():
            path.chmod(0o755)
    deb = out_dir / f"{APP}_{version}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(stage), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(stage)
    return deb, warnings


INSTALL_USER_SH = """#!/bin/sh
# Put this unpacked clippo-desktop on your PATH (~/.local/bin) and in your desktop's app menu.
# Nothing outside your home directory is touched. Undo: rm ~/.local/bin/clippo-desktop and
# ~/.local/share/applications/clippo-desktop.desktop (your library in ~/.local/share/clippo-desktop
# is separate and stays either way).
set -e
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="${XDG_BIN_HOME:-$HOME/.local/bin}"
SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$BIN" "$SHARE/applications"
printf '#!/bin/sh\\nexec "%s/clippo-desktop" "$@"\\n' "$HERE" > "$BIN/clippo-desktop"
chmod 755 "$BIN/clippo-desktop"
cp -R "$HERE/share/icons" "$SHARE/"
sed "s|^Exec=.*|Exec=$BIN/clippo-desktop|; s|^TryExec=.*|TryExec=$BIN/clippo-desktop|" \\
    "$HERE/share/applications/clippo-desktop.desktop" > "$SHARE/applications/clippo-desktop.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" || true
echo "clippo-desktop: installed $BIN/clippo-desktop and the menu entry."
"""


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """No build-machine user names or ids inside the tarball."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build_tarball(app_dir: Path, out_dir: Path, version: str, icons: dict[str, Path],
                  packaging: Path) -> Path:
    top = f"{APP}-{version}-linux-x86_64"
    stage = out_dir / top
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(app_dir, stage, symlinks=True)
    install_share(stage / "share", icons, packaging)
    (stage / "install-user.sh").write_text(INSTALL_USER_SH)
    (stage / "install-user.sh").chmod(0o755)
    tarball = out_dir / f"{top}.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=6) as tar:
        tar.add(stage, arcname=top, filter=_anonymous)
    shutil.rmtree(stage)
    return tarball
