// Package cli is partnerhub's command-line client: the operator and studio
// verbs (tenants, keys, envs, credentials, catalog, promote, checklist,
// plugin, payments, fulfilments, test-transactions), all through the
// generated API client (package client) against any partnerhub server.
//
// A verb is a tree of Commands; Run parses the global flags wherever they
// appear, walks the tree, answers --help at every level and runs the leaf.
// Errors carry their meaning to the exit code through ExitCode.
package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/client"
)

// Limits of the CLI's HTTP client. No whole-request timeout: a plugin upload
// over a slow link may take long; instead the connection must open quickly
// and the server must start answering within responseHeaderTimeout (an
// activation starts the plugin process before it answers).
const (
	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 5 * time.Minute
)

// Env is what a command runs with: the authenticated API client and where
// output goes. Built from the global flags; the key itself is not kept.
type Env struct {
	Client *client.ClientWithResponses
	// Server is the server's base URL, for messages ("check with ..."):
	// redacted, so a user:password in --server never shows.
	Server string
	// Out is stdout: tables or JSON. Err is stderr: notes and problems.
	Out, Err io.Writer
	// JSON is --output json: Render writes JSON, Printf notes go to Err.
	JSON bool
	// Terminal is true when Out is a terminal (progress bars, colours).
	Terminal bool
	// in is stdin, for secrets and documents piped in (os.Stdin).
	in io.Reader
	// inTerminal: stdin is a terminal, so confirm may ask.
	inTerminal bool
	// lines reads answers to confirm from in, kept across questions so
	// that buffered input is not lost between them.
	lines *bufio.Reader
}

// Command is one node of the verb tree. A node with Sub and no Run is a
// group: it prints its usage. Usage is the help text (without the global
// flags and exit codes, which help appends).
type Command struct {
	Name, Summary, Usage string
	Run                  func(ctx context.Context, e *Env, args []string) error
	Sub                  []*Command
}

// root is the whole verb tree; main.go dispatches each top-level verb here.
func root() *Command {
	return &Command{Name: "partnerhub", Sub: []*Command{
		tenantsCommand(),
		keysCommand(),
		envsCommand(),
		credentialsCommand(),
		catalogCommand(),
		promoteCommand(),
		checklistCommand(),
		pluginCommand(),
		paymentsCommand(),
		fulfilmentsCommand(),
		testTransactionsCommand(),
	}}
}

// Verbs lists the top-level verbs with their summaries, for main.go's usage.
func Verbs() [][2]string {
	var v [][2]string
	for _, c := range root().Sub {
		v = append(v, [2]string{c.Name, c.Summary})
	}
	return v
}

const globalHelp = `
Global flags (anywhere on the line):
  --server URL             the partnerhub server (or PARTNERHUB_URL)
  --key KEY                API key (or PARTNERHUB_KEY; prefer the variable: flags show in process lists)
  --output table|json, -o  tables for people (default), JSON for scripts
  -h, --help               this help

Exit codes: 0 ok; 1 ran and failed, or not applied (not confirmed, Ctrl-C
before sending); 2 usage; 3 not found; 4 refused (conflict, validation, other
4xx; the problem is printed); 5 authentication (401/403); 6 server error,
network error, redirect (never followed), unexpected answer, or unknown
outcome (a write says how to check).
`

// globals are the flags every verb accepts.
type globals struct {
	server, key, output string
}

