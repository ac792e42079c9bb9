package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"

	"github.com/partnerhub/partnerhub/client"
)

const pluginUsage = `Usage: partnerhub plugin COMMAND --tenant CODE ...

A tenant's fulfilment plugins: upload (push, with a progress bar on a
terminal) and activate them per environment, list, show and delete them,
and set an environment's write-only plugin settings.
`

func pluginCommand() *Command {
	return &Command{Name: "plugin", Summary: "upload, activate and manage fulfilment plugins", Usage: pluginUsage,
		Sub: []*Command{
			{Name: "push", Summary: "upload a plugin executable, optionally activate it", Usage: pushUsage, Run: pluginPush},
			{Name: "activate", Summary: "activate an uploaded plugin in an environment (also: roll back)", Usage: activateUsage, Run: pluginActivate},
			{Name: "active", Summary: "show an environment's active plugin", Usage: activeUsage, Run: pluginActive},
			{Name: "list", Summary: "list a tenant's plugins", Usage: pluginListUsage, Run: pluginList},
			{Name: "show", Summary: "show one plugin", Usage: pluginShowUsage, Run: pluginShow},
			{Name: "delete", Summary: "delete a plugin that is not active anywhere", Usage: pluginDeleteUsage, Run: pluginDelete},
			{Name: "settings", Summary: "an environment's plugin settings (write-only)", Usage: settingsUsage,
				Sub: []*Command{{Name: "set", Summary: "replace the settings from a JSON file or stdin", Usage: settingsSetUsage, Run: pluginSettingsSet}}},
		}}
}

const pushUsage = `Usage: partnerhub plugin push --tenant CODE --name NAME --version V [--os OS] [--arch ARCH]
                              [--activate staging|production] FILE

Uploads the plugin executable FILE for tenant CODE, streamed, with a progress
bar when stderr is a terminal (none when piped or with --output json), and
with --activate ENV activates it there: the server starts it with the
environment's settings and switches only if it answers. --os and --arch
default to this machine's.

Pushing the same bytes under the same name and version again is safe: it
answers "already uploaded". If the connection drops before the server's
answer, the outcome is unknown: for an upload, push again; for an
activation, push asks the server which plugin is active and says so, or how
to check (exit 6).

Flags:
  --tenant CODE      the tenant's partnerCode (required)
  --name NAME        plugin name (required)
  --version V        plugin version (required)
  --os OS            target GOOS of the executable (default: this machine's)
  --arch ARCH        target GOARCH of the executable (default: this machine's)
  --activate ENV     activate it in staging or production after the upload

--output json prints {"plugin": ..., "created": bool, "activation": ...}
(activation only with --activate: the API's ActivePlugin).
`

const activateUsage = `Usage: partnerhub plugin activate --tenant CODE [--env staging|production] PLUGIN-ID

Activates an uploaded plugin in the environment (staging by default): the
server starts it with the environment's settings (checksum, handshake,
Describe, Configure) and switches only once it answered; on refusal the
previous plugin stays active and the problem says why (exit 4). To roll back,
activate the previous plugin (previousPluginId in the answer). If the answer
is lost, the command asks which plugin is active and says so (exit 6 when
the outcome stays unknown).
`

const activeUsage = `Usage: partnerhub plugin active --tenant CODE [--env staging|production]

Shows the environment's active plugin, what it described itself as, the
plugin it replaced and the names (never the values) of its settings. Exit 3
when the environment has no active plugin.
`

const pluginListUsage = `Usage: partnerhub plugin list --tenant CODE

Lists the tenant's uploaded plugins in upload order with where each is active
(every page; a tenant keeps a bounded number of plugins).
`

const pluginShowUsage = `Usage: partnerhub plugin show --tenant CODE PLUGIN-ID
`

const pluginDeleteUsage = `Usage: partnerhub plugin delete --tenant CODE PLUGIN-ID

Deletes an uploaded plugin. Refused (exit 4) while it is active in an
environment: activate another one there first.
`

