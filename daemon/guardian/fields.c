// SPDX-License-Identifier: GPL-2.0
/*
 * The fields of a `client' line that end up on a channel daemon's command
 * line.  The daemon runs as root with the device's session token, so a field
 * that enbd-client could read as an option (`-d` shuts the device down) or
 * as something else than what it is documented to be must be refused here,
 * before anything runs.  The command line also separates the operands with
 * `--` (children.c): these checks say what a field may be, `--` makes sure
 * it is never read as an option whatever it is.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guardian.h"
#include "nbd-proto.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 1123: dot-separated labels of letters, digits and inner hyphens. */
static bool hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len && s[len - 1] == '.')	/* a fully qualified name */
		len--;
	if (!len || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(s[i]) || (s[i] == '-' && label)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return s[len - 1] != '-';
}

/* An IPv4 or IPv6 literal; IPv6 with an optional %zone (fe80::1%eth0). */
static bool ip_literal(const char *s)
{
	unsigned char addr[16];
	char v6[INET6_ADDRSTRLEN];
	const char *zone = strchr(s, '%');
	size_t len = zone ? (size_t)(zone - s) : strlen(s);

	if (!zone && inet_pton(AF_INET, s, addr) == 1)
		return true;
	if (len >= sizeof(v6))
		return false;
	memcpy(v6, s, len);
	v6[len] = 0;
	return inet_pton(AF_INET6, v6, addr) == 1 && (!zone || field_ifname(zone + 1));
}

bool field_host(const char *s)
{
	return ip_literal(s) || hostname(s);
}

/* Letters, digits and `_ . - @`, not starting with `-`; shorter than IFNAMSIZ. */
bool field_ifname(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= IFNAMSIZ || !is_alnum(s[0]))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("_.-@", *s))
			return false;
	return true;
}

bool field_bind(const char *s)
{
	return ip_literal(s) || field_ifname(s);
}

/* 1..65535, or a service name (RFC 6335: a letter, then letters, digits, `-`). */
bool field_port(const char *s)
{
	unsigned long v = 0;
	size_t len = strlen(s);

	if (s[0] >= '1' && s[0] <= '9' && len <= 5 && strspn(s, "0123456789") == len) {
		for (; *s; s++)
			v = v * 10 + (*s - '0');
		return v <= 65535;
	}
	if (!len || len > 15 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '-')
			return false;
	return true;
}

/*
 * The NBD protocol's export names are UTF-8 strings of at most 4096 bytes;
 * control characters would only garble the logs.
 */
bool field_export(const char *s)
{
	static const uint32_t least[4] = { 0, 0x80, 0x800, 0x10000 };
	const unsigned char *p = (const unsigned char *)s;
	unsigned int more, i;
	uint32_t cp;

	if (strlen(s) > NBD_MAX_STRING)
		return false;
	while (*p) {
		if (*p < 0x80)
			more = 0, cp = *p;
		else if ((*p & 0xe0) == 0xc0)
			more = 1, cp = *p & 0x1f;
		else if ((*p & 0xf0) == 0xe0)
			more = 2, cp = *p & 0x0f;
		else if ((*p & 0xf8) == 0xf0)
			more = 3, cp = *p & 0x07;
		else
			return false;
		for (i = 1; i <= more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		p += more + 1;
		if (cp < least[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;	/* overlong, beyond Unicode, or a surrogate */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return false;	/* C0 and C1 controls, DEL */
	}
	return true;
}

/* An absolute path without blanks or control characters. */
bool field_device_path(const char *s)
{
	if (s[0] != '/')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool field_file_path(const char *s)
{
	return field_device_path(s);
}

bool field_tls_mode(const char *s)
{
	return !strcmp(s, "off") || !strcmp(s, "on") || !strcmp(s, "require");
}

/* Letters, digits and `_ . - @`, starting with a letter or digit: a PSK identity. */
bool field_psk_identity(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 64 || !is_alnum(s[0]))
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("_.-@", *s))
			return false;
	return true;
}

/* An ID of a line: letters, digits, `_ - .`, starting with a letter or digit; at most 32 bytes. */
bool field_label(const char *s)
{
	if (!is_alnum(*s) || strlen(s) > 32)
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("_-.", *s))
			return false;
	return true;
}

/* An IPv4 or IPv6 address, optionally /LEN (0..32 or 0..128): enbd-server's --allow. */
bool field_network(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	unsigned char bytes[16];
	size_t len = slash ? (size_t)(slash - s) : strlen(s), digits;
	unsigned int max;

	if (!len || len >= sizeof(addr))
		return false;
	memcpy(addr, s, len);
	addr[len] = 0;
	if (inet_pton(AF_INET, addr, bytes) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, bytes) == 1)
		max = 128;
	else
		return false;
	if (!slash)
		return true;
	digits = strspn(slash + 1, "0123456789");
	return digits && digits <= 3 && !slash[1 + digits] &&
	       (unsigned int)atoi(slash + 1) <= max;
}
