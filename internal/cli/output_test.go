package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	t.Parallel()
	type item struct {
		Code string `json:"code"`
		N    int    `json:"n"`
	}
	for _, tc := range []struct {
		name string
		json bool
		want string
	}{
		{"table", false, "CODE   N\nacme   1\nb c d  22\n"},
		{"json", true, "[\n  {\n    \"code\": \"acme\",\n    \"n\": 1\n  },\n  {\n    \"code\": \"b\\tc\\nd\",\n    \"n\": 22\n  }\n]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			e := &Env{Out: &out, Err: &errb, JSON: tc.json}
			v := []item{{"acme", 1}, {"b\tc\nd", 22}}
			require.NoError(t, e.Render(v, []string{"CODE", "N"}, [][]string{{"acme", "1"}, {"b\tc\nd", "22"}}))
			require.Equal(t, tc.want, out.String())
			require.Empty(t, errb.String())
		})
	}
}

// Notes go to stdout for people, to stderr with --output json so that stdout
// stays one JSON document.
func TestPrintf(t *testing.T) {
	t.Parallel()
	for _, jsonOut := range []bool{false, true} {
		var out, errb bytes.Buffer
		e := &Env{Out: &out, Err: &errb, JSON: jsonOut}
		e.Printf("note %d\n", 1)
		if jsonOut {
			require.Empty(t, out.String())
			require.Equal(t, "note 1\n", errb.String())
		} else {
			require.Equal(t, "note 1\n", out.String())
			require.Empty(t, errb.String())
		}
	}
}

// confirm goes on only on y/yes or --yes; any other answer, or none, is
// "not applied" with exit 1 (a script must not take it for success); no
// terminal without --yes is a usage error.
func TestConfirm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		yes        bool
		inTerminal bool
		input      string
		wantCode   int
	}{
		{"--yes", true, false, "", ExitOK},
		{"no terminal", false, false, "y\n", ExitUsage},
		{"terminal yes", false, true, "y\n", ExitOK},
		{"terminal YES", false, true, " YES \n", ExitOK},
		{"terminal no", false, true, "n\n", ExitFailed},
		{"terminal eof", false, true, "", ExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			e := &Env{Out: &out, Err: &errb, in: bytes.NewBufferString(tc.input), inTerminal: tc.inTerminal}
			err := e.confirm(context.Background(), tc.yes, "Apply?")
			require.Equal(t, tc.wantCode, ExitCode(err), "%v", err)
			if tc.wantCode == ExitFailed {
				require.ErrorContains(t, err, "not applied")
			}
		})
	}
}

// Two questions read two lines: the first does not swallow the second's
// answer in its buffer.
func TestConfirmTwice(t *testing.T) {
	t.Parallel()
	var errb bytes.Buffer
	e := &Env{Err: &errb, in: strings.NewReader("y\ny\n"), inTerminal: true}
	require.NoError(t, e.confirm(context.Background(), false, "first?"))
	require.NoError(t, e.confirm(context.Background(), false, "second?"))
}

// Ctrl-C while a question, or a read of stdin, waits for input ends it at
// once: nothing was applied (exit 1, not 6).
func TestStdinReadsStopOnCancel(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe() // never written: a terminal nobody types into
	t.Cleanup(func() { _ = w.Close() })
	var errb bytes.Buffer
	e := &Env{Err: &errb, in: r, inTerminal: true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.confirm(ctx, false, "Apply?")
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, ExitFailed, ExitCode(err))
	require.ErrorContains(t, err, "not applied")

	_, err = readInput(ctx, e, "-", 10)
	require.ErrorIs(t, err, context.Canceled)
	_, err = readSettings(ctx, e, "-")
	require.ErrorIs(t, err, context.Canceled, "settings from stdin read the Env's stdin, not os.Stdin")
}

// plugin settings set --file - reads the Env's stdin (not os.Stdin).
func TestReadSettingsFromEnvStdin(t *testing.T) {
	t.Parallel()
	e := &Env{in: strings.NewReader(`{"endpoint":"https://x"}`)}
	got, err := readSettings(context.Background(), e, "-")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"endpoint": "https://x"}, got)
}
