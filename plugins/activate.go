package plugins

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// Starter checks candidate plugins (*host.Host): Probe starts a process for
// a key of its own, beside the one serving traffic (handshake, Describe,
// protocol check, Configure with Key.Settings), stops it and returns the
// description.
type Starter interface {
	Probe(ctx context.Context, key host.Key) (sdk.Description, error)
}

// Description is what a plugin's Describe reported when it was activated.
type Description struct {
	Name            string
	Version         string
	ProtocolVersion int
	Capabilities    []string
}

// Activation is one recorded activation of a plugin in an environment.
type Activation struct {
	Environment      string
	PreviousPluginID int64 // 0 when the environment had none
	Description      Description
	ActivatedAt      time.Time
}

// ActiveRef names an environment's active plugin, as tenant.Env carries it.
type ActiveRef struct {
	TenantID    int64
	PartnerCode string
	Env         string
	PluginID    int64 // 0: none
}

// ActiveKey resolves an environment's active plugin into the host key that
// runs it: its sha256 and the environment's opened settings, in one query.
// Callers (jobs, the User Info Webhook) ask per use, so a change of plugin
// or settings takes effect at the next call.
func (r *Registry) ActiveKey(ctx context.Context, a ActiveRef) (host.Key, error) {
	if a.PluginID == 0 {
		return host.Key{}, ErrNoActivePlugin
	}
	sha, sealed, err := activeKeyRow(ctx, r.pool, a.TenantID, a.PluginID, a.Env)
	if err != nil {
		return host.Key{}, err
	}
	settings, err := r.openSettings(a.TenantID, a.Env, sealed)
	if err != nil {
		return host.Key{}, err
	}
	return host.Key{PartnerCode: a.PartnerCode, TenantID: a.TenantID, Env: a.Env, SHA256: sha, Settings: settings}, nil
}

// ActivateParams ask to make a plugin an environment's active one.
type ActivateParams struct {
	TenantID    int64
	PartnerCode string
	Env         string
	PluginID    int64
	// PreviousPluginID is the environment's active plugin now (0: none),
	// recorded in the history so a rollback knows what to activate.
	PreviousPluginID int64
	// Switch makes PluginID the environment's active plugin inside tx, with
	// its audit entry and change notification (tenant.Service.SetActivePluginTx).
	Switch func(ctx context.Context, tx pgx.Tx) error
}

// Activated is the result of a successful activation.
type Activated struct {
	Plugin     Plugin
	Activation Activation
}

// Activate starts the plugin through h with the environment's settings
// (checksum, handshake, Describe, protocol version, Configure) and only
// then switches the environment to it, recording what Describe said. On
// any failure nothing changes, the previous plugin stays active, and the
// error is an *ActivationError saying why. A plugin built for another
// platform than this host's is refused before it is started.
func (r *Registry) Activate(ctx context.Context, h Starter, p ActivateParams) (Activated, error) {
	if !validEnv(p.Env) {
		return Activated{}, ErrNotFound
	}
	if p.Switch == nil || h == nil {
		return Activated{}, errors.New("plugins: Activate needs a Starter and a Switch")
	}
	pl, err := pluginByID(ctx, r.pool, p.TenantID, p.PluginID)
	if err != nil {
		return Activated{}, err
	}
	row, err := loadSettings(ctx, r.pool, p.TenantID, p.Env)
	if err != nil {
		return Activated{}, err
	}
	settings, err := r.openSettings(p.TenantID, p.Env, row.sealed)
	if err != nil {
		return Activated{}, err
	}
	desc, err := r.start(ctx, h, pl, p.TenantID, p.PartnerCode, p.Env, settings)
	if err != nil {
		r.log.WarnContext(ctx, "plugin activation refused", "tenant_id", p.TenantID, "env", p.Env,
			"plugin_id", pl.ID, "err", err)
		return Activated{}, err
	}
	var act Activation
	err = db.InTx(ctx, r.pool, func(tx pgx.Tx) error {
		if err := p.Switch(ctx, tx); err != nil {
			return err
		}
		at, err := insertActivation(ctx, tx, p.TenantID, p.Env, pl.ID, p.PreviousPluginID, desc)
		act = Activation{Environment: p.Env, PreviousPluginID: p.PreviousPluginID, Description: desc, ActivatedAt: at}
		return err
	})
	if err != nil {
		return Activated{}, err
	}
	r.log.InfoContext(ctx, "plugin activated", "tenant_id", p.TenantID, "env", p.Env, "plugin_id", pl.ID,
		"previous_plugin_id", p.PreviousPluginID, "described_name", desc.Name, "described_version", desc.Version)
	if pl, err = pluginByID(ctx, r.pool, p.TenantID, p.PluginID); err != nil {
		return Activated{}, err
	}
	return Activated{Plugin: pl, Activation: act}, nil
}

