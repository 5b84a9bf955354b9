/*
 * klipper-pin reserve: the command line. Makes "CPUAffinity=2-3 on
 * klipper.service keeps everything else on 0-1" true, reversibly: shows,
 * writes (--apply) or removes (--undo) reserve's drop-ins and files under
 * a root; --set-irqs is the boot-time mode of klipper-pin-irq.service.
 * Exit status: 0 done, 1 refused or failed (nothing written), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reserve.h"
#include "subcommands.h"

#define EXIT_USAGE 2

enum reserve_mode {
	MODE_SHOW,
	MODE_APPLY,
	MODE_UNDO,
	MODE_SET_IRQS
};

struct reserve_options {
	enum reserve_mode mode;
	int modes; /* how many were given: one at most */
	bool now;
	const char *cpus, *unit, *keep_irqs;
	char root[PATH_MAX]; /* "" for the machine's own */
};

static void reserve_usage(FILE *out)
{
	fputs("usage: klipper-pin reserve --cpus LIST [--show|--apply] "
	      "[--unit UNIT]\n"
	      "                           [--keep-irq IRQS] [--root DIR] "
	      "[--now]\n"
	      "       klipper-pin reserve --undo [--root DIR] [--now]\n"
	      "\n"
	      "Keeps every other unit, the user managers and the IRQs off "
	      "the CPUs\n"
	      "in LIST, reserved for UNIT, as systemd drop-ins marked as "
	      "klipper-pin's.\n"
	      "\n"
	      "  --cpus LIST      the reserved CPUs, as check takes them "
	      "(\"2-3\",\n"
	      "                   \"last-1-last\"); every one online, some "
	      "left\n"
	      "  --unit UNIT      Klipper's unit (default klipper.service)\n"
	      "  --show           print every file it would write (the "
	      "default)\n"
	      "  --apply          write them\n"
	      "  --undo           remove exactly what --apply wrote\n"
	      "  --keep-irq IRQS  IRQs (the MCU's serial device's) kept on "
	      "LIST\n"
	      "  --root DIR       act on the tree at DIR, not on /\n"
	      "  --now            then reload systemd and restart the IRQ "
	      "services\n"
	      "                   (not with --root)\n"
	      "  --set-irqs       move the IRQs now (klipper-pin-irq.service "
	      "runs it)\n"
	      "\n"
	      "Exit status: 0 done, 1 refused or failed (nothing written), 2 "
	      "usage.\n",
	      out);
}

static int reserve_fail(const char *problem)
{
	fprintf(stderr, "klipper-pin: reserve: %s\n", problem);
	return 1;
}

static int reserve_usage_error(const char *problem)
{
	fprintf(stderr, "klipper-pin: reserve: %s\n", problem);
	reserve_usage(stderr);
	return EXIT_USAGE;
}

