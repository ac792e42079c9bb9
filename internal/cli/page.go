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
