/*
 * Placement log lines and where they go: stderr, a file, syslog (through
 * /dev/log directly, since syslog(3) takes a lock that a fork can leave
 * held) or nowhere.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

struct log_buffer {
	char *data;
	size_t len, used;
	bool overflow;
};

static struct {
	/* Set at open; turned to none by whichever thread finds the file
	 * gone, while others read it: atomic, relaxed (it only ever turns
	 * the log off). */
	atomic_int kind;
	enum plan_log_format format;
	int fd;
	dev_t dev; /* the file's identity, to notice a closed and reused fd */
	ino_t ino;
} log_sink = { PLAN_LOG_NONE, PLAN_FORMAT_TEXT, -1, 0, 0 };

static enum plan_log log_kind(void)
{
	return (enum plan_log)atomic_load_explicit(&log_sink.kind,
						   memory_order_relaxed);
}

static void log_set_kind(enum plan_log kind)
{
	atomic_store_explicit(&log_sink.kind, (int)kind, memory_order_relaxed);
}

static void log_put(struct log_buffer *b, const char *text, size_t length)
{
	if (b->overflow || b->used + length >= b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->data + b->used, text, length);
	b->used += length;
	b->data[b->used] = '\0';
}

static void log_puts(struct log_buffer *b, const char *text)
{
	log_put(b, text, strlen(text));
}

static void log_unsigned(struct log_buffer *b, unsigned long long value)
{
	char digits[24];
	size_t at = sizeof(digits);

	do {
		digits[--at] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	log_put(b, digits + at, sizeof(digits) - at);
}

static void log_signed(struct log_buffer *b, long long value)
{
	if (value < 0) {
		log_puts(b, "-");
		log_unsigned(b, (unsigned long long)(-(value + 1)) + 1);
	} else {
		log_unsigned(b, (unsigned long long)value);
	}
}

/* The length of the well-formed UTF-8 character at p, or 0 if it is not
 * one (a stray byte, an overlong form, a surrogate, a cut sequence). */
static size_t log_utf8_length(const unsigned char *p)
{
	size_t length;
	unsigned long code, least;

	if (*p >= 0xc2 && *p <= 0xdf)
		length = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		length = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		length = 4;
	else
		return 0;
	code = *p & (0x7fu >> length);
	least = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
	/* stops at a NUL, which is no continuation byte */
	for (size_t i = 1; i < length; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		code = code << 6 | (p[i] & 0x3fu);
	}
	if (code < least || code > 0x10ffff ||
	    (code >= 0xd800 && code <= 0xdfff))
		return 0;
	return length;
}

/* The escapes JSON and the text format share: a quote, a backslash, a
 * newline or a tab. True when c was one of them and is written. */
static bool log_put_common_escape(struct log_buffer *b, unsigned char c)
{
	char escape[2] = { '\\', (char)c };

	if (c == '\n')
		escape[1] = 'n';
	else if (c == '\t')
		escape[1] = 't';
	else if (c != '"' && c != '\\')
		return false;
	log_put(b, escape, 2);
	return true;
}

/* A string as JSON: quoted, with quotes, backslashes and controls
 * escaped. UTF-8 passes as it is; any other byte above 0x7f (as when the
 * kernel cut a name at 15 bytes inside a character) is written \u00XX so
 * that the line stays valid JSON, which must be UTF-8. */
static void log_json_string(struct log_buffer *b, const char *text)
{
	static const char hex[] = "0123456789abcdef";

	if (!text) {
		log_puts(b, "null");
		return;
	}
	log_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char escape[7] = { '\\', 'u', '0', '0', 0, 0, 0 };

		if (log_put_common_escape(b, *p)) {
			continue;
		} else if (*p < 0x20 || *p == 0x7f ||
			   (*p > 0x7f && !log_utf8_length(p))) {
			escape[4] = hex[*p >> 4];
			escape[5] = hex[*p & 15];
			log_put(b, escape, 6);
		} else if (*p > 0x7f) {
			size_t length = log_utf8_length(p);

			log_put(b, (const char *)p, length);
			p += length - 1;
		} else {
			log_put(b, (const char *)p, 1);
		}
	}
	log_puts(b, "\"");
}