// ActivePlugin is an environment's active plugin as shown to the tenant.
type ActivePlugin struct {
	Plugin Plugin
	// Activation is the latest recorded activation of the plugin (in this
	// environment if there is one: promotion copies a plugin to production
	// without starting it there); nil when none was recorded.
	Activation *Activation
}

// Active returns an environment's active plugin (pluginID, from the
// environment) with its recorded description; ErrNoActivePlugin for 0.
func (r *Registry) Active(ctx context.Context, tenantID int64, env string, pluginID int64) (ActivePlugin, error) {
	if !validEnv(env) {
		return ActivePlugin{}, ErrNotFound
	}
	if pluginID == 0 {
		return ActivePlugin{}, ErrNoActivePlugin
	}
	pl, err := pluginByID(ctx, r.pool, tenantID, pluginID)
	if err != nil {
		return ActivePlugin{}, err
	}
	a, err := lastActivation(ctx, r.pool, tenantID, pluginID, env)
	if err != nil {
		return ActivePlugin{}, err
	}
	return ActivePlugin{Plugin: pl, Activation: a}, nil
}

// start probes pl with settings through h, in a process of its own (the
// environment's live process keeps serving), and asks what it is, turning
// every failure into an *ActivationError the tenant can act on.
func (r *Registry) start(ctx context.Context, h Starter, pl Plugin, tenantID int64, partnerCode, env string, settings map[string]string) (Description, error) {
	if pl.OS != runtime.GOOS || pl.Arch != runtime.GOARCH {
		return Description{}, &ActivationError{Reason: ReasonPlatform,
			Detail: fmt.Sprintf("the plugin is built for %s/%s; this host runs %s/%s", pl.OS, pl.Arch, runtime.GOOS, runtime.GOARCH)}
	}
	key := host.Key{PartnerCode: partnerCode, TenantID: tenantID, Env: env, SHA256: pl.SHA256, Settings: settings}
	d, err := h.Probe(ctx, key)
	if err != nil {
		if strings.Contains(err.Error(), "describe:") {
			return Description{}, &ActivationError{Reason: ReasonDescribe, Detail: "the plugin started but Describe failed: " +
				clip(redact(pluginMessage(err, "describe:"), settings)), Err: err}
		}
		return Description{}, classify(err, settings)
	}
	if d.ProtocolVersion != sdk.ProtocolVersion {
		return Description{}, &ActivationError{Reason: ReasonProtocol,
			Detail: fmt.Sprintf("the plugin speaks protocol %d; partnerhub speaks %d", d.ProtocolVersion, sdk.ProtocolVersion)}
	}
	caps := make([]string, 0, len(d.Capabilities))
	for _, c := range d.Capabilities {
		caps = append(caps, string(c))
	}
	return Description{Name: clip(d.Name), Version: clip(d.Version), ProtocolVersion: int(d.ProtocolVersion), Capabilities: caps}, nil
}

