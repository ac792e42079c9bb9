package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// busyRetries bounds retries of ETXTBSY: a child forked concurrently by
// another goroutine can briefly hold the just-written binary open (a known
// Go fork/exec race), which makes exec fail although nothing is wrong.
const busyRetries = 5

// start verifies the cached binary bin, then starts, describes and
// configures the plugin for key in dir, as id. On error nothing is left
// running.
func (h *Host) start(ctx context.Context, key Key, bin, dir string, id ident) (*instance, error) {
	log := h.log.With("partner_code", key.PartnerCode, "env", key.Env, "sha256", key.SHA256)
	began := time.Now()
	var err error
	var c *plugin.Client
	var r *procRunner
	var rpc plugin.ClientProtocol
	for attempt := 0; ; attempt++ {
		// Verified right before exec: the cache could have been changed
		// since the file was written.
		if err := verifyFile(bin, key.SHA256); err != nil {
			_ = os.Remove(bin)
			log.ErrorContext(ctx, "cached plugin binary does not match its sha256; removed", "path", bin, "err", err)
			return nil, fmt.Errorf("%w: cached %s: %w", ErrChecksum, bin, err)
		}
		r = nil
		// go-plugin re-logs the plugin's stderr: its settings are redacted there.
		c = plugin.NewClient(h.clientConfig(bin, dir, id, redactingLogger(log, key.Settings), &r))
		rpc, err = c.Client()
		if err == nil {
			break
		}
		c.Kill()
		if isBusy(err) && attempt < busyRetries {
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
			continue
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, key.SHA256, err)
	}

	inst, err := h.handshake(ctx, key, c, rpc)
	if err != nil {
		c.Kill()
		return nil, err
	}
	inst.runner = r
	inst.pid = r.pid
	log.InfoContext(ctx, "plugin started", "pid", inst.pid, "user", id.String(), "name", inst.desc.Name, "version", inst.desc.Version,
		"took", time.Since(began))
	return inst, nil
}

// handshake dispenses the plugin, checks its protocol and configures it.
func (h *Host) handshake(ctx context.Context, key Key, c *plugin.Client, rpc plugin.ClientProtocol) (*instance, error) {
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, fmt.Errorf("%w: dispense: %w", ErrStart, err)
	}
	p, ok := raw.(sdk.Plugin)
	if !ok {
		return nil, fmt.Errorf("%w: dispensed %T, not an sdk.Plugin", ErrStart, raw)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	desc, err := p.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: describe: %w", ErrStart, err)
	}
	if desc.ProtocolVersion != sdk.ProtocolVersion {
		return nil, fmt.Errorf("%w: plugin %q speaks protocol %d, want %d",
			ErrStart, desc.Name, desc.ProtocolVersion, sdk.ProtocolVersion)
	}
	settings := maps.Clone(key.Settings)
	if err := p.Configure(ctx, sdk.ConfigureRequest{
		Settings:    maps.Clone(settings), // the plugin's copy; ours stays intact
		PartnerCode: key.PartnerCode,
		Environment: key.Env,
	}); err != nil {
		return nil, fmt.Errorf("%w: configure: %w", ErrStart, err)
	}
	key.Settings = settings
	return &instance{
		key: key, client: c, plugin: p, desc: desc,
		calls:  make(chan struct{}, h.cfg.MaxCalls),
		reaped: make(chan struct{}),
	}, nil
}

// clientConfig starts bin through a procRunner (stored in *r) as id, so
// the sandbox applies. go-plugin's own checksum check needs its default
// runner, hence verifyFile.
func (h *Host) clientConfig(bin, dir string, id ident, log *slog.Logger, r **procRunner) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginMap(nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     h.cfg.StartTimeout,
		Logger:           newHCLogger(log),
		GRPCDialOptions:  dialOptions(), // tracing (trace.go)
		RunnerFunc: runnerFunc(func(cmd *exec.Cmd, socketDir string) (runner.Runner, error) {
			// go-plugin made socketDir (0700) for the plugin's Unix socket.
			if err := h.sandbox.own(socketDir, id); err != nil {
				return nil, fmt.Errorf("socket dir: %w", err)
			}
			run, err := newRunner(h.sandbox, id, bin, dir, cmd.Env)
			if err != nil {
				return nil, err
			}
			*r = run
			return run, nil
		}),
	}
}

// verifyFile checks that path's bytes hash to sha (hex).
func verifyFile(path, sha string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != sha {
		return fmt.Errorf("file hashes to %s", got)
	}
	return nil
}

// workDir creates WorkDir/<partnerCode>/<env>, private to id. A directory
// another plugin user owned (before per-tenant users, say) is handed over
// with what is inside.
func (h *Host) workDir(key Key, id ident) (string, error) {
	parent := filepath.Join(h.cfg.WorkDir, key.PartnerCode)
	if err := makeDir(parent, 0o711); err != nil {
		return "", err
	}
	dir := filepath.Join(parent, key.Env)
	if err := makeDir(dir, 0o700); err != nil {
		return "", err
	}
	if ownedBy(dir, id) {
		return dir, nil
	}
	if err := h.sandbox.own(dir, id); err != nil {
		return "", fmt.Errorf("work dir %s: %w", dir, err)
	}
	skipped, err := h.sandbox.adopt(dir, id)
	if err != nil {
		return "", fmt.Errorf("work dir %s: hand over to %s: %w", dir, id, err)
	}
	h.log.Info("plugin working directory handed to its user", "partner_code", key.PartnerCode, "env", key.Env,
		"user", id.String(), "left_alone", skipped)
	return dir, nil
}

// makeDir creates dir if missing and sets perm either way (MkdirAll alone
// would leave an existing directory's mode, and the umask, in charge).
func makeDir(dir string, perm os.FileMode) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, perm); err != nil {
			return err
		}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	return os.Chmod(dir, perm)
}
