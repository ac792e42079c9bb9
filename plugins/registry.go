// Package plugins keeps the fulfilment plugins tenants run: their
// executables, content-addressed by sha256 in Postgres so every node can
// fetch the same bytes. The protocol (proto), the authors' SDK (sdk), the
// process host (host) and example plugins (examples) live below it.
package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerhub/partnerhub/internal/db"
)

// ErrNotFound means no such plugin (or blob) exists for the tenant.
var ErrNotFound = errors.New("plugins: not found")

// ErrConflict means the tenant already has that name and version with other bytes.
var ErrConflict = errors.New("plugins: name and version already used for a different binary")

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
}

// Registry stores plugin executables and their metadata.
type Registry struct{ pool *pgxpool.Pool }

// NewRegistry returns a Registry over pool.
func NewRegistry(pool *pgxpool.Pool) *Registry { return &Registry{pool: pool} }

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
// under the same name and version again returns the existing plugin.
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
	sum := sha256.Sum256(p.Binary)
	hexSum := hex.EncodeToString(sum[:])
	if _, err := tx.Exec(ctx, `INSERT INTO plugin_blobs (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING`,
		hexSum, len(p.Binary), p.Binary); err != nil {
		return Plugin{}, fmt.Errorf("store plugin binary: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO plugins (tenant_id, name, version, sha256, os, arch) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, name, version) DO NOTHING`, p.TenantID, p.Name, p.Version, hexSum, p.OS, p.Arch); err != nil {
		return Plugin{}, fmt.Errorf("store plugin: %w", err)
	}
	pl, err := r.byNameVersion(ctx, tx, p.TenantID, p.Name, p.Version)
	if err != nil {
		return pl, err
	}
	if pl.SHA256 != hexSum {
		return Plugin{}, fmt.Errorf("%w: %s %s", ErrConflict, p.Name, p.Version)
	}
	return pl, nil
}

const pluginColumns = `p.id, p.tenant_id, p.name, p.version, p.sha256, b.size, p.os, p.arch, p.created_at`

func scanPlugin(row pgx.Row) (Plugin, error) {
	var p Plugin
	err := row.Scan(&p.ID, &p.TenantID, &p.Name, &p.Version, &p.SHA256, &p.Size, &p.OS, &p.Arch, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("scan plugin: %w", err)
	}
	return p, nil
}

func (r *Registry) byNameVersion(ctx context.Context, q db.Querier, tenantID int64, name, version string) (Plugin, error) {
	return scanPlugin(q.QueryRow(ctx, `SELECT `+pluginColumns+` FROM plugins p JOIN plugin_blobs b USING (sha256)
		WHERE p.tenant_id = $1 AND p.name = $2 AND p.version = $3`, tenantID, name, version))
}

// Get returns a tenant's plugin by id.
func (r *Registry) Get(ctx context.Context, tenantID, id int64) (Plugin, error) {
	return scanPlugin(r.pool.QueryRow(ctx, `SELECT `+pluginColumns+` FROM plugins p JOIN plugin_blobs b USING (sha256)
		WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, id))
}

// Blob returns the executable with the given hex sha256; the host fetches
// binaries through it and verifies the checksum again before running one.
func (r *Registry) Blob(ctx context.Context, sha string) ([]byte, error) {
	var data []byte
	err := r.pool.QueryRow(ctx, `SELECT data FROM plugin_blobs WHERE sha256 = $1`, sha).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("fetch plugin binary: %w", err)
	}
	return data, nil
}
