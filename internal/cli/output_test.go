package cli

import (
	"bytes"
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

func TestConfirm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		yes        bool
		inTerminal bool
		input      string
		want       bool
		wantCode   int
	}{
		{"--yes", true, false, "", true, ExitOK},
		{"no terminal", false, false, "y\n", false, ExitUsage},
		{"terminal yes", false, true, "y\n", true, ExitOK},
		{"terminal YES", false, true, " YES \n", true, ExitOK},
		{"terminal no", false, true, "n\n", false, ExitOK},
		{"terminal eof", false, true, "", false, ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			e := &Env{Out: &out, Err: &errb, in: bytes.NewBufferString(tc.input), inTerminal: tc.inTerminal}
			ok, err := e.confirm(tc.yes, "Apply?")
			require.Equal(t, tc.wantCode, ExitCode(err))
			require.Equal(t, tc.want, ok)
		})
	}
}