const settingsUsage = `Usage: partnerhub plugin settings set --tenant CODE [--env ENV] --file FILE|-
`

const settingsSetUsage = `Usage: partnerhub plugin settings set --tenant CODE [--env staging|production] --file FILE|-

Replaces every plugin setting of the environment with those in FILE ("-":
stdin), a JSON object of names to string values, e.g.
  {"endpoint": "https://game.example.com/credit", "hmac_key": "..."}
({} clears them). Values are secrets: they are read from the file, never
from flags, and never printed; the answer lists the names. When a plugin is
active, the server starts it with the new settings first; if it refuses
them (exit 4) the previous settings stay.
`

// maxSettingsFile bounds the settings file: the API takes 32 KiB of names
// and values (JSON-escaped, 256 KiB of body).
const maxSettingsFile = 256 << 10

// pushResult is plugin push's JSON output.
type pushResult struct {
	Plugin     client.Plugin        `json:"plugin"`
	Created    bool                 `json:"created"`
	Activation *client.ActivePlugin `json:"activation,omitempty"`
}

type pushOptions struct {
	scope                          *scope
	name, version, os, arch, activ string
	file                           string
}

func parsePush(args []string) (pushOptions, error) {
	fs := newFlags("plugin push")
	o := pushOptions{scope: scopeFlags(fs, false)}
	fs.StringVar(&o.name, "name", "", "")
	fs.StringVar(&o.version, "version", "", "")
	fs.StringVar(&o.os, "os", runtime.GOOS, "")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "")
	fs.StringVar(&o.activ, "activate", "", "")
	pos, err := parseArgs(fs, args, nil, "FILE")
	if err != nil {
		return o, err
	}
	o.file = pos[0]
	switch {
	case o.scope.tenant == "" || o.name == "" || o.version == "":
		return o, usageErrorf("--tenant, --name and --version are required")
	case o.os == "" || o.arch == "":
		return o, usageErrorf("--os and --arch may not be empty")
	}
	return o, checkEnvName("--activate", o.activ, false)
}

func pluginPush(ctx context.Context, e *Env, args []string) error {
	o, err := parsePush(args)
	if err != nil {
		return err
	}
	f, err := os.Open(o.file)
	if err != nil {
		return usageErrorf("plugin push: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return usageErrorf("plugin push: %s is not a regular file", o.file)
	}
	size := fi.Size()

	// The body streams from the file through the generated client: the
	// executable is never read whole into memory. Content-Length lets the
	// server refuse an oversized plugin before reading it.
	var body io.Reader = f
	var bar *progress
	if !e.JSON && isTerminal(e.Err) {
		bar = newProgress(e.Err, fmt.Sprintf("uploading %s %s", o.name, o.version), size)
		body = io.TeeReader(f, bar)
	}
	withLength := func(_ context.Context, req *http.Request) error {
		req.ContentLength = size
		return nil
	}
	params := &client.UploadPluginParams{Name: &o.name, Version: &o.version, Os: &o.os, Arch: &o.arch}
	resp, err := e.Client.UploadPluginWithBodyWithResponse(ctx, o.scope.tenant, params, "application/octet-stream", body, withLength)
	if bar != nil {
		bar.done()
	}
	var status int
	var raw []byte
	if resp != nil {
		status, raw = resp.StatusCode(), resp.Body
	}
	again := fmt.Sprintf("partnerhub plugin list --tenant %s (pushing the same file again is safe: the same bytes "+
		"under the same name and version answer \"already uploaded\")", o.scope.tenant)
	// call says how to check after a lost answer or a 5xx (once).
	if err := call("upload", again, err, status, raw); err != nil {
		return err
	}
	res := pushResult{Created: status == http.StatusCreated}
	if resp.JSON201 != nil {
		res.Plugin = *resp.JSON201
	} else if err := json.Unmarshal(raw, &res.Plugin); err != nil || res.Plugin.Id == 0 {
		// 200 (already uploaded) is not decoded by the generated client.
		return unexpected("upload", again, fmt.Sprintf("%d, not the API's plugin", status))
	}
	if !e.JSON {
		what := "uploaded"
		if !res.Created {
			what = "already uploaded"
		}
		pl := res.Plugin
		e.Printf("%s plugin %d: %s %s %s/%s, %s, sha256 %s\n", what, pl.Id, pl.Name, pl.Version, pl.Os, pl.Arch,
			humanBytes(pl.Size), pl.Sha256)
	}
	if o.activ == "" {
		if e.JSON {
			return e.Render(res, nil, nil)
		}
		return nil
	}
	active, err := activate(ctx, e, o.scope.tenant, o.activ, res.Plugin.Id)
	if err != nil {
		return err
	}
	res.Activation = active
	if e.JSON {
		return e.Render(res, nil, nil)
	}
	return nil
}

func pluginActivate(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("plugin activate")
	sc := scopeFlags(fs, true)
	pos, err := parseArgs(fs, args, sc.check, "PLUGIN-ID")
	if err != nil {
		return err
	}
	id, err := parseID("PLUGIN-ID", pos[0])
	if err != nil {
		return err
	}
	active, err := activate(ctx, e, sc.tenant, sc.env, id)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.Render(active, nil, nil)
	}
	return nil
}

