package cli

import (
	"bufio"
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

// confirm asks on the terminal whether to go on; yes (--yes) answers for
// the user. Without a terminal on stdin it refuses: a script must say --yes.
func (e *Env) confirm(yes bool, question string) (bool, error) {
	if yes {
		return true, nil
	}
	if !e.inTerminal {
		return false, usageErrorf("not applied: pass --yes to apply without a terminal (or --dry-run to only show the diff)")
	}
	fmt.Fprintf(e.Err, "%s [y/N] ", question)
	line, _ := bufio.NewReader(e.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	fmt.Fprintln(e.Err, "Not applied.")
	return false, nil
}
