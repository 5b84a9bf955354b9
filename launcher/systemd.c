/*
 * klipper-pin systemd install | remove | show: puts klipper-pin in front
 * of a unit's ExecStart= with one drop-in of its own, as a person would
 * with `systemctl edit`, and takes it out again. The unit is read as
 * systemd reads it (systemd_unit.c), the command wrapped verbatim
 * (systemd_command.c), the limits taken from the plan (systemd_plan.c),
 * the file written atomically (systemd_dropin.c).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build.h"
#include "subcommands.h"
#include "systemd_command.h"
#include "systemd_dropin.h"
#include "systemd_plan.h"
#include "systemd_unit.h"

#define SYSTEMD_DONE 0
#define SYSTEMD_REFUSED 1
#define SYSTEMD_USAGE 2
#define SYSTEMD_DEFAULT_UNIT "klipper.service"

extern char **environ;

struct systemd_options {
	const char *action; /* install, remove, show */
	char unit[256];
	const char *config;
	const char *user;
	const char *root; /* "" for this machine, no trailing '/' */
	char root_buffer[PATH_MAX];
	const char *launcher;
	const char *source;
	bool now;
};

/* What install and show work out before anything is written. */
struct systemd_job {
	struct unit_state unit;
	const struct unit_setting *exec_start;
	struct command command;
	const char *user;
	struct unit_plan plan;
	char launcher[PATH_MAX];
	char dir[PATH_MAX];	/* the drop-in's directory, without the root */
	char on_disk[PATH_MAX]; /* the same, with the root */
	char *old_text;		/* the drop-in there now, or NULL */
	char *text;		/* the drop-in to write */
	bool already_wrapped;	/* ExecStart= runs klipper-pin already */
};

static void usage(FILE *out)
{
	fputs("usage: klipper-pin systemd install|remove|show [OPTIONS]\n"
	      "\n"
	      "Runs a unit's ExecStart= under klipper-pin, with one drop-in:\n"
	      "/etc/systemd/system/UNIT.d/" DROPIN_NAME "\n"
	      "\n"
	      "  install              write it (nothing when it is up to "
	      "date)\n"
	      "  remove               remove what install wrote\n"
	      "  show                 print what install would write, "
	      "change nothing\n"
	      "      --unit UNIT      the unit (default " SYSTEMD_DEFAULT_UNIT
	      ")\n"
	      "  -c, --config FILE    the config klippy runs by (default:\n"
	      "                       klipper-pin.conf beside the "
	      "printer.cfg in\n"
	      "                       ExecStart=, else in the printer_data "
	      "of\n"
	      "                       the unit's User=, "
	      "else " PLAN_SYSTEM_CONFIG ")\n"
	      "      --user USER      whose printer_data (default: the "
	      "unit's User=)\n"
	      "      --launcher PATH  the klipper-pin to run (default: this "
	      "one)\n"
	      "      --source DIR     also ExecStartPre=-DIR/scripts/"
	      "klipper-pin-rebuild\n"
	      "      --now            systemctl daemon-reload, then restart "
	      "UNIT\n"
	      "      --root DIR       the system under DIR, as systemctl "
	      "--root\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "Exit status: 0 done or nothing to do, 1 refused, 2 usage.\n",
	      out);
}

static void systemd_say(const char *kind, const char *format, va_list args)
	__attribute__((format(printf, 2, 0)));

static void systemd_say(const char *kind, const char *format, va_list args)
{
	char text[4096];

	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(text, sizeof(text), format, args);
	fprintf(stderr, "klipper-pin: systemd: %s%s\n", kind, text);
}

static void systemd_error(const char *format, ...)
	__attribute__((format(printf, 1, 2)));
static void systemd_warning(const char *format, ...)
	__attribute__((format(printf, 1, 2)));

static void systemd_error(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	systemd_say("", format, args);
	va_end(args);
}

static void systemd_warning(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	systemd_say("warning: ", format, args);
	va_end(args);
}

static void systemd_emit_error(void *context, const char *text)
{
	(void)context;
	systemd_error("%s", text);
}

static void systemd_emit_warning(void *context, const char *text)
{
	(void)context;
	systemd_warning("%s", text);
}