// classify turns a host start error into an ActivationError. The detail is
// written for the tenant: fixed sentences, plus the plugin's own message
// (settings values redacted) where it helps; never a path on this host.
func classify(err error, settings map[string]string) *ActivationError {
	var backoff *host.BackoffError
	if errors.As(err, &backoff) && backoff.Last != nil {
		// Failed recently: the host waits before starting it again. Say why
		// it failed last, and when it may be tried again.
		ae := classify(backoff.Last, settings)
		ae.Detail += fmt.Sprintf(" (it failed %d times in a row; the next start is allowed in %s)",
			backoff.Failures, backoff.Wait.Round(time.Second))
		ae.Err = err
		return ae
	}
	msg := err.Error()
	switch {
	case errors.Is(err, host.ErrPoolFull):
		return &ActivationError{Reason: ReasonStart, Err: err,
			Detail: "this server runs as many plugin processes as it may, all busy: try again shortly"}
	case errors.Is(err, host.ErrChecksum):
		return &ActivationError{Reason: ReasonChecksum, Err: err,
			Detail: "the executable's bytes do not match its sha256; upload it again"}
	case errors.Is(err, sdk.ErrInvalidSettings):
		return &ActivationError{Reason: ReasonSettings, Err: err,
			Detail: "the plugin refused the environment's settings: " + clip(redact(pluginMessage(err, sdk.ErrInvalidSettings.Error()+":"), settings))}
	case strings.Contains(msg, "speaks protocol"):
		return &ActivationError{Reason: ReasonProtocol, Err: err,
			Detail: fmt.Sprintf("the plugin does not speak protocol %d", sdk.ProtocolVersion)}
	case strings.Contains(msg, "exec format error"):
		return &ActivationError{Reason: ReasonPlatform, Err: err,
			Detail: "the executable cannot run on this host (exec format error): check its os and arch"}
	case strings.Contains(msg, "Unrecognized remote plugin message: \n"), strings.HasSuffix(msg, "Unrecognized remote plugin message: "):
		// Nothing on stdout: the process ended before saying anything.
		return &ActivationError{Reason: ReasonCrashed, Err: err,
			Detail: "the program exited while starting, before the plugin handshake: is it a plugin built with partnerhub's plugins/sdk? Run it under the sdk's test harness to see why"}
	case strings.Contains(msg, "Unrecognized remote plugin message"), strings.Contains(msg, "Incompatible API version"),
		strings.Contains(msg, "magic cookie"):
		return &ActivationError{Reason: ReasonHandshake, Err: err,
			Detail: "the program did not complete the plugin handshake: is it built with partnerhub's plugins/sdk and calling sdk.Serve?"}
	case strings.Contains(msg, "exited before we could connect"), strings.Contains(msg, "plugin exited"), errors.Is(err, host.ErrCrashed):
		return &ActivationError{Reason: ReasonCrashed, Err: err,
			Detail: "the plugin exited while starting, before the handshake: run it under sdk's test harness to see why"}
	case strings.Contains(msg, "timeout while waiting"), errors.Is(err, context.DeadlineExceeded), errors.Is(err, host.ErrTimeout):
		return &ActivationError{Reason: ReasonTimeout, Err: err,
			Detail: "the plugin did not complete its start in time"}
	case strings.Contains(msg, "configure"):
		return &ActivationError{Reason: ReasonSettings, Err: err,
			Detail: "the plugin's Configure failed: " + clip(redact(pluginMessage(err, "configure:"), settings))}
	}
	return &ActivationError{Reason: ReasonStart, Err: err, Detail: "the plugin could not be started"}
}

// pluginMessage is the plugin's own words in err: the text after the last
// marker (the operation or sentinel the host wrapped it in), without the
// host's wrapping, which names partner, environment and paths.
func pluginMessage(err error, marker string) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, marker); i >= 0 {
		return strings.TrimSpace(msg[i+len(marker):])
	}
	return "(no message)"
}

// Redact makes a plugin's or the host's error text fit for tenants, logs
// and storage: the environment's settings values replaced and the text
// clipped to 500 bytes. Jobs use it for what they record about a call.
func Redact(msg string, settings map[string]string) string { return clip(redact(msg, settings)) }

// StartFailure says, for the tenant, why the host could not give a running
// plugin: classify's fixed sentences, settings redacted, no host paths.
func StartFailure(err error, settings map[string]string) string {
	return classify(err, settings).Detail
}

func clip(s string) string {
	const max = 500
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
