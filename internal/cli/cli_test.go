package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitGlobals(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    globals
		rest    []string
		wantErr bool
	}{
		{"env only", []string{"tenants", "list"}, map[string]string{"PARTNERHUB_URL": "http://a", "PARTNERHUB_KEY": "k"},
			globals{server: "http://a", key: "k", output: "table"}, []string{"tenants", "list"}, false},
		{"flags after the verb win", []string{"tenants", "list", "--server", "http://b", "--output=json", "--key=k2"}, map[string]string{"PARTNERHUB_URL": "http://a"},
			globals{server: "http://b", key: "k2", output: "json"}, []string{"tenants", "list"}, false},
		{"-o and single dash", []string{"-o", "json", "-server=http://c", "keys"}, nil,
			globals{server: "http://c", output: "json"}, []string{"keys"}, false},
		{"other flags stay", []string{"tenants", "show", "x", "--tenant", "t"}, nil,
			globals{output: "table"}, []string{"tenants", "show", "x", "--tenant", "t"}, false},
		{"after -- untouched", []string{"catalog", "--", "--output", "json"}, nil,
			globals{output: "table"}, []string{"catalog", "--", "--output", "json"}, false},
		{"missing value", []string{"tenants", "--server"}, nil, globals{}, nil, true},
		{"bad output", []string{"--output", "xml"}, nil, globals{}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, rest, err := splitGlobals(tc.args, env(tc.env))
			if tc.wantErr {
				require.Equal(t, ExitUsage, ExitCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, g)
			require.Equal(t, tc.rest, rest)
		})
	}
}

func TestParseFlagsInterspersed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		pos     []string
		tenant  string
		wantErr bool
	}{
		{"flags first", []string{"--tenant", "a", "x", "y"}, []string{"x", "y"}, "a", false},
		{"flags after", []string{"x", "--tenant=a", "y"}, []string{"x", "y"}, "a", false},
		{"none", nil, nil, "", false},
		{"unknown flag", []string{"--nope"}, nil, "", true},
		{"missing value", []string{"x", "--tenant"}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFlags("t")
			tenant := fs.String("tenant", "", "")
			pos, err := parseFlags(fs, tc.args)
			if tc.wantErr {
				require.Equal(t, ExitUsage, ExitCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.pos, pos)
			require.Equal(t, tc.tenant, *tenant)
		})
	}
}

func TestSetFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("name", "", "")
	fs.String("contact-email", "", "")
	require.NoError(t, fs.Parse([]string{"--contact-email="}))
	require.Equal(t, map[string]bool{"contact-email": true}, setFlags(fs))
}

// Every command answers --help with its usage, the global flags and the
// exit codes, without a server or key, and exits 0.
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	var walk func(c *Command, path []string)
	walk = func(c *Command, path []string) {
		for _, s := range c.Sub {
			p := append(append([]string{}, path...), s.Name)
			t.Run(strings.Join(p, "_"), func(t *testing.T) {
				t.Parallel()
				for _, h := range []string{"--help", "-h"} {
					var out, errb bytes.Buffer
					err := Run(context.Background(), append(append([]string{}, p...), h), func(string) string { return "" }, &out, &errb)
					require.NoError(t, err)
					require.Contains(t, out.String(), "Usage")
					require.Contains(t, out.String(), "Exit codes: 0 ok")
					for _, sub := range s.Sub {
						require.Contains(t, out.String(), sub.Name)
					}
				}
				require.NotEmpty(t, s.Summary)
			})
			walk(s, p)
		}
	}
	walk(root(), nil)
}