/* "klipper" names klipper.service, as systemctl takes it. */
static int systemd_set_unit(struct systemd_options *options, const char *name)
{
	snprintf(options->unit, sizeof(options->unit), "%s%s", name,
		 strchr(name, '.') ? "" : ".service");
	if (unit_name_valid(options->unit))
		return 0;
	systemd_error("--unit %s: not a service unit's name "
		      "(klipper.service, klipper-2.service)",
		      name);
	return -1;
}

static int systemd_set_root(struct systemd_options *options, const char *dir)
{
	size_t length;

	if (dir[0] != '/') {
		systemd_error("--root %s: give an absolute path", dir);
		return -1;
	}
	snprintf(options->root_buffer, sizeof(options->root_buffer), "%s", dir);
	length = strlen(options->root_buffer);
	while (length && options->root_buffer[length - 1] == '/')
		options->root_buffer[--length] = '\0';
	options->root = options->root_buffer;
	return 0;
}

static int systemd_check_options(const struct systemd_options *options)
{
	if (!options->action || (strcmp(options->action, "install") != 0 &&
				 strcmp(options->action, "remove") != 0 &&
				 strcmp(options->action, "show") != 0)) {
		systemd_error("%s%s: expected install, remove or show",
			      options->action ? "unknown action " : "no action",
			      options->action ? options->action : "");
		return -1;
	}
	/* systemctl would act on this machine's systemd, not the tree's. */
	if (options->now && *options->root) {
		systemd_error("--now with --root: systemctl cannot reload or "
			      "restart the system under %s; nothing done",
			      options->root);
		return -1;
	}
	if ((options->launcher && options->launcher[0] != '/') ||
	    (options->source && options->source[0] != '/')) {
		systemd_error("--%s %s: give an absolute path",
			      options->launcher && options->launcher[0] != '/'
				      ? "launcher"
				      : "source",
			      options->launcher && options->launcher[0] != '/'
				      ? options->launcher
				      : options->source);
		return -1;
	}
	return 0;
}