// activate activates plugin id in env and prints what the server said. An
// answer that never came, or a server error, leaves the outcome unknown:
// then it asks which plugin is active (activationUnknown).
func activate(ctx context.Context, e *Env, tenant, env string, id int64) (*client.ActivePlugin, error) {
	fmt.Fprintf(e.Err, "activating plugin %d in %s (the server starts it first)...\n", id, env)
	resp, err := e.Client.ActivatePluginWithResponse(ctx, tenant, env, client.ActivatePluginJSONRequestBody{PluginId: id})
	var status int
	var raw []byte
	if resp != nil {
		status, raw = resp.StatusCode(), resp.Body
	}
	op := "activate in " + env
	if err := call(op, "", err, status, raw); err != nil {
		var p *ProblemError
		var redir *RedirectError
		switch {
		case errors.As(err, &p) && p.Status < 500:
			// The server answered that it refused: nothing changed.
			return nil, fmt.Errorf("%w\n  the previous plugin stays active", err)
		case errors.As(err, &redir):
			return nil, err // not processed: nothing changed, nothing to ask
		case errors.Is(err, context.Canceled):
			// Interrupted: there is no time left to ask the server.
			return nil, &TransportError{Op: op, Check: activeCheck(e, tenant, env), Err: err}
		}
		return activationUnknown(ctx, e, tenant, env, id, err)
	}
	if resp.JSON200 == nil {
		return activationUnknown(ctx, e, tenant, env, id, fmt.Errorf("%s: unexpected answer %d", op, status))
	}
	a := resp.JSON200
	if !e.JSON {
		e.Printf("active in %s: plugin %d%s\n", env, id, described(a.Description))
		if prev := a.PreviousPluginId; prev != nil && *prev != id {
			e.Printf("previous plugin %d: to roll back, partnerhub plugin activate --tenant %s --env %s %d\n", *prev, tenant, env, *prev)
		}
	}
	return a, nil
}

// described is how a plugin described itself, for a line of output.
func described(d *client.PluginDescription) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(" (describes itself as %s %s, protocol %d, capabilities %s)", d.Name, d.Version, d.ProtocolVersion,
		strings.Join(d.Capabilities, ", "))
}

