/*
 * Which object and symbol hold a code address, by dladdr(3), cached by
 * address: dladdr takes the loader's lock and may scan a symbol table, too
 * slow to repeat for every thread a program creates.
 */
#ifndef KLIPPER_PIN_LOOKUP_H
#define KLIPPER_PIN_LOOKUP_H

/*
 * Sets *library to the basename of the object holding address and *symbol
 * to the symbol containing it (NULL for a static function or when unknown;
 * *library NULL when no object holds it). The strings stay valid for the
 * life of the process. Lock-free; safe in a forked child.
 */
void shim_lookup(const void *address, const char **library,
		 const char **symbol);

#endif
