package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// probeDirName is where probes get their working directories, under
// WorkDir. A partner code cannot start with a dot, so it never collides.
const probeDirName = ".probe"

// Probe checks a candidate version: it starts key's plugin in a process of
// its own, outside the pool's slot for the tenant environment (the process
// serving traffic there, if any, is not touched), completes the handshake,
// Describe (protocol version included) and Configure with key.Settings,
// then kills it and returns what Describe said. The process counts against
// MaxProcesses while it runs, runs as the environment's plugin user and in
// an empty temporary working directory, removed afterwards: a candidate
// never sees, let alone changes, the live version's data.
//
// Errors are Get's: ErrStart (sdk.ErrInvalidSettings for refused settings),
// ErrChecksum, ErrPoolFull, ErrInvalidKey, ErrClosed. A failed probe does not
// count towards the restart backoff of the live version.
func (h *Host) Probe(ctx context.Context, key Key) (sdk.Description, error) {
	if err := key.validate(); err != nil {
		return sdk.Description{}, err
	}
	id, err := h.sandbox.identFor(key)
	if err != nil {
		return sdk.Description{}, err
	}
	h.mu.Lock()
	if h.closed.Load() {
		h.mu.Unlock()
		return sdk.Description{}, ErrClosed
	}
	h.bg.Add(1) // Close waits for the probe; closed is false under mu
	h.mu.Unlock()
	defer h.bg.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(h.closing, cancel)()
	closedErr := func(err error) error {
		if h.closed.Load() {
			return ErrClosed
		}
		return err
	}

	bin, err := h.binary(ctx, key.SHA256)
	if err != nil {
		return sdk.Description{}, closedErr(err)
	}
	defer h.unpin(key.SHA256)
	dir, err := h.probeDir(key, id)
	if err != nil {
		return sdk.Description{}, fmt.Errorf("%w: %w", ErrStart, err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			h.log.WarnContext(ctx, "probe working directory not removed", "dir", dir, "err", err)
		}
	}()
	if err := h.reserve(ctx); err != nil {
		return sdk.Description{}, err
	}
	defer func() {
		h.mu.Lock()
		h.live--
		h.broadcastLocked()
		h.mu.Unlock()
	}()

	began := time.Now()
	inst, err := h.start(ctx, key, bin, dir, id)
	if err != nil {
		return sdk.Description{}, closedErr(err)
	}
	// Kill waits for the process to exit; the runner kills its group.
	inst.client.Kill()
	<-inst.runner.exited
	h.log.InfoContext(ctx, "plugin probed", "partner_code", key.PartnerCode, "env", key.Env, "sha256", key.SHA256,
		"pid", inst.pid, "took", time.Since(began))
	return inst.desc, nil
}

// probeDir makes an empty working directory for one probe of key, private
// to id.
func (h *Host) probeDir(key Key, id ident) (string, error) {
	parent := filepath.Join(h.cfg.WorkDir, probeDirName)
	if err := makeDir(parent, 0o711); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, key.PartnerCode+"-"+key.Env+"-*")
	if err != nil {
		return "", err
	}
	if err := h.sandbox.own(dir, id); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("probe dir %s: %w", dir, err)
	}
	return dir, nil
}
