package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/internal/config"
)

const pluginUsage = `Usage:
  partnerhub plugin push --tenant CODE --name NAME --version V [--os OS] [--arch ARCH]
                         [--activate ENV] [--server URL] [--key KEY] FILE

Uploads the plugin executable FILE for tenant CODE (streamed, with a progress
bar on a terminal) and, with --activate staging|production, activates it
there: the server starts it with the environment's settings and switches only
if it answers. --os and --arch default to this machine's. The server and API
key come from --server/--key or PARTNERHUB_URL/PARTNERHUB_KEY (prefer the
variable for the key: flags show in process lists).

If the connection drops before the server's answer, the outcome is unknown:
an upload can simply be pushed again (the same bytes under the same name and
version answer "already uploaded"); for an activation, push asks the server
which plugin is active and says so, or how to check.

Exit codes: 0 done, 1 the server refused (its problem is printed) or the
outcome is unknown (printed with how to check), 2 usage.

Flags:
`

// errRefused marks an answer the server gave with an error status: exit 1.
var errRefused = errors.New("server refused")

// pluginCmd runs `partnerhub plugin ...`.
func pluginCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "push" {
		fmt.Fprint(stderr, pluginUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: missing plugin command (push)", config.ErrInvalid)
		}
		return fmt.Errorf("%w: unknown plugin command %q (try push)", config.ErrInvalid, args[0])
	}
	o, err := parsePush(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	return push(ctx, o, stdout, stderr)
}

type pushOptions struct {
	server, key, tenant, name, version, os, arch, activate, file string
}

func parsePush(args []string, getenv func(string) string, stderr io.Writer) (pushOptions, error) {
	var o pushOptions
	fs := flag.NewFlagSet("plugin push", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.server, "server", getenv("PARTNERHUB_URL"), "partnerhub's URL (PARTNERHUB_URL; default http://localhost:8080)")
	fs.StringVar(&o.key, "key", "", "API key: an admin key of the tenant or an operator key (PARTNERHUB_KEY)")
	fs.StringVar(&o.tenant, "tenant", "", "the tenant's partnerCode (required)")
	fs.StringVar(&o.name, "name", "", "plugin name (required)")
	fs.StringVar(&o.version, "version", "", "plugin version (required)")
	fs.StringVar(&o.os, "os", runtime.GOOS, "target GOOS of the executable")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "target GOARCH of the executable")
	fs.StringVar(&o.activate, "activate", "", "activate the plugin in this environment after the upload: staging or production")
	usage := func(format string, a ...any) error {
		fmt.Fprint(stderr, pluginUsage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return fmt.Errorf("%w: plugin push: "+format, append([]any{config.ErrInvalid}, a...)...)
	}
	// Flags may follow FILE too.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return o, usage("%v", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		files = append(files, rest[0])
		rest = rest[1:]
	}
	if o.key == "" {
		o.key = getenv("PARTNERHUB_KEY")
	}
	if o.server == "" {
		o.server = "http://localhost:8080"
	}
	switch {
	case len(files) != 1:
		return o, usage("want exactly one FILE, got %d", len(files))
	case o.tenant == "" || o.name == "" || o.version == "":
		return o, usage("--tenant, --name and --version are required")
	case o.key == "":
		return o, usage("no API key: set PARTNERHUB_KEY or pass --key")
	case o.activate != "" && o.activate != "staging" && o.activate != "production":
		return o, usage("--activate must be staging or production")
	}
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, usage("--server %q is not an http(s) URL", o.server)
	}
	o.server = strings.TrimRight(o.server, "/")
	o.file = files[0]
	return o, nil
}

// pluginInfo is the part of the API's Plugin the CLI prints.
type pluginInfo struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	SHA256   string   `json:"sha256"`
	Size     int64    `json:"size"`
	OS       string   `json:"os"`
	Arch     string   `json:"arch"`
	ActiveIn []string `json:"activeIn"`
}

