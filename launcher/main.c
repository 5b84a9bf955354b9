/*
 * klipper-pin: checks the plan, then execs COMMAND (same PID) with the shim
 * preloaded, so that every thread it makes is placed. Subcommands are the
 * user's tools around it. Exit codes as env(1): 125 our own failure, 126
 * COMMAND not executable, 127 not found, else COMMAND's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "build.h"
#include "describe.h"
#include "find_shim.h"
#include "plan.h"
#include "review.h"
#include "subcommands.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

#define EXIT_LAUNCHER 125
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127

extern char **environ;

struct options {
	const char *config;
	const char *log;
	const char *log_format;
	const char *shim;
	const char *user; /* check: as whom */
	bool on_error_run;
	bool dry_run;
};

static void usage(FILE *out)
{
	fputs("usage: klipper-pin [OPTIONS] [--] COMMAND [ARG...]\n"
	      "       klipper-pin [OPTIONS] check [-u USER]\n"
	      "\n"
	      "Runs COMMAND (same PID) with its threads placed on CPUs by a "
	      "plan.\n"
	      "\n"
	      "  -c, --config FILE     the plan (default: $KLIPPER_PIN_CONFIG, "
	      "then\n"
	      "                        " PLAN_SYSTEM_CONFIG
	      ", then the built-in plan)\n"
	      "  -l, --log DEST        stderr, syslog, none or an absolute "
	      "file "
	      "path\n"
	      "      --log-format FMT  text or json\n"
	      "      --shim PATH       the preload library to use\n"
	      "      --on-error WHAT   refuse (exit 125, the default) or run "
	      "COMMAND\n"
	      "                        unplaced when the config is invalid\n"
	      "  -n, --dry-run         print the plan and the command, run "
	      "nothing\n"
	      "  -h, --help            this text\n"
	      "  -V, --version         the version\n"
	      "\n"
	      "Subcommands:\n"
	      "  check [-u USER]       validate the config, the shim and the "
	      "log (as\n"
	      "                        USER would meet them), print the plan "
	      "for\n"
	      "                        this machine (exit 0 valid, 1 not)\n"
	      "  status [PID|--unit UNIT|--match TEXT]\n"
	      "                        every thread of a running process: "
	      "where it\n"
	      "                        runs, what placed it, what it waits "
	      "for\n"
	      "  audit [PID|--unit UNIT]\n"
	      "                        what else may run on the CPUs it is "
	      "placed on\n"
	      "                        (exit 0 none, 1 some)\n"
	      "  reserve --cpus LIST [--show|--apply|--undo]\n"
	      "                        move other work off LIST, reversibly\n"
	      "  systemd install|remove|show [--unit UNIT]\n"
	      "                        wrap a unit's ExecStart in klipper-pin\n"
	      "  probe [--cpus LIST|--config FILE --rule NAME] [--compare]\n"
	      "                        wake-up latency of a thread placed so\n"
	      "  report KLIPPY_LOG...  Klipper's own timing per session, "
	      "compared\n"
	      "Each subcommand's --help tells its options.\n"
	      "\n"
	      "Exit status: 125 klipper-pin failed, 126 COMMAND cannot run,\n"
	      "127 COMMAND not found, else COMMAND's own.\n",
	      out);
}

/* Writes text to stderr with bytes outside printable ASCII as \xNN, so
 * that a stray escape sequence in a config never reaches the terminal. */
static void say(const char *prefix, const char *text)
{
	fputs(prefix, stderr);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	fputc('\n', stderr);
}

static void say_error(void *context, const char *text)
{
	(void)context;
	say("klipper-pin: ", text);
}

static void say_warning(void *context, const char *text)
{
	(void)context;
	say("klipper-pin: warning: ", text);
}

static void say_access(void *context, bool error, const char *text)
{
	int *errors = context;

	if (error) {
		(*errors)++;
		say_error(NULL, text);
	} else {
		say_warning(NULL, text);
	}
}

