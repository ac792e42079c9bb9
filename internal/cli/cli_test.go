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
		stderr string
	}{
		{"group without command", []string{"tenants"}, noenv, "Commands:"},
		{"unknown subcommand", []string{"tenants", "frobnicate"}, noenv, "Commands:"},
		{"no server", []string{"tenants", "list"}, noenv, ""},
		{"no key", []string{"tenants", "list", "--server", "http://x"}, noenv, ""},
		{"unexpected argument", []string{"tenants", "list", "extra"}, withServer, ""},
		{"missing argument", []string{"tenants", "show"}, withServer, ""},
		{"bad status", []string{"tenants", "list", "--status", "gone"}, withServer, ""},
		{"create without flags", []string{"tenants", "create"}, withServer, ""},
		{"update without changes", []string{"tenants", "update", "acme"}, withServer, ""},
		{"keys bad role", []string{"keys", "create", "--name", "x", "--tenant", "a", "--role", "root"}, withServer, ""},
		{"env missing", []string{"envs", "show", "--tenant", "a"}, withServer, ""},
		{"env wrong", []string{"envs", "show", "--tenant", "a", "--env", "prod"}, withServer, ""},
		{"secrets as args", []string{"credentials", "set", "--tenant", "a", "--env", "staging", "apiSecret=x"}, withServer, ""},
		{"rotate what", []string{"credentials", "rotate", "--tenant", "a", "--env", "staging"}, withServer, ""},
		{"import without file", []string{"catalog", "import", "--tenant", "a", "--env", "staging"}, withServer, ""},
		{"import two modes", []string{"catalog", "import", "--tenant", "a", "--env", "staging", "--file", "x", "--yes", "--dry-run"}, withServer, ""},
		{"export bad format", []string{"catalog", "export", "--tenant", "a", "--env", "staging", "--format", "xml"}, withServer, ""},
		{"checklist bad status", []string{"checklist", "set", "step", "finished", "--tenant", "a"}, withServer, ""},
		{"promote without tenant", []string{"promote"}, withServer, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			err := Run(context.Background(), tc.args, tc.getenv, &out, &errb)
			require.Equal(t, ExitUsage, ExitCode(err), "%v", err)
			require.Contains(t, errb.String(), tc.stderr)
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
