package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPager(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	p := &pager{op: "list", limit: 5, seen: map[string]bool{}}
	next, err := p.next(2, s("a"))
	require.NoError(t, err)
	require.Equal(t, "a", *next)
	next, err = p.next(2, s("b"))
	require.NoError(t, err)
	require.Equal(t, "b", *next)
	// A cycle back to a cursor already sent: an error, not a loop.
	_, err = p.next(0, s("a"))
	require.ErrorIs(t, err, ErrUnexpectedAnswer)
	require.Equal(t, ExitServer, ExitCode(err))

	// At the limit it stops, with pages left: a list notes it, a catalog
	// fails.
	p = &pager{op: "list", limit: 5, seen: map[string]bool{}}
	_, _ = p.next(3, s("a"))
	next, err = p.next(3, s("b"))
	require.NoError(t, err)
	require.Nil(t, next)
	require.True(t, p.truncated)
	require.Error(t, p.complete())
	var note strings.Builder
	p.note(&note, "tenants", "filter")
	require.Equal(t, "stopped after 6 tenants (the limit): filter\n", note.String())

	// The last page: done, not truncated.
	p = &pager{op: "list", limit: 5, seen: map[string]bool{}}
	next, err = p.next(3, nil)
	require.NoError(t, err)
	require.Nil(t, next)
	require.NoError(t, p.complete())
	next, err = (&pager{seen: map[string]bool{}, limit: 5}).next(1, s(""))
	require.NoError(t, err)
	require.Nil(t, next)
}

// A server that keeps sending the same cursor does not make a list loop:
// every command that follows pages stops at the repeat, exit 6.
func TestListsStopOnARepeatedCursor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(context.Context, *Env, []string) error
		args []string
	}{
		{"tenants list", tenantsList, nil},
		{"keys list", keysList, nil},
		{"tenant keys list", keysList, []string{"--tenant", "acme"}},
		{"catalog export", catalogExport, []string{"--tenant", "acme", "--env", "staging"}},
		{"plugin list", pluginList, []string{"--tenant", "acme"}},
		{"payments list --all", paymentsList, []string{"--tenant", "acme", "--all"}},
		{"fulfilments list --all", fulfilmentsList, []string{"--tenant", "acme", "--all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"items":[],"nextCursor":"same"}`)
			})
			e, _, _ := testEnv(t, srv.URL, false)
			// Bounded, so that a loop fails the test instead of hanging it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := tc.run(ctx, e, tc.args)
			require.ErrorIs(t, err, ErrUnexpectedAnswer)
			require.ErrorContains(t, err, "same page cursor twice")
			require.Equal(t, ExitServer, ExitCode(err))
			require.LessOrEqual(t, calls.Load(), int32(2))
		})
	}
}