static int systemd_parse(struct systemd_options *options, int argc, char **argv)
{
	enum {
		UNIT = 256,
		USER,
		LAUNCHER,
		SOURCE,
		NOW,
		ROOT
	};
	static const struct option longs[] = {
		{ "unit", required_argument, NULL, UNIT },
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, USER },
		{ "launcher", required_argument, NULL, LAUNCHER },
		{ "source", required_argument, NULL, SOURCE },
		{ "now", no_argument, NULL, NOW },
		{ "root", required_argument, NULL, ROOT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option;

	while ((option = getopt_long(argc, argv, "c:h", longs, NULL)) != -1) {
		int failed = 0;

		if (option == UNIT)
			failed = systemd_set_unit(options, optarg);
		else if (option == ROOT)
			failed = systemd_set_root(options, optarg);
		else if (option == 'c')
			options->config = optarg;
		else if (option == USER)
			options->user = optarg;
		else if (option == LAUNCHER)
			options->launcher = optarg;
		else if (option == SOURCE)
			options->source = optarg;
		else if (option == NOW)
			options->now = true;
		else if (option == 'h')
			return 1;
		else
			failed = -1;
		if (failed)
			return -1;
	}
	if (optind < argc)
		options->action = argv[optind++];
	if (optind < argc) {
		systemd_error("unexpected '%s'", argv[optind]);
		return -1;
	}
	return systemd_check_options(options);
}

/* The one ExecStart= in effect, or a refusal that says where. */
static int systemd_pick_exec_start(const char *root, struct systemd_job *job)
{
	const struct unit_list *list = &job->unit.exec_start;
	char problem[512];

	if (list->count == 0) {
		systemd_error("%s%s: no ExecStart= in effect (after the "
			      "drop-ins' resets): nothing to wrap",
			      root, job->unit.path);
		return -1;
	}
	if (list->count > 1) {
		systemd_error("%s%s:%d: a second ExecStart= (the first: "
			      "%s%s:%d): klipper-pin cannot tell which one "
			      "runs klippy; leave one",
			      root, list->items[1].file, list->items[1].line,
			      root, list->items[0].file, list->items[0].line);
		return -1;
	}
	job->exec_start = &list->items[0];
	if (command_parse(job->exec_start->value, &job->command, problem,
			  sizeof(problem)) != 0) {
		systemd_error("%s%s:%d: ExecStart=%s: %s", root,
			      job->exec_start->file, job->exec_start->line,
			      job->exec_start->value, problem);
		return -1;
	}
	return 0;
}

/* A drop-in that sorts after ours and sets ExecStart= would undo it. */
static int systemd_check_order(const char *root, const struct systemd_job *job)
{
	const char *file = job->exec_start->file;
	const char *base = strrchr(file, '/') + 1;

	if (strcmp(file, job->unit.path) == 0 || strcmp(base, DROPIN_NAME) < 0)
		return 0;
	systemd_error("%s%s:%d: sets ExecStart= in a drop-in that comes after "
		      "%s (drop-ins apply in the order of their names): it "
		      "would undo the wrap; rename it to sort before",
		      root, file, job->exec_start->line, DROPIN_NAME);
	return -1;
}

static int systemd_find_launcher(const struct systemd_options *options,
				 struct systemd_job *job)
{
	char on_disk[PATH_MAX * 2];
	ssize_t got;

	if (options->launcher) {
		snprintf(job->launcher, sizeof(job->launcher), "%s",
			 options->launcher);
	} else {
		got = readlink("/proc/self/exe", job->launcher,
			       sizeof(job->launcher) - 1);
		if (got < 0) {
			systemd_error("cannot find this program's path "
				      "(/proc/self/exe): %s; give --launcher",
				      strerror(errno));
			return -1;
		}
		job->launcher[got] = '\0';
	}
	/* A missing launcher would keep klippy from starting at all. */
	snprintf(on_disk, sizeof(on_disk), "%s%s", options->root,
		 job->launcher);
	if (access(on_disk, X_OK) != 0) {
		systemd_error("the launcher %s cannot be run: %s (give "
			      "--launcher the path klipper-pin has%s)",
			      on_disk, strerror(errno),
			      *options->root ? " under --root" : "");
		return -1;
	}
	return 0;
}

static int systemd_read_old(struct systemd_job *job)
{
	char path[PATH_MAX * 2];
	int found;

	snprintf(path, sizeof(path), "%s/%s", job->on_disk, DROPIN_NAME);
	found = dropin_read(path, &job->old_text);
	if (found < 0) {
		systemd_error("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (found == 0 && !dropin_is_ours(job->old_text)) {
		systemd_error("%s: not written by klipper-pin (its first line "
			      "is not \"%s\"): move it away first",
			      path, DROPIN_MARKER);
		return -1;
	}
	return 0;
}

static int systemd_compose(const struct systemd_options *options,
			   struct systemd_job *job)
{
	char rebuild[PATH_MAX * 2 + 8] = "-", script[PATH_MAX + 32];
	char *exec_start = command_wrap(job->exec_start->value, &job->command,
					job->launcher, job->plan.config);
	struct stat info;
	struct dropin_content content = {
		.wrapped_file = job->exec_start->file,
		.wrapped_line = job->exec_start->line,
		.config = job->plan.config,
		.exec_start = exec_start,
		.rtprio = job->plan.rtprio,
		.nice = job->plan.nice,
		.created_dir = job->old_text ? dropin_made_dir(job->old_text)
					     : stat(job->on_disk, &info) != 0,
	};

	if (options->source) {
		snprintf(script, sizeof(script),
			 "%s/scripts/klipper-pin-rebuild", options->source);
		if (exec_start &&
		    !command_quote(script, rebuild + 1, sizeof(rebuild) - 1)) {
			free(exec_start);
			exec_start = NULL;
		}
		content.exec_start_pre = rebuild;
	}
	job->text = exec_start ? dropin_text(&content) : NULL;
	free(exec_start);
	if (!job->text)
		systemd_error("cannot write the paths in a unit (a control "
			      "character in them?), or out of memory");
	return job->text ? 0 : -1;
}

static int systemd_prepare_plan(const struct systemd_options *options,
				struct systemd_job *job)
{
	char problem[1024];
	const struct unit_list *user = &job->unit.user;

	job->user = options->user ? options->user
		    : user->count ? user->items[user->count - 1].value
				  : NULL;
	if (unit_plan_choose_config(&job->plan, options->root, options->config,
				    job->user, &job->unit,
				    job->exec_start->value, &job->command,
				    problem, sizeof(problem)) != 0) {
		systemd_error("%s", problem);
		return -1;
	}
	if (unit_plan_build(&job->plan, options->root, systemd_emit_error,
			    NULL) != 0) {
		systemd_error("the config %s%s is invalid: nothing written "
			      "(klipper-pin check --config %s%s tells more)",
			      options->root, job->plan.config, options->root,
			      job->plan.config);
		return -1;
	}
	unit_plan_weigh_cpus(&job->plan, options->root, &job->unit,
			     systemd_emit_warning, NULL);
	return 0;
}

/* Everything install and show need; 0, or -1 after saying why. */
static int systemd_prepare(const struct systemd_options *options,
			   struct systemd_job *job)
{
	char skip[PATH_MAX + 32], problem[2048];
	int found;

	snprintf(job->dir, sizeof(job->dir), "%s/%s.d", DROPIN_DIR,
		 options->unit);
	snprintf(job->on_disk, sizeof(job->on_disk), "%s%s", options->root,
		 job->dir);
	snprintf(skip, sizeof(skip), "%s/%s", job->dir, DROPIN_NAME);
	found = unit_load(options->root, options->unit, skip, &job->unit,
			  problem, sizeof(problem));
	if (found != 0) {
		systemd_error("%s", problem);
		return -1;
	}
	if (systemd_pick_exec_start(options->root, job) != 0)
		return -1;
	if (command_is_klipper_pin(job->exec_start->value, &job->command)) {
		job->already_wrapped = true;
		return 0;
	}
	if (systemd_check_order(options->root, job) != 0 ||
	    systemd_read_old(job) != 0 ||
	    systemd_find_launcher(options, job) != 0 ||
	    systemd_prepare_plan(options, job) != 0)
		return -1;
	return systemd_compose(options, job);
}

static void systemd_print_notes(const struct systemd_options *options,
				const struct systemd_job *job)
{
	const struct unit_list *files = &job->unit.environment_file;

	printf("unit:            %s%s\n", options->root, job->unit.path);
	for (size_t i = 0; i < job->unit.dropin_count; i++)
		printf("drop-in:         %s%s\n", options->root,
		       job->unit.dropins[i]);
	printf("ExecStart:       %s (%s:%d)\n", job->exec_start->value,
	       job->exec_start->file, job->exec_start->line);
	printf("User:            %s\n", job->user ? job->user : "(root)");
	/* Its variables reach the wrapped command as before: systemd
	 * expands them in ExecStart=, klipper-pin never sees them. */
	for (size_t i = 0; i < files->count; i++)
		printf("EnvironmentFile: %s (%s%s:%d)\n", files->items[i].value,
		       files->items[i].value[0] == '-' ? "optional; " : "",
		       files->items[i].file, files->items[i].line);
	printf("config:          %s (%s)\n", job->plan.config, job->plan.why);
	printf("launcher:        %s\n", job->launcher);
}

static void systemd_free_job(struct systemd_job *job)
{
	unit_free(&job->unit);
	unit_plan_free(&job->plan);
	free(job->old_text);
	free(job->text);
}

/* Runs systemctl with args; 0 when it succeeded. */
static int systemd_systemctl(const char *first, const char *second)
{
	char *argv[] = { "systemctl", (char *)first, (char *)second, NULL };
	pid_t pid;
	int status, failed;

	printf("running: systemctl %s%s%s\n", first, second ? " " : "",
	       second ? second : "");
	fflush(stdout);
	failed = posix_spawnp(&pid, "systemctl", NULL, NULL, argv, environ);
	if (failed) {
		systemd_error("cannot run systemctl: %s", strerror(failed));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	systemd_error("systemctl %s%s%s failed (%s %d)", first,
		      second ? " " : "", second ? second : "",
		      WIFEXITED(status) ? "exit status" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status)
					: WTERMSIG(status));
	return -1;
}

/* Either applies the change (--now) or says how to. */
static int systemd_apply(const struct systemd_options *options)
{
	if (options->now)
		return systemd_systemctl("daemon-reload", NULL) == 0 &&
				       systemd_systemctl("restart",
							 options->unit) == 0
			       ? SYSTEMD_DONE
			       : SYSTEMD_REFUSED;
	printf("%s: systemctl daemon-reload && systemctl restart %s\n",
	       *options->root ? "then, on that system" : "then", options->unit);
	return SYSTEMD_DONE;
}

static int systemd_say_wrapped(const struct systemd_options *options,
			       const struct systemd_job *job)
{
	printf("%s%s:%d: ExecStart= runs klipper-pin already: nothing to "
	       "do\n",
	       options->root, job->exec_start->file, job->exec_start->line);
	return SYSTEMD_DONE;
}

static int systemd_show(const struct systemd_options *options)
{
	struct systemd_job job = { 0 };
	int result = SYSTEMD_REFUSED;

	if (systemd_prepare(options, &job) == 0) {
		result = SYSTEMD_DONE;
		if (job.already_wrapped) {
			systemd_say_wrapped(options, &job);
		} else {
			systemd_print_notes(options, &job);
			printf("installed:       %s\n\n# %s%s/%s\n%s",
			       !job.old_text ? "no"
			       : strcmp(job.old_text, job.text) == 0
				       ? "yes, "
					 "up to "
					 "date"
				       : "yes, "
					 "install "
					 "rewrites "
					 "it",
			       options->root, job.dir, DROPIN_NAME, job.text);
		}
	}
	systemd_free_job(&job);
	return result;
}

static int systemd_install(const struct systemd_options *options)
{
	struct systemd_job job = { 0 };
	char problem[1024];
	int result = SYSTEMD_REFUSED;
	struct stat info;

	if (systemd_prepare(options, &job) != 0) {
		systemd_free_job(&job);
		return SYSTEMD_REFUSED;
	}
	if (job.already_wrapped) {
		result = systemd_say_wrapped(options, &job);
	} else if (job.old_text && strcmp(job.old_text, job.text) == 0) {
		systemd_print_notes(options, &job);
		printf("%s/%s is up to date: nothing written\n", job.on_disk,
		       DROPIN_NAME);
		result = SYSTEMD_DONE;
	} else if (dropin_write(job.on_disk, stat(job.on_disk, &info) != 0,
				job.text, problem, sizeof(problem)) != 0) {
		systemd_error("%s", problem);
	} else {
		systemd_print_notes(options, &job);
		printf("wrote %s/%s\n", job.on_disk, DROPIN_NAME);
		result = systemd_apply(options);
	}
	systemd_free_job(&job);
	return result;
}

static int systemd_remove(const struct systemd_options *options)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], problem[1024];
	char *text = NULL;
	int found, result = SYSTEMD_REFUSED;

	snprintf(dir, sizeof(dir), "%s%s/%s.d", options->root, DROPIN_DIR,
		 options->unit);
	snprintf(path, sizeof(path), "%s/%s", dir, DROPIN_NAME);
	found = dropin_read(path, &text);
	if (found == 1) {
		printf("%s: not there: nothing to remove\n", path);
		return SYSTEMD_DONE;
	}
	if (found < 0)
		systemd_error("cannot read %s: %s", path, strerror(errno));
	else if (!dropin_is_ours(text))
		systemd_error("%s: not written by klipper-pin (its first line "
			      "is not \"%s\"): left as it is",
			      path, DROPIN_MARKER);
	else if (dropin_remove(dir, dropin_made_dir(text), problem,
			       sizeof(problem)) != 0)
		systemd_error("%s", problem);
	else {
		printf("removed %s\n", path);
		result = systemd_apply(options);
	}
	free(text);
	return result;
}

int systemd_main(int argc, char **argv)
{
	struct systemd_options options = { .root = "" };
	int parsed;

	snprintf(options.unit, sizeof(options.unit), "%s",
		 SYSTEMD_DEFAULT_UNIT);
	parsed = systemd_parse(&options, argc, argv);
	if (parsed > 0) {
		usage(stdout);
		return SYSTEMD_DONE;
	}
	if (parsed < 0) {
		fputs("usage: klipper-pin systemd install|remove|show "
		      "[OPTIONS] (--help tells them)\n",
		      stderr);
		return SYSTEMD_USAGE;
	}
	if (strcmp(options.action, "install") == 0)
		return systemd_install(&options);
	if (strcmp(options.action, "remove") == 0)
		return systemd_remove(&options);
	return systemd_show(&options);
}