// splitGlobals takes the global flags out of args wherever they appear
// (before "--"), so `partnerhub tenants list --output json` works.
func splitGlobals(args []string, getenv func(string) string) (globals, []string, error) {
	g := globals{server: getenv("PARTNERHUB_URL"), key: getenv("PARTNERHUB_KEY"), output: "table"}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		var dst *string
		switch name {
		case "server":
			dst = &g.server
		case "key":
			dst = &g.key
		case "output", "o":
			dst = &g.output
		default:
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return g, nil, usageErrorf("flag %s needs a value", a)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	if g.output != "table" && g.output != "json" {
		return g, nil, usageErrorf("--output must be table or json, not %q", g.output)
	}
	return g, rest, nil
}

// Run runs the CLI: args[0] is the top-level verb. getenv supplies
// PARTNERHUB_URL and PARTNERHUB_KEY. Map the error with ExitCode.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	g, args, err := splitGlobals(args, getenv)
	if err != nil {
		return err
	}
	cmd, path := root(), []string{"partnerhub"}
	for len(args) > 0 && len(cmd.Sub) > 0 {
		next := find(cmd.Sub, args[0])
		if next == nil {
			break
		}
		cmd, path, args = next, append(path, next.Name), args[1:]
	}
	if wantsHelp(args) {
		printHelp(stdout, cmd, path)
		return nil
	}
	if cmd.Run == nil {
		printHelp(stderr, cmd, path)
		if len(args) > 0 {
			return usageErrorf("unknown command %q for %s", args[0], strings.Join(path, " "))
		}
		return usageErrorf("%s needs a command", strings.Join(path, " "))
	}
	e, err := newEnv(g, stdout, stderr)
	if err != nil {
		return err
	}
	return cmd.Run(ctx, e, args)
}

func find(cs []*Command, name string) *Command {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// wantsHelp: -h or --help anywhere before "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

func printHelp(w io.Writer, c *Command, path []string) {
	if c.Usage != "" {
		fmt.Fprint(w, strings.TrimRight(c.Usage, "\n")+"\n")
	} else {
		fmt.Fprintf(w, "Usage: %s COMMAND\n", strings.Join(path, " "))
	}
	if len(c.Sub) > 0 {
		fmt.Fprintln(w, "\nCommands:")
		for _, s := range c.Sub {
			fmt.Fprintf(w, "  %-22s %s\n", s.Name, s.Summary)
		}
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", strings.Join(path, " "))
	}
	fmt.Fprint(w, globalHelp)
}

func newEnv(g globals, stdout, stderr io.Writer) (*Env, error) {
	if g.server == "" {
		return nil, usageErrorf("no server: pass --server URL or set PARTNERHUB_URL")
	}
	if g.key == "" {
		return nil, usageErrorf("no API key: set PARTNERHUB_KEY (or pass --key)")
	}
	key := g.key
	bearer := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	}
	hc := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
	}, CheckRedirect: noRedirect}
	server := strings.TrimRight(g.server, "/")
	// Checked here, quoting only the redacted form: the generated client's
	// own parse errors would quote a password in it.
	u, err := url.Parse(server)
	if err != nil {
		return nil, usageErrorf("--server (or PARTNERHUB_URL) is not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErrorf("--server %s: want http://HOST[:PORT] or https://HOST[:PORT]", u.Redacted())
	}
	c, err := client.NewClientWithResponses(server, client.WithHTTPClient(hc), client.WithRequestEditorFn(bearer))
	if err != nil {
		return nil, usageErrorf("--server %s: %v", u.Redacted(), err)
	}
	return &Env{Client: c, Server: u.Redacted(), Out: stdout, Err: stderr, JSON: g.output == "json", Terminal: isTerminal(stdout), in: os.Stdin, inTerminal: isTerminal(os.Stdin)}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// /dev/null is a character device too (stdin under cron, CI, go test).
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// newFlags is a leaf command's flag set: errors are returned, not printed.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses fs from args allowing flags after positional arguments
// (`tenants show CODE --tenant X`), and returns the positional ones.
// Everything after "--" is positional, flag-like or not.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErrorf("%v", err)
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" && (used == 1 || !takesValue(fs, args[used-2])) {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// takesValue: arg is a flag of fs whose value is the next argument (so a
// "--" after it is that value, not the end of the flags).
func takesValue(fs *flag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// parseArgs is a leaf command's usual start: parse args into fs, want
// exactly the positional arguments named by want, then run check (the
// tenant/env flags' usage checks; nil for none), failing on the first of
// these that fails. It returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, check func() error, want ...string) ([]string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if err := positional(pos, want...); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// positional checks the count of positional arguments. It never quotes
// one: a misplaced argument may be a secret (a key pasted in the wrong
// place).
func positional(pos []string, want ...string) error {
	if len(pos) != len(want) {
		if len(want) == 0 {
			return usageErrorf("this command takes no arguments, got %d (flags start with --)", len(pos))
		}
		return usageErrorf("want %s, got %d argument(s)", strings.Join(want, " "), len(pos))
	}
	return nil
}