/* The config chosen and the plan built from it, or every error said. */
static int build_plan(struct plan *plan, const struct options *options,
		      char *config, size_t len, struct plan_error *error)
{
	struct plan_inputs inputs = {
		.config = config,
		.log = options->log,
		.log_format = options->log_format,
	};

	if (plan_choose_config(options->config, config, len) != 0) {
		plan_error_add(error, "", 0, "the config's path is too long");
		return -1;
	}
	return plan_build(plan, &inputs, error);
}

/* As execvp would find command: 0, ENOENT (127) or EACCES (126). */
static int find_command(const char *command)
{
	const char *path = getenv("PATH");
	char candidate[PATH_MAX];
	int found = ENOENT;

	if (strchr(command, '/'))
		return access(command, X_OK) == 0	     ? 0
		       : errno == ENOENT || errno == ENOTDIR ? ENOENT
							     : EACCES;
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	for (const char *dir = path;; dir += strcspn(dir, ":") + 1) {
		size_t length = strcspn(dir, ":");

		snprintf(candidate, sizeof(candidate), "%.*s%s%s", (int)length,
			 length ? dir : ".", "/", command);
		if (access(candidate, X_OK) == 0)
			return 0;
		if (errno == EACCES)
			found = EACCES;
		if (!dir[length])
			break;
	}
	return found;
}

static int run_check(const struct options *given, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = *given;
	struct plan_error error = { .line = 0 };
	struct plan plan = { 0 };
	char config[PATH_MAX], shim[PATH_MAX], problem[1400];
	int option, errors = 0;
	bool built;

	optind = 1;
	while ((option = getopt_long(argc, argv, "+c:u:h", longs, NULL)) !=
	       -1) {
		switch (option) {
		case 'c':
			options.config = optarg;
			break;
		case 'u':
			options.user = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "klipper-pin: check: unexpected '%s'\n",
			argv[optind]);
		return 1;
	}
	/* Every problem at once: the config's, the shim's, the files'. */
	built = build_plan(&plan, &options, config, sizeof(config), &error) ==
		0;
	if (!built) {
		plan_error_each(&error, say_error, NULL);
		errors += (int)(error.count ? error.count : 1);
	}
	if (find_shim(options.shim, shim, sizeof(shim), problem,
		      sizeof(problem)) != 0) {
		say_error(NULL, problem);
		errors++;
	}
	if (access_check(options.user, config, built ? &plan : NULL, say_access,
			 &errors) < 0)
		errors++;
	if (!built || errors) {
		printf("invalid: %d error%s\n", errors, errors == 1 ? "" : "s");
		plan_free(&plan);
		return 1;
	}
	describe_plan(stdout, &plan);
	plan_review(&plan, say_warning, NULL);
	printf("valid\n");
	plan_free(&plan);
	return 0;
}

/* Is entry (one word of LD_PRELOAD) some build of the shim? */
static bool is_shim_entry(const char *entry, size_t length)
{
	static const char name[] = "libklipper-pin.so";
	size_t name_length = sizeof(name) - 1;

	return length >= name_length &&
	       memcmp(entry + length - name_length, name, name_length) == 0 &&
	       (length == name_length ||
		entry[length - name_length - 1] == '/');
}

/* LD_PRELOAD with its entries kept in order (a sanitizer runtime must stay
 * first), any other shim dropped, and this shim added once at the end,
 * joined by ':' (tools such as valgrind split the list on ':' alone). */
static char *preload_with(const char *shim)
{
	const char *old = getenv("LD_PRELOAD");
	size_t room = (old ? strlen(old) : 0) + strlen(shim) + 2;
	char *value = malloc(room);
	size_t used = 0;

	if (!value)
		return NULL;
	for (const char *p = old; p && *p;) {
		size_t length = strcspn(p, " :");

		if (length && !is_shim_entry(p, length)) {
			memcpy(value + used, p, length);
			used += length;
			value[used++] = ':';
		}
		p += length;
		p += strspn(p, " :");
	}
	memcpy(value + used, shim, strlen(shim) + 1);
	return value;
}

