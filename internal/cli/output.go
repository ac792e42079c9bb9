package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Render writes v as indented JSON with --output json, else rows as an
// aligned table under headers. Scripts read the JSON: it is the API's own
// shape (or the command's documented one), not the table.
func (e *Env) Render(v any, headers []string, rows [][]string) error {
	if e.JSON {
		return writeJSON(e.Out, v)
	}
	return writeTable(e.Out, headers, rows)
}

// Printf writes a human note: to Out in table mode; with --output json to
// Err instead, so stdout stays one valid JSON document.
func (e *Env) Printf(format string, a ...any) {
	w := e.Out
	if e.JSON {
		w = e.Err
	}
	fmt.Fprintf(w, format, a...)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeTable(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(headers) > 0 {
		fmt.Fprintln(tw, strings.Join(headers, "\t"))
	}
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			// A tab or newline inside a cell would break the columns.
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// orDash shows an empty or absent value as "-".
func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// notes is where human notes and a diff shown before a question go:
// stdout in table mode, stderr with --output json (stdout stays one JSON
// document, and the person answering still sees what they confirm).
func (e *Env) notes() io.Writer {
	if e.JSON {
		return e.Err
	}
	return e.Out
}

// errDeclined is a confirmation answered no (or not answered): nothing was
// applied, and a script must not take that for success (exit 1).
var errDeclined = fmt.Errorf("not applied: not confirmed: %w", ErrFailed)

// confirm asks on the terminal whether to go on; yes (--yes) answers for
// the user. It returns nil to go on, errDeclined for any answer but y/yes,
// and a usage error without a terminal on stdin: a script must say --yes.
// Ctrl-C while waiting ends it at once: nothing was applied.
func (e *Env) confirm(ctx context.Context, yes bool, question string) error {
	if yes {
		return nil
	}
	if !e.inTerminal {
		return usageErrorf("not applied: pass --yes to apply without a terminal (or --dry-run to only show the diff)")
	}
	fmt.Fprintf(e.Err, "%s [y/N] ", question)
	line, err := e.readLine(ctx)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(e.Err)
		return fmt.Errorf("not applied: interrupted at the question: %w", ctx.Err())
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errDeclined
}

// readLine reads one line from stdin, or returns when ctx ends first (a
// read from a terminal does not stop on its own; the reading goroutine
// then ends with the process).
func (e *Env) readLine(ctx context.Context) (string, error) {
	if e.lines == nil {
		e.lines = bufio.NewReader(e.in)
	}
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	lines := e.lines
	go func() {
		line, err := lines.ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		return r.line, r.err
	}
}

// readAll reads r up to limit+1 bytes (so the caller can tell "too
// large"), or returns when ctx ends first (stdin from a terminal or a
// pipe that never closes).
func readAll(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		ch <- result{data, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("read input: interrupted: %w", ctx.Err())
	case res := <-ch:
		if res.err != nil {
			return nil, fmt.Errorf("read input: %w", res.err)
		}
		return res.data, nil
	}
}
