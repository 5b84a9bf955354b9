/*
 * The subcommands that look at a running system rather than run a
 * program: each gets its own argv (argv[0] is its name), parses its own
 * options and returns the exit status.
 */
#ifndef KLIPPER_PIN_SUBCOMMANDS_H
#define KLIPPER_PIN_SUBCOMMANDS_H

int status_main(int argc, char **argv);	 /* launcher/status.c */
int audit_main(int argc, char **argv);	 /* launcher/audit.c */
int reserve_main(int argc, char **argv); /* launcher/reserve.c */
int systemd_main(int argc, char **argv); /* launcher/systemd.c */
int probe_main(int argc, char **argv);
int report_main(int argc, char **argv);

#endif