/* A value in the text format: bare when it is printable ASCII that splits
 * cleanly on spaces, else quoted and escaped as in C, every byte outside
 * printable ASCII as \xNN (UTF-8 too: a terminal or a grep sees plain
 * ASCII). A bare "-" stands for NULL, so the string "-" is quoted. */
static void log_text_value(struct log_buffer *b, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	bool plain = text && *text && strcmp(text, "-") != 0;

	if (!text) {
		log_puts(b, "-");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' ||
		    *p == '=')
			plain = false;
	if (plain) {
		log_puts(b, text);
		return;
	}
	log_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char escape[4] = { '\\', 'x', hex[*p >> 4], hex[*p & 15] };

		if (log_put_common_escape(b, *p)) {
			continue;
		} else if (*p < ' ' || *p >= 0x7f) {
			log_put(b, escape, 4);
		} else {
			log_put(b, (const char *)p, 1);
		}
	}
	log_puts(b, "\"");
}

/* The time as ISO 8601 in UTC to the microsecond, without gmtime (which
 * takes glibc's time zone lock, one that a fork can leave held). */
static void log_iso_time(struct log_buffer *b, const struct timespec *ts)
{
	long long days = ts->tv_sec / 86400, seconds = ts->tv_sec % 86400;
	char text[32];
	int at = 0;

	if (seconds < 0) {
		seconds += 86400;
		days--;
	}
	/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
	days += 719468;
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	long long doe = days - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	long long day = doy - (153 * mp + 2) / 5 + 1;
	long long month = mp < 10 ? mp + 3 : mp - 9;
	long long year = yoe + era * 400 + (month <= 2);
	long long fields[] = {
		year,	     month, day, seconds / 3600, seconds / 60 % 60,
		seconds % 60
	};
	static const char after[] = "--T::.";
	static const int width[] = { 4, 2, 2, 2, 2, 2 };

	for (int f = 0; f < 6; f++) {
		for (int i = width[f] - 1; i >= 0; i--, fields[f] /= 10)
			text[at + i] = (char)('0' + fields[f] % 10);
		at += width[f];
		text[at++] = after[f];
	}
	long usec = ts->tv_nsec / 1000;

	for (int i = 5; i >= 0; i--, usec /= 10)
		text[at + i] = (char)('0' + usec % 10);
	at += 6;
	text[at++] = 'Z';
	log_put(b, text, (size_t)at);
}

static void log_field(struct log_buffer *b, enum plan_log_format format,
		      const char *key, bool first)
{
	if (format == PLAN_FORMAT_JSON) {
		log_puts(b, first ? "{\"" : ",\"");
		log_puts(b, key);
		log_puts(b, "\":");
	} else {
		log_puts(b, first ? "" : " ");
		log_puts(b, key);
		log_puts(b, "=");
	}
}

static void log_string_field(struct log_buffer *b, enum plan_log_format format,
			     const char *key, const char *value)
{
	log_field(b, format, key, false);
	if (format == PLAN_FORMAT_JSON)
		log_json_string(b, value);
	else
		log_text_value(b, value);
}

static void log_number_field(struct log_buffer *b, enum plan_log_format format,
			     const char *key, long long value)
{
	log_field(b, format, key, false);
	log_signed(b, value);
}

