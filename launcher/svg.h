/*
 * A picture for a forum post or an issue: an SVG 1.1 file written with
 * plain fprintf (no plotting dependency), shared by probe --svg and report
 * --svg. The file is written beside its name and renamed into place once
 * complete, so that a failed run leaves nothing half written.
 */
#ifndef KLIPPER_PIN_SVG_H
#define KLIPPER_PIN_SVG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* An SVG being written: out is a temporary file beside path. */
struct svg {
	FILE *out;
	char path[PATH_MAX], temp[PATH_MAX];
};

/*
 * Opens a temporary file beside path (path.XXXXXX) to write the picture
 * into, so that an unwritable place is known before any work. Returns 0,
 * or -1 with why in problem ("Permission denied").
 */
int svg_open(struct svg *svg, const char *path, char *problem, size_t size);

/*
 * Closes the file and renames it to its path. Returns 0, or -1 with why
 * in problem (the temporary file removed).
 */
int svg_commit(struct svg *svg, char *problem, size_t size);

/* Closes and removes the temporary file: nothing is left. */
void svg_abandon(struct svg *svg);

/* The document's start, width by height pixels on a white ground, with
 * a title (escaped) as the browser tab shows it; and its end. */
void svg_begin(FILE *out, int width, int height, const char *title);
void svg_end(FILE *out);

/* text with &, <, >, " and ' written as XML entities. */
void svg_escape(FILE *out, const char *text);

/*
 * One line of text at x, y (its baseline), anchored "start", "middle" or
 * "end", size px, in color (a CSS colour); the text is escaped.
 */
void svg_text(FILE *out, double x, double y, const char *anchor, int size,
	      const char *color, const char *text);

/* A straight line; dashed draws it 4 px on, 3 px off. */
void svg_line(FILE *out, double x1, double y1, double x2, double y2,
	      const char *color, double width, bool dashed);

/*
 * A polyline through count points (xs[i], ys[i]) in pixels, of class
 * class_name (the picture's series, for a reader or a test to count).
 */
void svg_polyline(FILE *out, const double *xs, const double *ys, size_t count,
		  const char *color, const char *class_name);

/* An axis: values from low to high drawn from pixel from to pixel to
 * (from > to for a y axis), linear or log10 (low > 0). */
struct svg_axis {
	double low, high, from, to;
	bool log;
};

/* The pixel of value on axis (clamped to the axis's ends). */
double svg_map(const struct svg_axis *axis, double value);

/* The nth of a few distinct colours for series. */
const char *svg_color(size_t n);

#endif
