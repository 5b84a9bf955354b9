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

#include "describe.h"
#include "find_shim.h"
#include "plan.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

#define EXIT_LAUNCHER 125
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127
#define SYSTEM_CONFIG "/etc/klipper-pin.conf"

struct options {
	const char *config;
	const char *log;
	const char *log_format;
	const char *shim;
	bool dry_run;
};

static void usage(FILE *out)
{
	fputs("usage: klipper-pin [OPTIONS] [--] COMMAND [ARG...]\n"
	      "       klipper-pin check [-c FILE]\n"
	      "\n"
	      "Runs COMMAND (same PID) with its threads placed on CPUs by a "
	      "plan.\n"
	      "\n"
	      "  -c, --config FILE     the plan (default: $KLIPPER_PIN_CONFIG, "
	      "then\n"
	      "                        " SYSTEM_CONFIG
	      ", then the built-in plan)\n"
	      "  -l, --log DEST        stderr, syslog, none or an absolute "
	      "file path\n"
	      "      --log-format FMT  text or json\n"
	      "      --shim PATH       the preload library to use\n"
	      "  -n, --dry-run         print the plan and the command, run "
	      "nothing\n"
	      "  -h, --help            this text\n"
	      "  -V, --version         the version\n"
	      "\n"
	      "Subcommands:\n"
	      "  check                 validate the config and print the plan "
	      "for\n"
	      "                        this machine (exit 0 valid, 1 not)\n"
	      "\n"
	      "Exit status: 125 klipper-pin failed, 126 COMMAND cannot run,\n"
	      "127 COMMAND not found, else COMMAND's own.\n",
	      out);
}

static void report(const struct plan_error *error)
{
	if (error->file[0] && error->line)
		fprintf(stderr, "klipper-pin: %s:%d: %s\n", error->file,
			error->line, error->message);
	else if (error->file[0])
		fprintf(stderr, "klipper-pin: %s: %s\n", error->file,
			error->message);
	else
		fprintf(stderr, "klipper-pin: %s\n", error->message);
}

/* The config file to use, made absolute (the program may chdir before a
 * child execs), or "" for the built-in plan. */
static int config_path(const char *given, char *path, size_t len)
{
	const char *chosen = given;

	if (!chosen || !*chosen)
		chosen = getenv("KLIPPER_PIN_CONFIG");
	if ((!chosen || !*chosen) && access(SYSTEM_CONFIG, F_OK) == 0)
		chosen = SYSTEM_CONFIG;
	if (!chosen || !*chosen) {
		path[0] = '\0';
		return 0;
	}
	if (chosen[0] == '/' || !getcwd(path, len)) {
		snprintf(path, len, "%s", chosen);
	} else {
		size_t used = strlen(path);

		snprintf(path + used, len - used, "/%s", chosen);
	}
	return 0;
}

/* Loads and resolves the plan; 0, or -1 after reporting the error. */
static int load_plan(struct plan *plan, const struct options *options,
		     char *path, size_t len)
{
	struct plan_error error = { .line = 0 };
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	int failed;

	if (!online || cpulist_read_online(online, CPULIST_SETSIZE) != 0) {
		fprintf(stderr,
			"klipper-pin: cannot tell which CPUs are online\n");
		if (online)
			CPU_FREE(online);
		return -1;
	}
	config_path(options->config, path, len);
	if (path[0])
		failed = plan_load_file(plan, path, &error) ||
			 plan_resolve(plan, online, CPULIST_SETSIZE, &error);
	else
		failed = plan_load_default(plan, online, CPULIST_SETSIZE);
	CPU_FREE(online);
	if (!failed && options->log)
		failed = plan_set_log(plan, options->log, &error);
	if (!failed && options->log_format)
		failed = plan_set_log_format(plan, options->log_format, &error);
	if (failed) {
		if (!error.message[0])
			snprintf(error.message, sizeof(error.message),
				 "cannot build the built-in plan");
		report(&error);
		return -1;
	}
	return 0;
}

