package cli

import (
	"fmt"
	"io"
)

// pageSize is the page size lists ask for (the API's maximum).
const pageSize int64 = 200

// maxListed bounds how many rows a command gathers by following pages
// (lists, --all, a catalog): past it a list stops and says so, and a
// catalog fails, instead of holding an unbounded history in memory.
const maxListed = 100_000

// pager guards a loop over an API list's pages: it stops at maxListed rows,
// and fails on a cursor the server already sent (a server bug that would
// otherwise loop for ever).
type pager struct {
	op    string
	limit int // maxListed; smaller in tests
	seen  map[string]bool
	rows  int
	// truncated: the loop stopped at maxListed with pages left.
	truncated bool
}

func newPager(op string) *pager { return &pager{op: op, limit: maxListed, seen: map[string]bool{}} }

// next records a page of n rows and the cursor it ended with, and returns
// the cursor to ask for next: nil when done (the last page, or maxListed
// reached: truncated).
func (p *pager) next(n int, cursor *string) (*string, error) {
	p.rows += n
	if cursor == nil || *cursor == "" {
		return nil, nil
	}
	if p.seen[*cursor] {
		return nil, fmt.Errorf("%s: %w (the same page cursor twice, after %d rows): stopped", p.op, ErrUnexpectedAnswer, p.rows)
	}
	p.seen[*cursor] = true
	if p.rows >= p.limit {
		p.truncated = true
		return nil, nil
	}
	return cursor, nil
}

// note tells a person the list stopped at maxListed (on stderr: stdout may
// be JSON).
func (p *pager) note(w io.Writer, what, narrow string) {
	if p.truncated {
		fmt.Fprintf(w, "stopped after %d %s (the limit): %s\n", p.rows, what, narrow)
	}
}

// complete is for what must be whole (a catalog to diff): reaching
// maxListed is an error.
func (p *pager) complete() error {
	if p.truncated {
		return fmt.Errorf("%s: more than %d items: too many to handle at once", p.op, p.limit)
	}
	return nil
}

// follow reads a list page by page with p guarding the loop: fetch asks for
// the page at cursor (nil: the first) and returns its rows and next cursor.
// With all false it stops after the first page. It returns the rows and the
// last page's next cursor (set when pages are left: one page asked for, or
// maxListed reached).
func follow[T any](p *pager, cursor *string, all bool, fetch func(cursor *string) ([]T, *string, error)) ([]T, *string, error) {
	rows := []T{}
	for {
		items, next, err := fetch(cursor)
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, items...)
		if !all {
			return rows, next, nil
		}
		if cursor, err = p.next(len(items), next); err != nil {
			return nil, nil, err
		}
		if cursor == nil {
			return rows, next, nil
		}
	}
}

// itemsOf is a generated list's optional Items, nil when absent.
func itemsOf[T any](items *[]T) []T {
	if items == nil {
		return nil
	}
	return *items
}

// renderList renders items: JSON as they are, or a table of row(item).
func renderList[T any](e *Env, items []T, headers []string, row func(T) []string) error {
	rows := make([][]string, 0, len(items))
	for _, x := range items {
		rows = append(rows, row(x))
	}
	return e.Render(items, headers, rows)
}

// renderPaged renders a list read one page or --all (see listPaging), then
// says on stderr where it stopped: at maxListed (narrow: how to see the
// rest), or before next, the cursor of the page after it.
func renderPaged[T any](e *Env, p *pager, items []T, next *string, what, narrow string, headers []string, row func(T) []string) error {
	p.note(e.Err, what, narrow)
	if err := renderList(e, items, headers, row); err != nil {
		return err
	}
	if next != nil {
		fmt.Fprintf(e.Err, "more %s: --cursor %s for the next page, or --all\n", what, *next)
	}
	return nil
}