// Usage errors exit 2 and say what is wrong in words (stderr has the help
// for a group; the error is what main prints after "partnerhub: ").
func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	noenv := func(string) string { return "" }
	withServer := func(k string) string {
		return map[string]string{"PARTNERHUB_URL": "http://127.0.0.1:1", "PARTNERHUB_KEY": "phk_x"}[k]
	}
	for _, tc := range []struct {
		name   string
		args   []string
		getenv func(string) string
		stderr string // in stderr ("" : nothing printed before the error)
		err    string // in the error
	}{
		{"group without command", []string{"tenants"}, noenv, "Commands:", "partnerhub tenants needs a command"},
		{"unknown subcommand", []string{"tenants", "frobnicate"}, noenv, "Commands:", `unknown command "frobnicate"`},
		{"no server", []string{"tenants", "list"}, noenv, "", "no server: pass --server URL or set PARTNERHUB_URL"},
		{"no key", []string{"tenants", "list", "--server", "http://x"}, noenv, "", "no API key"},
		{"server not http", []string{"tenants", "list", "--server", "ftp://x"}, withServer, "", "want http://HOST"},
		{"unexpected argument", []string{"tenants", "list", "extra"}, withServer, "", "takes no arguments, got 1"},
		{"missing argument", []string{"tenants", "show"}, withServer, "", "want CODE, got 0 argument(s)"},
		{"bad status", []string{"tenants", "list", "--status", "gone"}, withServer, "", "--status must be active or suspended"},
		{"create without flags", []string{"tenants", "create"}, withServer, "", "--code, --partner-id and --name are required"},
		{"update without changes", []string{"tenants", "update", "acme"}, withServer, "", "nothing to change"},
		{"keys bad role", []string{"keys", "create", "--name", "x", "--tenant", "a", "--role", "root"}, withServer, "", "--role must be admin or viewer"},
		{"env missing", []string{"envs", "show", "--tenant", "a"}, withServer, "", "--env is required"},
		{"env wrong", []string{"envs", "show", "--tenant", "a", "--env", "prod"}, withServer, "", `--env must be staging or production, not "prod"`},
		{"secrets as args", []string{"credentials", "set", "--tenant", "a", "--env", "staging", "apiSecret=x"}, withServer, "", "never the command line"},
		{"rotate what", []string{"credentials", "rotate", "--tenant", "a", "--env", "staging"}, withServer, "", "needs signing-key or webhook-token"},
		{"import without file", []string{"catalog", "import", "--tenant", "a", "--env", "staging"}, withServer, "", "--file is required"},
		{"import two modes", []string{"catalog", "import", "--tenant", "a", "--env", "staging", "--file", "x", "--yes", "--dry-run"}, withServer, "", "exclude each other"},
		{"export bad format", []string{"catalog", "export", "--tenant", "a", "--env", "staging", "--format", "xml"}, withServer, "", "--format must be yaml or json"},
		{"export yaml as json", []string{"catalog", "export", "--tenant", "a", "--env", "staging", "--format", "yaml", "-o", "json"}, withServer, "", "stdout would not be JSON"},
		{"checklist bad status", []string{"checklist", "set", "step", "finished", "--tenant", "a"}, withServer, "", "status must be todo, in_progress or done"},
		{"promote without tenant", []string{"promote"}, withServer, "", "--tenant is required"},
		{"test run bundle and id", []string{"test-transactions", "run", "--tenant", "a", "--bundle", "x", "--bundle-id", "3", "--player", "1"}, withServer, "", "one of --bundle SKU or --bundle-id ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			err := Run(context.Background(), tc.args, tc.getenv, &out, &errb)
			require.Equal(t, ExitUsage, ExitCode(err), "%v", err)
			require.ErrorContains(t, err, tc.err)
			require.True(t, strings.HasPrefix(err.Error(), "usage: "), err.Error())
			require.NotContains(t, err.Error(), "invalid configuration")
			if tc.stderr == "" {
				require.Empty(t, errb.String())
			} else {
				require.Contains(t, errb.String(), tc.stderr)
			}
			require.Empty(t, out.String())
		})
	}
}

// A misplaced argument is never echoed: it may be a key pasted in the
// wrong place. Nor is a password in --server, anywhere.
func TestUsageErrorsQuoteNoSecret(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		return map[string]string{"PARTNERHUB_URL": "http://127.0.0.1:1", "PARTNERHUB_KEY": "phk_x"}[k]
	}
	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"tenants", "list", "phk_pasted_SECRETKEY"}, env, &out, &errb)
	require.Equal(t, ExitUsage, ExitCode(err))
	require.NotContains(t, err.Error()+out.String()+errb.String(), "SECRETKEY")

	for _, server := range []string{"ftp://ops:pr0xy-PASSWORD@host", "http://ops:pr0xy-PASSWORD@ho st", "http://ops:pr0xy-PASSWORD@"} {
		err = Run(context.Background(), []string{"tenants", "list", "--server", server}, env, &out, &errb)
		require.Equal(t, ExitUsage, ExitCode(err), server)
		require.NotContains(t, err.Error()+out.String()+errb.String(), "pr0xy-PASSWORD", server)
	}
}

// Everything after "--" is positional, even what looks like a flag; a
// flag's value may be "--".
func TestParseFlagsDoubleDash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		pos  []string
		note string
	}{
		{"all after --", []string{"--note", "n", "--", "-a", "--b", "c"}, []string{"-a", "--b", "c"}, "n"},
		{"positional before --", []string{"x", "--", "--note", "y"}, []string{"x", "--note", "y"}, ""},
		{"-- as a value", []string{"--note", "--", "x"}, []string{"x"}, "--"},
		{"-- as a value, then --", []string{"--note", "--", "--", "--note"}, []string{"--note"}, "--"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFlags("t")
			note := fs.String("note", "", "")
			fs.Bool("yes", false, "")
			pos, err := parseFlags(fs, tc.args)
			require.NoError(t, err)
			require.Equal(t, tc.pos, pos)
			require.Equal(t, tc.note, *note)
		})
	}
}

// An unreachable server is exit 6, and the key never shows in the error.
func TestRunUnreachable(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	err := Run(context.Background(), []string{"tenants", "list", "--server", "http://127.0.0.1:1", "--key", "phk_secret_value"},
		func(string) string { return "" }, &out, &errb)
	require.Equal(t, ExitServer, ExitCode(err))
	require.NotContains(t, err.Error()+out.String()+errb.String(), "phk_secret_value")
}
