/*
 * The SVG writer behind svg.h: a document, lines, polylines and escaped
 * text, into a temporary file renamed into place when complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svg.h"

int svg_open(struct svg *svg, const char *path, char *problem, size_t size)
{
	int fd, length;

	memset(svg, 0, sizeof(*svg));
	length = snprintf(svg->temp, sizeof(svg->temp), "%s.XXXXXX", path);
	if (length < 0 || (size_t)length >= sizeof(svg->temp) ||
	    strlen(path) >= sizeof(svg->path)) {
		snprintf(problem, size, "name too long");
		return -1;
	}
	memcpy(svg->path, path, strlen(path) + 1);
	/* Known now, not at the rename after the run. */
	{
		struct stat st;

		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(problem, size, "is a directory");
			return -1;
		}
	}
	fd = mkstemp(svg->temp);
	if (fd < 0) {
		snprintf(problem, size, "%s", strerror(errno));
		return -1;
	}
	/* As any file the user writes: 0666 less the umask, not mkstemp's
	 * 0600. */
	{
		mode_t mask = umask(0);

		umask(mask);
		(void)fchmod(fd, 0666 & ~mask);
	}
	svg->out = fdopen(fd, "w");
	if (!svg->out) {
		snprintf(problem, size, "%s", strerror(errno));
		close(fd);
		unlink(svg->temp);
		return -1;
	}
	return 0;
}

int svg_commit(struct svg *svg, char *problem, size_t size)
{
	bool failed = ferror(svg->out) != 0;
	int error = failed ? EIO : 0;

	if (fclose(svg->out) != 0 && !failed) {
		failed = true;
		error = errno;
	}
	svg->out = NULL;
	if (!failed && rename(svg->temp, svg->path) != 0) {
		failed = true;
		error = errno;
	}
	if (failed) {
		snprintf(problem, size, "%s", strerror(error));
		unlink(svg->temp);
		return -1;
	}
	return 0;
}

void svg_abandon(struct svg *svg)
{
	if (svg->out) {
		fclose(svg->out);
		svg->out = NULL;
		unlink(svg->temp);
	}
}

void svg_escape(FILE *out, const char *text)
{
	for (const char *p = text; *p; p++)
		switch (*p) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			/* XML 1.0 allows no control character but tab,
			 * newline and carriage return. */
			if ((unsigned char)*p < 0x20)
				fputc(' ', out);
			else
				fputc(*p, out);
		}
}

void svg_begin(FILE *out, int width, int height, const char *title)
{
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"font-family=\"sans-serif\">\n<title>",
		width, height, width, height);
	svg_escape(out, title);
	fprintf(out,
		"</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		"fill=\"white\"/>\n",
		width, height);
}

void svg_end(FILE *out)
{
	fputs("</svg>\n", out);
}

void svg_text(FILE *out, double x, double y, const char *anchor, int size,
	      const char *color, const char *text)
{
	fprintf(out,
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
		"font-size=\"%d\" fill=\"%s\">",
		x, y, anchor, size, color);
	svg_escape(out, text);
	fputs("</text>\n", out);
}

void svg_line(FILE *out, double x1, double y1, double x2, double y2,
	      const char *color, double width, bool dashed)
{
	fprintf(out,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"%s\" stroke-width=\"%.1f\"%s/>\n",
		x1, y1, x2, y2, color, width,
		dashed ? " stroke-dasharray=\"4,3\"" : "");
}

void svg_polyline(FILE *out, const double *xs, const double *ys, size_t count,
		  const char *color, const char *class_name)
{
	fprintf(out,
		"<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" "
		"stroke-width=\"1.5\" points=\"",
		class_name, color);
	for (size_t i = 0; i < count; i++)
		fprintf(out, "%s%.1f,%.1f", i ? " " : "", xs[i], ys[i]);
	fputs("\"/>\n", out);
}

/* log10 for pixels, without libm (the launcher links libc and libinih
 * only): x = f * 2^e with f in [1, 2), ln f by its atanh series. */
static double svg_log10(double x)
{
	double z, term, sum = 0;
	int e = 0;

	if (!(x > 0))
		return 0;
	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	z = (x - 1) / (x + 1);
	term = z;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z * z;
	}
	return (2 * sum + e * 0.69314718055994531) / 2.30258509299404568;
}

double svg_map(const struct svg_axis *axis, double value)
{
	double low = axis->low, high = axis->high, at;

	if (axis->log) {
		value = svg_log10(value > 0 ? value : low);
		low = svg_log10(low);
		high = svg_log10(high);
	}
	if (high == low)
		return axis->from;
	at = (value - low) / (high - low);
	if (at < 0)
		at = 0;
	if (at > 1)
		at = 1;
	return axis->from + at * (axis->to - axis->from);
}

const char *svg_color(size_t n)
{
	/* Tableau's first colours: apart for most colour-blind readers. */
	static const char *const colors[] = {
		"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
		"#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
	};

	return colors[n % (sizeof(colors) / sizeof(colors[0]))];
}
