/* klipper-pin status: being written. */
#include <stdio.h>

#include "subcommands.h"

int status_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("klipper-pin: status: not built yet\n", stderr);
	return 125;
}