/* A service name systemd would take, with no path in it. */
static bool reserve_unit_name(const char *unit)
{
	size_t length = strlen(unit);

	return length > 8 && length < NAME_MAX &&
	       strcmp(unit + length - 8, ".service") == 0 &&
	       strspn(unit,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789:-_.@\\") == length;
}

static int reserve_set_root(struct reserve_options *options, const char *dir)
{
	size_t length;

	snprintf(options->root, sizeof(options->root), "%s", dir);
	length = strlen(options->root);
	while (length && options->root[length - 1] == '/')
		options->root[--length] = '\0';
	return dir[0] ? 0 : -1;
}

static int reserve_parse(struct reserve_options *options, int argc, char **argv)
{
	enum {
		SHOW = 256,
		APPLY,
		UNDO,
		SET_IRQS,
		NOW,
		ROOT,
		UNIT,
		KEEP
	};
	static const struct option longs[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "unit", required_argument, NULL, UNIT },
		{ "show", no_argument, NULL, SHOW },
		{ "apply", no_argument, NULL, APPLY },
		{ "undo", no_argument, NULL, UNDO },
		{ "set-irqs", no_argument, NULL, SET_IRQS },
		{ "keep-irq", required_argument, NULL, KEEP },
		{ "root", required_argument, NULL, ROOT },
		{ "now", no_argument, NULL, NOW },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option;

	optind = 1;
	while ((option = getopt_long(argc, argv, "+c:h", longs, NULL)) != -1) {
		if (option >= SHOW && option <= SET_IRQS) {
			options->mode = (enum reserve_mode)(option - SHOW);
			options->modes++;
		} else if (option == 'c') {
			options->cpus = optarg;
		} else if (option == UNIT) {
			options->unit = optarg;
		} else if (option == KEEP) {
			options->keep_irqs = optarg;
		} else if (option == ROOT) {
			if (reserve_set_root(options, optarg) != 0)
				return reserve_usage_error("--root needs a "
							   "directory");
		} else if (option == NOW) {
			options->now = true;
		} else if (option == 'h') {
			reserve_usage(stdout);
			return 0;
		} else {
			reserve_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		char problem[300];

		snprintf(problem, sizeof(problem), "unexpected '%s'",
			 argv[optind]);
		return reserve_usage_error(problem);
	}
	return -1; /* go on */
}

static int reserve_validate(const struct reserve_options *options)
{
	struct stat info;
	char problem[PATH_MAX + 100];

	if (options->modes > 1)
		return reserve_usage_error("give one of --show, --apply, "
					   "--undo, --set-irqs");
	if (!options->cpus && options->mode != MODE_UNDO)
		return reserve_usage_error("--cpus LIST is needed: the CPUs to "
					   "reserve for Klipper");
	if (!reserve_unit_name(options->unit))
		return reserve_usage_error("--unit needs a service's name, "
					   "such as klipper.service");
	if (options->now && (options->root[0] || (options->mode != MODE_APPLY &&
						  options->mode != MODE_UNDO)))
		return reserve_usage_error(
			"--now reloads the running systemd: it goes with "
			"--apply or --undo and without --root (under --root, "
			"run systemctl daemon-reload on that system yourself)");
	if (options->root[0] && stat(options->root, &info) != 0) {
		snprintf(problem, sizeof(problem), "--root %s: %s",
			 options->root, strerror(errno));
		return reserve_fail(problem);
	}
	if (options->root[0] && !S_ISDIR(info.st_mode)) {
		snprintf(problem, sizeof(problem), "--root %s: not a directory",
			 options->root);
		return reserve_fail(problem);
	}
	return -1; /* go on */
}

static void reserve_show(const struct reserve_options *options,
			 const struct reserve_plan *plan)
{
	printf("reserve CPUs %s for %s; everything else on %s\n\n",
	       plan->reserved, options->unit, plan->others);
	for (size_t i = 0; i < plan->count; i++)
		printf("==> %s%s <==\n%s\n", options->root, plan->files[i].path,
		       plan->files[i].content);
	fputs(plan->notes, stdout);
}

/* Runs systemctl with words; says how it ended. */
static void reserve_systemctl(const char *verb, const char *unit)
{
	pid_t child;
	int status = 0;

	fflush(stdout);
	child = fork();
	if (child == 0) {
		execlp("systemctl", "systemctl", verb, unit, (char *)NULL);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fprintf(stderr,
			"klipper-pin: reserve: systemctl %s%s%s failed\n", verb,
			unit ? " " : "", unit ? unit : "");
	else
		printf("ran systemctl %s%s%s\n", verb, unit ? " " : "",
		       unit ? unit : "");
}

/* --now: what can change without a reboot, where systemd runs. */
static void reserve_now(const struct reserve_plan *plan)
{
	struct stat info;

	if (stat("/run/systemd/system", &info) != 0) {
		printf("--now: systemd is not running here (no "
		       "/run/systemd/system): nothing reloaded\n");
		return;
	}
	reserve_systemctl("daemon-reload", NULL);
	if (plan && plan->irq_unit)
		reserve_systemctl("restart", "klipper-pin-irq.service");
	reserve_systemctl("try-restart", "irqbalance.service");
}

static void reserve_next(const struct reserve_options *options,
			 const char *after)
{
	if (options->now)
		return;
	printf("next: systemctl daemon-reload; then reboot: the managers "
	       "read CPUAffinity= at boot%s\n",
	       after);
}

static int reserve_do_apply(const struct reserve_options *options,
			    const struct reserve_plan *plan)
{
	char problem[PATH_MAX + 300] = "";
	long changes =
		reserve_apply(options->root, plan, problem, sizeof(problem));

	if (changes < 0)
		return reserve_fail(problem);
	if (changes == 0) {
		printf("nothing new to write: CPUs %s are reserved for %s "
		       "already\n",
		       plan->reserved, options->unit);
	} else {
		reserve_next(options, plan->irq_unit
					      ? " (or: systemctl restart "
						"klipper-pin-irq)"
					      : "");
		if (options->now)
			reserve_now(plan);
		printf("%s: restart it when no print runs, for its CPUAffinity="
		       "\n",
		       options->unit);
	}
	fputs(plan->notes, stdout);
	return 0;
}

static int reserve_do_undo(const struct reserve_options *options)
{
	char problem[PATH_MAX + 300] = "";
	long removed = reserve_undo(options->root, problem, sizeof(problem));

	if (removed < 0)
		return reserve_fail(problem);
	if (removed == 0) {
		printf("nothing to undo: no %s%s\n", options->root,
		       RESERVE_MANIFEST);
		return 0;
	}
	reserve_next(options, "");
	if (options->now)
		reserve_now(NULL);
	return 0;
}

static int reserve_do_set_irqs(const struct reserve_options *options)
{
	char problem[PATH_MAX + 300];
	static struct reserve_plan plan;

	if (reserve_cpus(options->root, options->cpus, &plan, problem,
			 sizeof(problem)) != 0 ||
	    reserve_set_irqs(options->root, plan.others, options->keep_irqs,
			     plan.reserved, problem, sizeof(problem)) != 0)
		return reserve_fail(problem);
	return 0;
}

int reserve_main(int argc, char **argv)
{
	static struct reserve_options options;
	static struct reserve_plan plan;
	char self[PATH_MAX] = "/usr/local/bin/klipper-pin";
	char problem[PATH_MAX + 300];
	ssize_t length;
	int done;

	memset(&options, 0, sizeof(options));
	options.unit = "klipper.service";
	done = reserve_parse(&options, argc, argv);
	if (done < 0)
		done = reserve_validate(&options);
	if (done >= 0)
		return done;
	if (options.mode == MODE_UNDO)
		return reserve_do_undo(&options);
	if (options.mode == MODE_SET_IRQS)
		return reserve_do_set_irqs(&options);
	/* klipper-pin-irq.service runs this very program. */
	length = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (length > 0)
		self[length] = '\0';
	const struct reserve_request request = {
		options.root,	   options.cpus, options.unit,
		options.keep_irqs, self,
	};

	if (reserve_plan_build(&request, &plan, problem, sizeof(problem)) != 0)
		return reserve_fail(problem);
	if (options.mode == MODE_SHOW) {
		reserve_show(&options, &plan);
		return 0;
	}
	return reserve_do_apply(&options, &plan);
}