func push(ctx context.Context, o pushOptions, stdout, stderr io.Writer) error {
	f, err := os.Open(o.file)
	if err != nil {
		return fmt.Errorf("%w: plugin push: %w", config.ErrInvalid, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: plugin push: %s is not a regular file", config.ErrInvalid, o.file)
	}
	q := url.Values{"name": {o.name}, "version": {o.version}, "os": {o.os}, "arch": {o.arch}}
	endpoint := o.server + "/v1/tenants/" + url.PathEscape(o.tenant) + "/plugins?" + q.Encode()
	bar := newProgress(stderr, fi.Size(), fmt.Sprintf("uploading %s %s", o.name, o.version))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, io.TeeReader(f, bar))
	if err != nil {
		return err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+o.key)
	var pl pluginInfo
	status, err := do(req, &pl)
	bar.done()
	switch {
	case err != nil && (!errors.Is(err, errRefused) || status >= 500):
		// No answer, or the server failed: it may have stored the plugin.
		return fmt.Errorf("upload: %w (whether the plugin was stored is unknown: pushing the same file again is safe, "+
			"the same bytes under the same name and version answer \"already uploaded\")", err)
	case err != nil:
		return fmt.Errorf("upload: %w", err)
	}
	what := "uploaded"
	if status == http.StatusOK {
		what = "already uploaded"
	}
	fmt.Fprintf(stdout, "%s plugin %d: %s %s %s/%s, %d bytes, sha256 %s\n", what, pl.ID, pl.Name, pl.Version, pl.OS, pl.Arch, pl.Size, pl.SHA256)
	if o.activate == "" {
		return nil
	}

	fmt.Fprintf(stderr, "activating plugin %d in %s (the server starts it first)...\n", pl.ID, o.activate)
	body, _ := json.Marshal(map[string]int64{"pluginId": pl.ID})
	endpoint = o.server + "/v1/tenants/" + url.PathEscape(o.tenant) + "/environments/" + o.activate + "/plugin"
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+o.key)
	var active struct {
		Description *struct {
			Name            string   `json:"name"`
			Version         string   `json:"version"`
			ProtocolVersion int      `json:"protocolVersion"`
			Capabilities    []string `json:"capabilities"`
		} `json:"description"`
		PreviousPluginID int64 `json:"previousPluginId"`
	}
	status, err = do(req, &active)
	switch {
	case err != nil && errors.Is(err, errRefused) && status < 500:
		// The server answered that it refused: nothing changed.
		return fmt.Errorf("activate in %s: %w (the previous plugin stays active)", o.activate, err)
	case err != nil:
		// No answer (the connection dropped) or the server failed: the
		// switch may have happened. Ask which plugin is active.
		return activationUnknown(ctx, o, pl.ID, err, stdout)
	}
	fmt.Fprintf(stdout, "active in %s: plugin %d", o.activate, pl.ID)
	if d := active.Description; d != nil {
		fmt.Fprintf(stdout, " (describes itself as %s %s, protocol %d, capabilities %s)", d.Name, d.Version, d.ProtocolVersion,
			strings.Join(d.Capabilities, ", "))
	}
	fmt.Fprintln(stdout)
	if active.PreviousPluginID != 0 && active.PreviousPluginID != pl.ID {
		fmt.Fprintf(stdout, "previous plugin %d: to roll back, activate it again\n", active.PreviousPluginID)
	}
	return nil
}

// activationUnknown reports an activation whose answer was lost (cause):
// it asks the server which plugin is active now and says so; when that
// fails too, the outcome is unknown and it says how to check.
func activationUnknown(ctx context.Context, o pushOptions, pluginID int64, cause error, stdout io.Writer) error {
	endpoint := o.server + "/v1/tenants/" + url.PathEscape(o.tenant) + "/environments/" + o.activate + "/plugin"
	check := fmt.Sprintf("check with GET %s (the active plugin's id is plugin.id)", endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.key)
	var now struct {
		Plugin struct {
			ID int64 `json:"id"`
		} `json:"plugin"`
	}
	status, err := do(req, &now)
	switch {
	case err == nil && now.Plugin.ID == pluginID:
		fmt.Fprintf(stdout, "active in %s: plugin %d (the server's answer was lost: %v; checked since)\n", o.activate, pluginID, cause)
		return nil
	case err == nil:
		return fmt.Errorf("activate in %s: %w: the server's answer was lost; plugin %d was still active there when checked since, "+
			"but the server may still be finishing the activation: %s", o.activate, cause, now.Plugin.ID, check)
	case errors.Is(err, errRefused) && status == http.StatusNotFound:
		return fmt.Errorf("activate in %s: %w: the server's answer was lost; no plugin was active there when checked since, "+
			"but the server may still be finishing the activation: %s", o.activate, cause, check)
	}
	return fmt.Errorf("activate in %s: %w: the outcome is unknown (the plugin may or may not be active): %s", o.activate, cause, check)
}

// problemBody is an RFC 9457 problem as partnerhub answers it.
type problemBody struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// do sends req and decodes a 2xx JSON answer into out; any other status is
// errRefused with the problem's title, detail and errors.
func do(req *http.Request, out any) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("unexpected answer: %w", err)
		}
		return resp.StatusCode, nil
	}
	var p problemBody
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &p) == nil && (p.Title != "" || p.Detail != "") {
		msg = p.Title
		if p.Detail != "" && p.Detail != p.Title {
			msg += ": " + p.Detail
		}
		for _, e := range p.Errors {
			msg += "; " + strings.TrimSpace(e.Location+" "+e.Message)
		}
	}
	return resp.StatusCode, fmt.Errorf("%w: %d %s", errRefused, resp.StatusCode, msg)
}

// progress shows an upload's progress on stderr: a redrawn bar on a
// terminal, otherwise a plain line at each quarter.
type progress struct {
	w        io.Writer
	total    int64
	sent     int64
	label    string
	tty      bool
	last     int // last percent shown
	began    time.Time
	finished bool
}

func newProgress(w io.Writer, total int64, label string) *progress {
	p := &progress{w: w, total: total, label: label, last: -1, began: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if !p.tty {
		fmt.Fprintf(w, "%s: %s\n", label, humanBytes(total))
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.sent += int64(len(b))
	pct := 100
	if p.total > 0 {
		pct = int(p.sent * 100 / p.total)
	}
	switch {
	case p.tty && pct != p.last:
		const width = 30
		fill := pct * width / 100
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s/%s", p.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill),
			pct, humanBytes(p.sent), humanBytes(p.total))
	case !p.tty && pct/25 != p.last/25 && pct > 0:
		fmt.Fprintf(p.w, "%s: %d%% (%s of %s)\n", p.label, pct/25*25, humanBytes(p.sent), humanBytes(p.total))
	}
	p.last = pct
	return len(b), nil
}

// done ends the bar's line; the server's answer follows.
func (p *progress) done() {
	if p.finished {
		return
	}
	p.finished = true
	if p.tty {
		fmt.Fprintf(p.w, " %s\n", time.Since(p.began).Round(100*time.Millisecond))
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
