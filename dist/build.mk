# Installing enbd: make install / make uninstall (DESTDIR, PREFIX honoured)
# and make deb (dist/make-deb: the Debian packages enbd and enbd-dkms).
#
#   $(SBINDIR)      enbd-client enbd-server enbd-guardian enbdctl
#   $(MANDIR)       enbd(4) enbd.conf(5) enbd-client(8) enbd-server(8)
#                   enbd-guardian(8) enbdctl(8)
#   $(UNITDIR)      enbd-module.service enbd-guardian.service enbd-server@.service
#   $(DOCDIR)       examples/enbd.conf (also $(SYSCONFDIR)/enbd.conf if absent)
#   $(DKMS_SRCDIR)  the module's source with dkms.conf: `dkms install
#                   enbd/$(ENBD_VERSION)` builds it for every kernel
ENBD_VERSION := 0.1.0

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/enbd
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
DKMS_SRCDIR ?= /usr/src/enbd-$(ENBD_VERSION)
INSTALL ?= install

INSTALL_PROGRAMS := enbd-client enbd-server enbd-guardian enbdctl
MAN_PAGES := $(wildcard man/*.[458])
UNITS := enbd-module.service enbd-guardian.service enbd-server@.service
MODULE_SOURCES := Kbuild $(wildcard kernel/*.c kernel/*.h) include/uapi/enbd.h

.PHONY: install uninstall install-userspace install-dkms-source deb
install: install-userspace install-dkms-source
	@if [ ! -e "$(DESTDIR)$(SYSCONFDIR)/enbd.conf" ]; then \
		echo "$(INSTALL) -D -m 0644 dist/enbd.conf $(DESTDIR)$(SYSCONFDIR)/enbd.conf"; \
		$(INSTALL) -D -m 0644 dist/enbd.conf "$(DESTDIR)$(SYSCONFDIR)/enbd.conf"; \
	fi
	@echo "installed; build and install the module with: dkms install enbd/$(ENBD_VERSION)"

install-userspace: $(addprefix $(BUILD)/,$(INSTALL_PROGRAMS))
	$(INSTALL) -d "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(DOCDIR)/examples"
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(INSTALL_PROGRAMS)) "$(DESTDIR)$(SBINDIR)/"
	for page in $(MAN_PAGES); do \
		sect=$${page##*.}; \
		$(INSTALL) -D -m 0644 "$$page" "$(DESTDIR)$(MANDIR)/man$$sect/$${page##*/}" || exit 1; \
	done
	for unit in $(UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' "dist/systemd/$$unit.in" >"$(DESTDIR)$(UNITDIR)/$$unit" && \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$$unit" || exit 1; \
	done
	$(INSTALL) -m 0644 dist/enbd.conf "$(DESTDIR)$(DOCDIR)/examples/enbd.conf"

install-dkms-source:
	for f in $(MODULE_SOURCES); do \
		$(INSTALL) -D -m 0644 "$$f" "$(DESTDIR)$(DKMS_SRCDIR)/$$f" || exit 1; \
	done
	sed 's|@VERSION@|$(ENBD_VERSION)|g' dist/dkms.conf.in >"$(DESTDIR)$(DKMS_SRCDIR)/dkms.conf"
	chmod 0644 "$(DESTDIR)$(DKMS_SRCDIR)/dkms.conf"

# The configuration in $(SYSCONFDIR) stays, as configuration does.
uninstall:
	rm -f $(addprefix "$(DESTDIR)$(SBINDIR)"/,$(INSTALL_PROGRAMS))
	for page in $(MAN_PAGES); do \
		rm -f "$(DESTDIR)$(MANDIR)/man$${page##*.}/$${page##*/}"; \
	done
	rm -f $(addprefix "$(DESTDIR)$(UNITDIR)"/,$(UNITS))
	rm -rf "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(DKMS_SRCDIR)"

deb: userspace
	dist/make-deb "$(BUILD)" "$(ENBD_VERSION)"