/* brief: only what identifies the event, and its message. */
static void log_event_fields(struct log_buffer *b,
			     const struct shim_log_event *e,
			     enum plan_log_format format, bool brief)
{
	if (format == PLAN_FORMAT_JSON) {
		char micros[8];
		long usec = e->ts.tv_nsec / 1000;

		log_field(b, format, "ts", true);
		log_unsigned(b, (unsigned long long)e->ts.tv_sec);
		for (int i = 5; i >= 0; i--, usec /= 10)
			micros[i + 1] = (char)('0' + usec % 10);
		micros[0] = '.';
		log_put(b, micros, 7);
		log_number_field(b, format, "pid", e->pid);
	} else {
		log_puts(b, "klipper-pin: ");
		log_field(b, format, "ts", true);
		log_iso_time(b, &e->ts);
		log_field(b, format, "pid", false);
		log_signed(b, e->pid);
	}
	log_number_field(b, format, "tid", e->tid);
	log_string_field(b, format, "event", e->event);
	/* A text config line is just its message; JSON keeps every field,
	 * so that each line has the same ones. */
	if (brief || (e->message && format == PLAN_FORMAT_TEXT)) {
		log_string_field(b, format, "message", e->message);
		return;
	}
	log_number_field(b, format, "seq", (long long)e->seq);
	log_string_field(b, format, "library", e->library);
	log_string_field(b, format, "symbol", e->symbol);
	log_string_field(b, format, "caller", e->caller);
	log_string_field(b, format, "name", e->name);
	log_string_field(b, format, "rule", e->rule);
	log_string_field(b, format, "want", e->want);
	log_string_field(b, format, "cpus", e->cpus);
	log_string_field(b, format, "policy", e->policy);
	log_number_field(b, format, "priority", e->priority);
	if (e->has_nice) {
		log_number_field(b, format, "nice", e->nice);
	} else if (format == PLAN_FORMAT_JSON) {
		log_field(b, format, "nice", false);
		log_puts(b, "null");
	}
	log_string_field(b, format, "result", e->result);
	if (e->message)
		log_string_field(b, format, "message", e->message);
}

size_t shim_log_format(const struct shim_log_event *event,
		       enum plan_log_format format, char *buf, size_t len)
{
	struct log_buffer b = { buf, len, 0, false };

	buf[0] = '\0';
	log_event_fields(&b, event, format, false);
	if (format == PLAN_FORMAT_JSON)
		log_puts(&b, "}");
	log_puts(&b, "\n");
	if (b.overflow) {
		/* Too long to write whole: say so, with what identifies it. */
		struct shim_log_event cut = {
			.event = event->event,
			.ts = event->ts,
			.pid = event->pid,
			.tid = event->tid,
			.message = "event too long for one log line",
		};

		b = (struct log_buffer){ buf, len, 0, false };
		log_event_fields(&b, &cut, format, true);
		if (format == PLAN_FORMAT_JSON)
			log_puts(&b, "}");
		log_puts(&b, "\n");
	}
	return b.used;
}

static int log_open_syslog(void)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	memcpy(address.sun_path, "/dev/log", sizeof("/dev/log"));
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Moves fd out of the low numbers a program might close and reuse. */
static int log_move_high(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);

	if (high < 0)
		return fd;
	close(fd);
	return high;
}

int shim_log_open(const struct plan *plan)
{
	struct stat info;
	int fd = -1;

	shim_log_close();
	log_sink.format = plan->log_format;
	switch (plan->log) {
	case PLAN_LOG_NONE:
		return 0;
	case PLAN_LOG_STDERR:
		/* Remembered by identity: a program that closes stderr and
		 * opens a file of its own as fd 2 must not get our lines. */
		if (fstat(STDERR_FILENO, &info) != 0)
			return -1;
		log_sink.dev = info.st_dev;
		log_sink.ino = info.st_ino;
		log_set_kind(PLAN_LOG_STDERR);
		log_sink.fd = STDERR_FILENO;
		return 0;
	case PLAN_LOG_SYSLOG:
		fd = log_open_syslog();
		break;
	case PLAN_LOG_FILE:
		/* Non-blocking: a FIFO with no reader fails (ENXIO) rather
		 * than hang; one with a reader is refused below. */
		fd = open(plan->log_path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
				  O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
			  0640);
		break;
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, &info) != 0 ||
	    (plan->log == PLAN_LOG_FILE && !S_ISREG(info.st_mode) &&
	     !S_ISCHR(info.st_mode))) {
		/* A FIFO's reader could go and SIGPIPE the program. */
		close(fd);
		errno = ENXIO;
		return -1;
	}
	fd = log_move_high(fd);
	log_sink.dev = info.st_dev;
	log_sink.ino = info.st_ino;
	log_set_kind(plan->log);
	log_sink.fd = fd;
	return 0;
}