static int run_check(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = { 0 };
	struct plan plan = { 0 };
	char path[PATH_MAX];
	int option;

	while ((option = getopt_long(argc, argv, "+c:h", longs, NULL)) != -1) {
		switch (option) {
		case 'c':
			options.config = optarg;
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
	if (load_plan(&plan, &options, path, sizeof(path)) != 0)
		return 1;
	describe_plan(stdout, &plan);
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

/* Fails here, where it can be seen, what the shim would fail to open. A
 * log file is a regular file or a character device (/dev/null): a FIFO
 * would block the opening without a reader, and SIGPIPE the program when
 * its reader goes. */
static int check_log_file(const char *path)
{
	struct stat info;
	int fd;

	if (stat(path, &info) == 0 && !S_ISREG(info.st_mode) &&
	    !S_ISCHR(info.st_mode)) {
		fprintf(stderr,
			"klipper-pin: the log %s is a %s: expected a regular "
			"file (to log to a pipe, use 'log: stderr' and "
			"redirect it)\n",
			path,
			S_ISFIFO(info.st_mode)	 ? "FIFO"
			: S_ISSOCK(info.st_mode) ? "socket"
			: S_ISDIR(info.st_mode)	 ? "directory"
						 : "special file");
		return -1;
	}
	fd = open(path,
		  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
			  O_NOCTTY | O_NONBLOCK,
		  0640);
	if (fd < 0) {
		fprintf(stderr, "klipper-pin: cannot open the log %s: %s\n",
			path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int run_command(const struct options *options, char **command)
{
	struct plan plan = { 0 };
	char config[PATH_MAX], shim[PATH_MAX], problem[1400], pid[32];
	char *preload;

	if (load_plan(&plan, options, config, sizeof(config)) != 0)
		return EXIT_LAUNCHER;
	if (find_shim(options->shim, shim, sizeof(shim), problem,
		      sizeof(problem)) != 0) {
		fprintf(stderr, "klipper-pin: %s\n", problem);
		plan_free(&plan);
		return EXIT_LAUNCHER;
	}
	if (plan.log == PLAN_LOG_FILE && check_log_file(plan.log_path) != 0) {
		plan_free(&plan);
		return EXIT_LAUNCHER;
	}
	if (options->dry_run) {
		describe_plan(stdout, &plan);
		printf("shim:    %s\n", shim);
		print_command(command);
		plan_free(&plan);
		return 0;
	}

	/* Children log to stderr only where it is still this one. */
	struct stat stderr_info;
	char stderr_id[64] = "none";

	if (fstat(STDERR_FILENO, &stderr_info) == 0)
		snprintf(stderr_id, sizeof(stderr_id), "%llu:%llu",
			 (unsigned long long)stderr_info.st_dev,
			 (unsigned long long)stderr_info.st_ino);
	preload = preload_with(shim);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (!preload || setenv("LD_PRELOAD", preload, 1) ||
	    setenv("KLIPPER_PIN_PID", pid, 1) ||
	    setenv("KLIPPER_PIN_STDERR", stderr_id, 1) ||
	    (config[0] ? setenv("KLIPPER_PIN_CONFIG", config, 1)
		       : unsetenv("KLIPPER_PIN_CONFIG")) ||
	    (options->log && setenv("KLIPPER_PIN_LOG", options->log, 1)) ||
	    (options->log_format &&
	     setenv("KLIPPER_PIN_LOG_FORMAT", options->log_format, 1))) {
		fprintf(stderr, "klipper-pin: cannot set the environment: %s\n",
			strerror(errno));
		free(preload);
		plan_free(&plan);
		return EXIT_LAUNCHER;
	}
	free(preload);
	/* The main thread is on its CPUs from the program's first
	 * instruction; the shim places it again at load, and logs it. */
	if (plan.main.set)
		(void)sched_setaffinity(0, CPULIST_SETSIZE, plan.main.set);
	plan_free(&plan);

	execvp(command[0], command);
	int error = errno;

	fprintf(stderr, "klipper-pin: cannot run '%s': %s\n", command[0],
		strerror(error));
	return error == ENOENT || error == ENOTDIR ? EXIT_NOT_FOUND
						   : EXIT_CANNOT_RUN;
}

int main(int argc, char **argv)
{
	enum {
		OPTION_LOG_FORMAT = 256,
		OPTION_SHIM
	};
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, OPTION_LOG_FORMAT },
		{ "shim", required_argument, NULL, OPTION_SHIM },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = { 0 };
	int option;

	if (argc > 1 && strcmp(argv[1], "check") == 0)
		return run_check(argc - 1, argv + 1);

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
	return run_command(&options, argv + optind);
}