static void print_command(char **command)
{
	printf("command: ");
	for (size_t i = 0; command[i]; i++) {
		const char *word = command[i];
		bool plain =
			*word && !strpbrk(word, " \t\n'\"\\$`*?[]{}()<>|&;#~");

		if (plain) {
			printf("%s%s", i ? " " : "", word);
			continue;
		}
		printf("%s'", i ? " " : "");
		for (; *word; word++)
			if (*word == '\'')
				fputs("'\\''", stdout);
			else
				putchar(*word);
		putchar('\'');
	}
	putchar('\n');
}

/* Drops every KLIPPER_PIN_* variable but the shim's path: the shim is to
 * see only what this launcher checked and sets. */
static void clear_inherited(void)
{
	for (size_t i = 0; environ && environ[i];) {
		char name[128];
		size_t length = strcspn(environ[i], "=");

		if (strncmp(environ[i], "KLIPPER_PIN_", 12) != 0 ||
		    length >= sizeof(name) ||
		    strncmp(environ[i], "KLIPPER_PIN_SHIM=", 17) == 0) {
			i++;
			continue;
		}
		memcpy(name, environ[i], length);
		name[length] = '\0';
		unsetenv(name); /* environ shifts: look at i again */
	}
}

/* The environment the shim reads. off: why it must place nothing, or
 * NULL. */
static int set_environment(const struct options *options, const char *config,
			   const char *shim, const char *off)
{
	struct stat stderr_info;
	char stderr_id[64] = "none", pid[32];
	char *preload = shim[0] ? preload_with(shim) : NULL;
	int failed;

	/* Children log to stderr only where it is still this one. */
	if (fstat(STDERR_FILENO, &stderr_info) == 0)
		snprintf(stderr_id, sizeof(stderr_id), "%llu:%llu",
			 (unsigned long long)stderr_info.st_dev,
			 (unsigned long long)stderr_info.st_ino);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	clear_inherited();
	/* An empty KLIPPER_PIN_CONFIG is the built-in plan, said out loud. */
	failed = (shim[0] && (!preload || setenv("LD_PRELOAD", preload, 1))) ||
		 setenv("KLIPPER_PIN_PID", pid, 1) ||
		 setenv("KLIPPER_PIN_STDERR", stderr_id, 1) ||
		 setenv("KLIPPER_PIN_CONFIG", config, 1) ||
		 (options->log && setenv("KLIPPER_PIN_LOG", options->log, 1)) ||
		 (options->log_format &&
		  setenv("KLIPPER_PIN_LOG_FORMAT", options->log_format, 1)) ||
		 (off && setenv("KLIPPER_PIN_OFF", off, 1));
	free(preload);
	return failed ? -1 : 0;
}

