// Package plugins keeps the fulfilment plugins tenants run: their
// executables, content-addressed by sha256 in Postgres so every node can
// fetch the same bytes; per-environment plugin settings, sealed at rest;
// and activation, which starts a plugin through the host and switches an
// environment to it only once it answered. The protocol (proto), the
// authors' SDK (sdk), the process host (host) and example plugins
// (examples) live below it.
//
// The package knows tenants only by id and partnerCode: the api package
// orchestrates tenant checks, and injects what must happen in the tenant's
// transaction (switching the active plugin, the audit log).
package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/seal"
)

// ErrNotFound means no such plugin (or blob) exists for the tenant.
var ErrNotFound = errors.New("plugins: not found")

// ErrConflict means the tenant already has that name and version with other bytes.
var ErrConflict = errors.New("plugins: name and version already used for a different binary")

// DefaultMaxSize is the upload limit when WithMaxSize is not given
// (PARTNERHUB_PLUGIN_MAX_SIZE).
const DefaultMaxSize = 64 << 20

// storeSlots bounds uploads holding their executable in memory while it is
// written to Postgres (pgx sends a bytea whole): at most this many times the
// size limit.
const storeSlots = 2

// Plugin is one uploaded executable of a tenant.
type Plugin struct {
	ID        int64
	TenantID  int64
	Name      string
	Version   string
	SHA256    string
	Size      int64
	OS        string
	Arch      string
	CreatedAt time.Time
	// ActiveIn lists the environments this plugin is active in.
	ActiveIn []string
}

// Auditor writes the audit log inside the caller's transaction
// (*tenant.Service). Details never carry a secret.
type Auditor interface {
	AuditTx(ctx context.Context, tx pgx.Tx, action string, tenantID int64, target string, details map[string]any) error
}

// Registry stores plugin executables, their metadata, settings and
// activations.
type Registry struct {
	pool    *pgxpool.Pool
	box     *seal.Box
	audit   Auditor
	maxSize int64
	tmpDir  string
	log     *slog.Logger
	store   chan struct{} // storeSlots
	quota   Quota         // per-tenant upload limits (upload.go)
}

// Option configures a Registry.
type Option func(*Registry)

// WithSealer seals plugin settings at rest; without it settings cannot be
// set (ErrNoSealer) and every environment's settings are empty.
func WithSealer(box *seal.Box) Option { return func(r *Registry) { r.box = box } }

// WithAuditor records uploads, deletions and settings changes in the audit log.
func WithAuditor(a Auditor) Option { return func(r *Registry) { r.audit = a } }

// WithMaxSize sets the largest executable an upload may send (DefaultMaxSize).
func WithMaxSize(n int64) Option {
	return func(r *Registry) {
		if n > 0 {
			r.maxSize = n
		}
	}
}

// WithTempDir is where uploads are spooled while they are hashed (os.TempDir()).
func WithTempDir(dir string) Option { return func(r *Registry) { r.tmpDir = dir } }

// WithLogger sets the logger (discarded by default).
func WithLogger(l *slog.Logger) Option {
	return func(r *Registry) {
		if l != nil {
			r.log = l
		}
	}
}

// NewRegistry returns a Registry over pool.
func NewRegistry(pool *pgxpool.Pool, opts ...Option) *Registry {
	r := &Registry{pool: pool, maxSize: DefaultMaxSize, log: slog.New(slog.DiscardHandler), store: make(chan struct{}, storeSlots)}
	for _, o := range opts {
		o(r)
	}
	if r.tmpDir == "" {
		r.tmpDir = os.TempDir()
	}
	return r
}

// MaxSize is the largest executable an upload may send.
func (r *Registry) MaxSize() int64 { return r.maxSize }

// RegisterParams describe an executable being added.
type RegisterParams struct {
	TenantID int64
	Name     string
	Version  string
	OS       string
	Arch     string
	Binary   []byte
}

// Register stores an executable for a tenant. Registering the same bytes
// under the same name and version again returns the existing plugin. It
// skips the upload checks (dev mode and tests seed with it).
func (r *Registry) Register(ctx context.Context, p RegisterParams) (Plugin, error) {
	var out Plugin
	err := db.InTx(ctx, r.pool, func(tx pgx.Tx) error {
		var err error
		out, err = r.RegisterTx(ctx, tx, p)
		return err
	})
	return out, err
}

// RegisterTx is Register inside the caller's transaction.
func (r *Registry) RegisterTx(ctx context.Context, tx pgx.Tx, p RegisterParams) (Plugin, error) {
	sum := hexSHA256(p.Binary)
	if err := insertBlob(ctx, tx, sum, p.Binary); err != nil {
		return Plugin{}, err
	}
	pl, _, err := insertPlugin(ctx, tx, UploadParams{TenantID: p.TenantID, Name: p.Name, Version: p.Version, OS: p.OS, Arch: p.Arch}, sum)
	return pl, err
}

// Get returns a tenant's plugin by id.
func (r *Registry) Get(ctx context.Context, tenantID, id int64) (Plugin, error) {
	return pluginByID(ctx, r.pool, tenantID, id)
}

// Blob returns the executable with the given hex sha256; the host fetches
// binaries through it and verifies the checksum again before running one.
func (r *Registry) Blob(ctx context.Context, sha string) ([]byte, error) {
	return blob(ctx, r.pool, sha)
}

// WriteBlob streams the executable with the given hex sha256 into w in
// pieces of a few MiB (host.BlobWriter): the host caches binaries through
// it without holding one whole in memory.
func (r *Registry) WriteBlob(ctx context.Context, sha string, w io.Writer) (int64, error) {
	size, err := blobLen(ctx, r.pool, sha)
	if err != nil {
		return 0, err
	}
	var written int64
	for written < size {
		part, err := blobPart(ctx, r.pool, sha, written, min(blobChunk, size-written))
		if err != nil {
			return written, err
		}
		if len(part) == 0 {
			return written, fmt.Errorf("plugin binary %s ended after %d of %d bytes", sha, written, size)
		}
		n, err := w.Write(part)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
