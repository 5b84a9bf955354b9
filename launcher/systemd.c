/* klipper-pin systemd: being written. */
#include <stdio.h>

#include "subcommands.h"

int systemd_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("klipper-pin: systemd: not built yet\n", stderr);
	return 125;
}