void shim_log_close(void)
{
	if (log_sink.fd >= 0 && log_kind() != PLAN_LOG_STDERR)
		close(log_sink.fd);
	log_set_kind(PLAN_LOG_NONE);
	log_sink.fd = -1;
}

/* Is our fd still the file we opened? A program may have closed it and
 * opened something else under the same number. */
static __attribute__((noinline)) bool log_sink_intact(void)
{
	struct stat info;

	return fstat(log_sink.fd, &info) == 0 && info.st_dev == log_sink.dev &&
	       info.st_ino == log_sink.ino;
}

/* The kernel's own signal set (64 signals on every Linux the shim is built
 * for): sigset_t is 128 bytes, and three of them would take a good part
 * of the stack the shim may use. */
typedef unsigned long log_sigset;

static bool log_sigpipe_pending(void)
{
	log_sigset pending = 0;

	syscall(SYS_rt_sigpending, &pending, sizeof(pending));
	return pending & (1ul << (SIGPIPE - 1));
}

/*
 * stderr may be a pipe whose reader is slow or gone: a line is written only
 * when it fits without waiting (lines are at most PIPE_BUF, so a writable
 * pipe takes one whole), and with SIGPIPE held off so that a reader gone
 * between the check and the write does not kill the program. Out of line:
 * its frame is there only on this path.
 */
static __attribute__((noinline)) void log_write_stream(int fd, const char *line,
						       size_t length)
{
	struct pollfd ready = { .fd = fd, .events = POLLOUT };
	log_sigset pipe_only = 1ul << (SIGPIPE - 1), before = 0;
	bool was_pending;

	if (send(fd, line, length, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 ||
	    errno != ENOTSOCK)
		return;
	if (poll(&ready, 1, 0) != 1 || (ready.revents & (POLLERR | POLLHUP)) ||
	    !(ready.revents & POLLOUT))
		return;
	was_pending = log_sigpipe_pending();
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe_only, &before,
		sizeof(log_sigset));
	if (write(fd, line, length) < 0 && errno == EPIPE && !was_pending) {
		struct timespec now = { 0, 0 };

		/* Take back the SIGPIPE this write raised, and only it. */
		syscall(SYS_rt_sigtimedwait, &pipe_only, NULL, &now,
			sizeof(log_sigset));
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, NULL,
		sizeof(log_sigset));
}

void shim_log_write(const struct shim_log_event *event, char *buf)
{
	char *line = buf + SHIM_LOG_HEADROOM;
	int saved = errno;
	size_t length;
	enum plan_log kind = log_kind();

	if (kind == PLAN_LOG_NONE || log_sink.fd < 0)
		return;
	if (!log_sink_intact()) {
		log_set_kind(PLAN_LOG_NONE);
		errno = saved;
		return;
	}
	length = shim_log_format(event, log_sink.format, line,
				 SHIM_LOG_LINE_MAX);
	if (kind == PLAN_LOG_SYSLOG) {
		/* "<facility*8+severity>klipper-pin[PID]: message", the tag in
		 * place of the text format's own "klipper-pin: " prefix, put
		 * in the headroom just before it. */
		struct log_buffer b = { buf, SHIM_LOG_HEADROOM, 0, false };
		const char *body = line;

		if (strncmp(body, "klipper-pin: ", 13) == 0)
			body += 13;
		log_puts(&b, event->message ? "<28>" : "<30>");
		log_puts(&b, "klipper-pin[");
		log_signed(&b, event->pid);
		log_puts(&b, "]: ");
		memmove(buf + b.used, body, length - (size_t)(body - line) - 1);
		send(log_sink.fd, buf,
		     b.used + length - (size_t)(body - line) - 1,
		     MSG_NOSIGNAL | MSG_DONTWAIT);
		errno = saved;
		return;
	}
	if (kind == PLAN_LOG_STDERR)
		log_write_stream(log_sink.fd, line, length);
	else
		(void)!write(log_sink.fd, line, length);
	errno = saved;
}