// activationUnknown reports an activation whose answer was lost or failed
// (cause: a transport error or a 5xx, so the error maps to exit 6): it asks
// the server which plugin is active now. Only when that is the plugin
// asked for is it a success; otherwise the switch may still be finishing,
// and it says how to check.
func activationUnknown(ctx context.Context, e *Env, tenant, env string, id int64, cause error) (*client.ActivePlugin, error) {
	check := activeCheck(e, tenant, env)
	resp, err := e.Client.GetActivePluginWithResponse(ctx, tenant, env)
	switch {
	case err == nil && resp.JSON200 != nil && resp.JSON200.Plugin.Id == id:
		a := resp.JSON200
		if !e.JSON {
			e.Printf("active in %s: plugin %d%s (the server's answer was lost: %v; checked since)\n", env, id,
				described(a.Description), cause)
		}
		return a, nil
	case err == nil && resp.JSON200 != nil:
		return nil, fmt.Errorf("%w\n  the server's answer was lost; plugin %d was still active in %s when checked since, "+
			"but the server may still be finishing the activation; check with: %s", cause, resp.JSON200.Plugin.Id, env, check)
	case err == nil && resp.StatusCode() == http.StatusNotFound:
		return nil, fmt.Errorf("%w\n  the server's answer was lost; no plugin was active in %s when checked since, "+
			"but the server may still be finishing the activation; check with: %s", cause, env, check)
	}
	return nil, fmt.Errorf("%w\n  the outcome is unknown (the plugin may or may not be active); check with: %s", cause, check)
}

// activeCheck says how to find which plugin is active.
func activeCheck(e *Env, tenant, env string) string {
	return fmt.Sprintf("partnerhub plugin active --tenant %s --env %s (GET %s/v1/tenants/%s/environments/%s/plugin; "+
		"the active plugin's id is plugin.id)", tenant, env, e.Server, tenant, env)
}

func pluginActive(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("plugin active")
	sc := scopeFlags(fs, true)
	_, err := parseArgs(fs, args, sc.check)
	if err != nil {
		return err
	}
	resp, err := e.Client.GetActivePluginWithResponse(ctx, sc.tenant, sc.env)
	if err := call("active plugin", "", err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	a, err := decoded("active plugin", "", resp, resp.JSON200)
	if err != nil {
		return err
	}
	desc := "-"
	if d := a.Description; d != nil {
		desc = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(described(d), " ("), ")"))
	}
	rows := [][]string{
		{"environment", string(a.Environment)},
		{"plugin", fmt.Sprintf("%d: %s %s %s/%s", a.Plugin.Id, a.Plugin.Name, a.Plugin.Version, a.Plugin.Os, a.Plugin.Arch)},
		{"sha256", a.Plugin.Sha256},
		{"description", desc},
		{"activated", timePtrCell(a.ActivatedAt)},
		{"previous plugin", int64Cell(a.PreviousPluginId)},
		{"settings", namesCell(a.SettingNames)},
	}
	return e.Render(a, nil, rows)
}

func namesCell(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}

func pluginList(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("plugin list")
	sc := scopeFlags(fs, false)
	_, err := parseArgs(fs, args, sc.check)
	if err != nil {
		return err
	}
	params := &client.ListPluginsParams{Limit: ptr(pageSize)}
	pg := newPager("list plugins")
	all, _, err := follow(pg, nil, true, func(cursor *string) ([]client.Plugin, *string, error) {
		params.Cursor = cursor
		resp, err := e.Client.ListPluginsWithResponse(ctx, sc.tenant, params)
		if err := call(pg.op, "", err, statusOf(resp), bodyOf(resp)); err != nil {
			return nil, nil, err
		}
		page, err := decoded(pg.op, "", resp, resp.JSON200)
		if err != nil {
			return nil, nil, err
		}
		return itemsOf(page.Items), page.NextCursor, nil
	})
	if err != nil {
		return err
	}
	pg.note(e.Err, "plugins", "delete old ones")
	return renderList(e, all, pluginHeaders, pluginRow)
}

var pluginHeaders = []string{"ID", "NAME", "VERSION", "OS/ARCH", "SIZE", "SHA256", "ACTIVE IN", "UPLOADED"}

func pluginRow(p client.Plugin) []string {
	sum := p.Sha256
	if len(sum) > 12 {
		sum = sum[:12] + "…"
	}
	return []string{fmt.Sprint(p.Id), p.Name, p.Version, p.Os + "/" + p.Arch, humanBytes(p.Size), sum,
		namesCell(p.ActiveIn), timeCell(p.CreatedAt)}
}

