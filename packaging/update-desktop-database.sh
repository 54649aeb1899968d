#!/bin/sh
# postinst and postrm of the .deb and .rpm (the same script for both): the
# package's .desktop file names Latchkey the handler of dev.latchkey: links
# (MimeType=x-scheme-handler/dev.latchkey;), and desktops find handlers
# through the cache update-desktop-database writes (mimeinfo.cache). On
# Debian, desktop-file-utils' dpkg trigger does this as well; RPM has no such
# trigger. Never fails the package operation: a machine without
# desktop-file-utils just has no cache to update.
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q /usr/share/applications || true
fi
exit 0