static int run_command(const struct options *options, char **command)
{
	struct plan_error error = { .line = 0 };
	struct plan plan = { 0 };
	char config[PATH_MAX], shim[PATH_MAX] = "", problem[1400];
	char off[1400] = "";
	int errors = 0, missing;
	bool built;

	built = build_plan(&plan, options, config, sizeof(config), &error) == 0;
	if (!built) {
		plan_error_each(&error, say_error, NULL);
		errors++;
		snprintf(off, sizeof(off), "%s%s%d: %s", error.file,
			 error.file[0] ? ":" : "", error.line, error.message);
	}
	if (find_shim(options->shim, shim, sizeof(shim), problem,
		      sizeof(problem)) != 0) {
		say_error(NULL, problem);
		shim[0] = '\0';
		errors++;
		if (!off[0])
			snprintf(off, sizeof(off), "%s", problem);
	}
	/* Fail here, where it can be seen, what the shim would fail to
	 * open. */
	if (built && access_check(NULL, config, &plan, say_access, &errors) &&
	    !off[0])
		snprintf(off, sizeof(off), "the log cannot be opened");
	if (errors && !options->on_error_run) {
		plan_free(&plan);
		return EXIT_LAUNCHER;
	}
	if (errors)
		say_error(NULL, "--on-error run: running the command "
				"unplaced");
	if (options->dry_run) {
		if (built)
			describe_plan(stdout, &plan);
		printf("shim:    %s\n", shim[0] ? shim : "(none)");
		print_command(command);
		plan_free(&plan);
		missing = find_command(command[0]);
		if (missing)
			fprintf(stderr, "klipper-pin: cannot run '%s': %s\n",
				command[0], strerror(missing));
		return missing == ENOENT   ? EXIT_NOT_FOUND
		       : missing == EACCES ? EXIT_CANNOT_RUN
					   : 0;
	}
	if (set_environment(options, config, shim, off[0] ? off : NULL) != 0) {
		fprintf(stderr, "klipper-pin: cannot set the environment: %s\n",
			strerror(errno));
		plan_free(&plan);
		return EXIT_LAUNCHER;
	}
	/* The main thread is on its CPUs from the program's first
	 * instruction; the shim places it again at load, and logs it. */
	if (!off[0] && plan.main.set)
		(void)sched_setaffinity(0, CPULIST_SETSIZE, plan.main.set);
	plan_free(&plan);

	execvp(command[0], command);
	int failure = errno;

	fprintf(stderr, "klipper-pin: cannot run '%s': %s\n", command[0],
		strerror(failure));
	return failure == ENOENT || failure == ENOTDIR ? EXIT_NOT_FOUND
						       : EXIT_CANNOT_RUN;
}

int main(int argc, char **argv)
{
	enum {
		OPTION_LOG_FORMAT = 256,
		OPTION_SHIM,
		OPTION_ON_ERROR
	};
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, OPTION_LOG_FORMAT },
		{ "shim", required_argument, NULL, OPTION_SHIM },
		{ "on-error", required_argument, NULL, OPTION_ON_ERROR },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = { 0 };
	int option;

	/* '+': stop at COMMAND, so that its own options stay its own. */
	while ((option = getopt_long(argc, argv, "+c:l:nhV", longs, NULL)) !=
	       -1) {
		switch (option) {
		case 'c':
			options.config = optarg;
			break;
		case 'l':
			options.log = optarg;
			break;
		case OPTION_LOG_FORMAT:
			options.log_format = optarg;
			break;
		case OPTION_SHIM:
			options.shim = optarg;
			break;
		case OPTION_ON_ERROR:
			if (strcmp(optarg, "refuse") == 0) {
				options.on_error_run = false;
			} else if (strcmp(optarg, "run") == 0) {
				options.on_error_run = true;
			} else {
				fprintf(stderr,
					"klipper-pin: bad --on-error '%s', "
					"expected refuse or run\n",
					optarg);
				return EXIT_LAUNCHER;
			}
			break;
		case 'n':
			options.dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("klipper-pin %s\n", VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_LAUNCHER;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "klipper-pin: no COMMAND given\n");
		usage(stderr);
		return EXIT_LAUNCHER;
	}
	/* A first word that is a subcommand is one, after options too;
	 * after "--" it is a command to run. */
	if (strcmp(argv[optind - 1], "--") != 0) {
		static const struct {
			const char *name;
			int (*run)(int argc, char **argv);
		} looks[] = {
			{ "status", status_main },
			{ "audit", audit_main },
			{ "reserve", reserve_main },
			{ "systemd", systemd_main },
			{ "probe", probe_main },
			{ "report", report_main },
		};

		if (strcmp(argv[optind], "check") == 0)
			return run_check(&options, argc - optind,
					 argv + optind);
		for (size_t i = 0; i < sizeof(looks) / sizeof(looks[0]); i++)
			if (strcmp(argv[optind], looks[i].name) == 0) {
				int first = optind;

				optind = 0; /* its own options next: all anew */
				return looks[i].run(argc - first, argv + first);
			}
	}
	return run_command(&options, argv + optind);
}