// pluginByID parses `--tenant CODE PLUGIN-ID`.
func pluginByID(name string, args []string) (*scope, int64, error) {
	fs := newFlags(name)
	sc := scopeFlags(fs, false)
	pos, err := parseArgs(fs, args, sc.check, "PLUGIN-ID")
	if err != nil {
		return nil, 0, err
	}
	id, err := parseID("PLUGIN-ID", pos[0])
	return sc, id, err
}

func pluginShow(ctx context.Context, e *Env, args []string) error {
	sc, id, err := pluginByID("plugin show", args)
	if err != nil {
		return err
	}
	resp, err := e.Client.GetPluginWithResponse(ctx, sc.tenant, id)
	if err := call("show plugin", "", err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	p, err := decoded("show plugin", "", resp, resp.JSON200)
	if err != nil {
		return err
	}
	return e.Render(p, nil, [][]string{
		{"id", fmt.Sprint(p.Id)}, {"name", p.Name}, {"version", p.Version}, {"os/arch", p.Os + "/" + p.Arch},
		{"size", fmt.Sprintf("%s (%d bytes)", humanBytes(p.Size), p.Size)}, {"sha256", p.Sha256},
		{"active in", namesCell(p.ActiveIn)}, {"uploaded", timeCell(p.CreatedAt)},
	})
}

func pluginDelete(ctx context.Context, e *Env, args []string) error {
	sc, id, err := pluginByID("plugin delete", args)
	if err != nil {
		return err
	}
	resp, err := e.Client.DeletePluginWithResponse(ctx, sc.tenant, id)
	check := fmt.Sprintf("partnerhub plugin show --tenant %s %d (exit 3: it is gone)", sc.tenant, id)
	if err := call("delete plugin", check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	if e.JSON {
		return e.Render(map[string]any{"id": id, "deleted": true}, nil, nil)
	}
	e.Printf("deleted plugin %d\n", id)
	return nil
}

func pluginSettingsSet(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("plugin settings set")
	sc := scopeFlags(fs, true)
	var file string
	fs.StringVar(&file, "file", "", "")
	_, err := parseArgs(fs, args, sc.check)
	if err != nil {
		return err
	}
	if file == "" {
		return usageErrorf("--file FILE (or - for stdin) is required: settings are never taken from flags")
	}
	settings, err := readSettings(ctx, e, file)
	if err != nil {
		return err
	}
	resp, err := e.Client.SetPluginSettingsWithResponse(ctx, sc.tenant, sc.env,
		client.SetPluginSettingsJSONRequestBody{Settings: &settings})
	check := fmt.Sprintf("partnerhub plugin active --tenant %s --env %s (its settings names)", sc.tenant, sc.env)
	if err := call("set plugin settings", check, err, statusOf(resp), bodyOf(resp)); err != nil {
		return err
	}
	s, err := decoded("set plugin settings", check, resp, resp.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.Render(s, nil, nil)
	}
	e.Printf("%s plugin settings set: %s\n", s.Environment, namesCell(s.Names))
	return nil
}

// readSettings reads a JSON object of setting names to string values from
// file ("-": the Env's stdin). Its errors never quote the file: it holds
// secrets.
func readSettings(ctx context.Context, e *Env, file string) (map[string]string, error) {
	r := e.in
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, usageErrorf("settings file: %v", err)
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, usageErrorf("settings file: no stdin: pass --file FILE")
	}
	raw, err := readAll(ctx, r, maxSettingsFile)
	if err != nil {
		return nil, err
	}
	if len(raw) > maxSettingsFile {
		return nil, usageErrorf("settings file is larger than %s", humanBytes(maxSettingsFile))
	}
	var settings map[string]string
	if err := json.Unmarshal(raw, &settings); err != nil || settings == nil {
		return nil, usageErrorf(`settings file must be one JSON object of names to string values, e.g. {"endpoint": "https://..."}`)
	}
	return settings, nil
}
